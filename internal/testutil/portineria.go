package testutil

import (
	"net/http"
	"testing"
)

// Association creates an association coordinated by coord and returns its id.
func (s *Server) Association(tb testing.TB, coord *User, name string, feeCents int64) string {
	tb.Helper()
	var out struct {
		ID string `json:"id"`
	}
	s.Do(tb, "POST", "/associations", map[string]any{"name": name, "area": "Bolognina", "yearly_fee_cents": feeCents,
		"desk": map[string]string{"address": "Via Tibaldi 17", "hours": "mar e gio 10-12", "phone": "051 123456"}},
		coord.Token).Expect(tb, http.StatusCreated).JSON(tb, &out)
	return out.ID
}

// Volunteer adds v to the association's staff with role (coordinator or
// volunteer): coord invites v's email (202) and v accepts.
func (s *Server) Volunteer(tb testing.TB, coord *User, aid string, v *User, role string) {
	tb.Helper()
	var out struct {
		Invitation struct {
			ID string `json:"id"`
		} `json:"invitation"`
	}
	s.Do(tb, "POST", "/associations/"+aid+"/volunteers", map[string]string{"email": v.Email, "role": role},
		coord.Token).Expect(tb, http.StatusAccepted).JSON(tb, &out)
	s.Do(tb, "POST", "/invitations/"+out.Invitation.ID+"/accept", nil, v.Token).Expect(tb, http.StatusOK)
}

// RosterMember is a member as the roster answers it.
type RosterMember struct {
	ID        string   `json:"id"`
	Number    int64    `json:"number"`
	FullName  string   `json:"full_name"`
	Phone     string   `json:"phone"`
	Email     string   `json:"email"`
	Skills    []string `json:"skills"`
	UserID    string   `json:"user_id"`
	Status    string   `json:"status"`
	PaidCents int64    `json:"paid_cents"`
}

// Member adds a member to the roster as the staff user with token.
func (s *Server) Member(tb testing.TB, token, aid string, body map[string]any) RosterMember {
	tb.Helper()
	var m RosterMember
	s.Do(tb, "POST", "/associations/"+aid+"/members", body, token).Expect(tb, http.StatusCreated).JSON(tb, &m)
	return m
}

// LedgerEntry is a ledger entry as the API answers it.
type LedgerEntry struct {
	ID          string `json:"id"`
	MemberID    string `json:"member_id"`
	Type        string `json:"type"`
	AmountCents int64  `json:"amount_cents"`
	Year        int    `json:"year"`
	Reverses    string `json:"reverses"`
	ReversedBy  string `json:"reversed_by"`
	RecordedBy  string `json:"recorded_by"`
}

// Pay records a ledger entry with a fresh idempotency key and expects 201.
func (s *Server) Pay(tb testing.TB, token, aid, memberID, typ string, cents int64, year int) LedgerEntry {
	tb.Helper()
	var e LedgerEntry
	s.Do(tb, "POST", "/associations/"+aid+"/ledger", map[string]any{"member_id": memberID, "type": typ,
		"amount_cents": cents, "year": year, "method": "cash", "idempotency_key": "k-" + RandomHex(8)},
		token).Expect(tb, http.StatusCreated).JSON(tb, &e)
	return e
}
