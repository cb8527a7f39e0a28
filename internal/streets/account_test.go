package streets_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"civico/internal/auth"
	"civico/internal/events"
	"civico/internal/pseudonym"
	"civico/internal/streets"
)

// auditAll reads the street's whole audit log as admin.
func (e *env) auditAll(admin auth.Principal, sid string) []streets.AuditEntry {
	e.t.Helper()
	var out []streets.AuditEntry
	cursor := ""
	for range 100 {
		page, next, err := e.Streets.Audit(e.Ctx, admin, sid, cursor, 100)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, page...)
		if next == "" {
			return out
		}
		cursor = next
	}
	e.t.Fatal("audit log does not end")
	return nil
}

// members lists the street's active members as u sees them.
func (e *env) members(u auth.Principal, sid string) []streets.Member {
	e.t.Helper()
	ms, _, err := e.Streets.Members(e.Ctx, u, sid, streets.StatusActive, "", 100)
	if err != nil {
		e.t.Fatal(err)
	}
	return ms
}

func TestEraseLastAdminHandsStreetToFirstJoined(t *testing.T) {
	e := newEnv(t)
	anna, bruno, carla, dario := e.User("Anna Cancellanda"), e.User("Bruno"), e.User("Carla"), e.User("Dario")
	sid := e.NamedStreet(anna, "Via Fondazza")
	e.Clock.Advance(time.Hour)
	e.Join(anna, bruno, sid)
	e.Clock.Advance(time.Hour)
	e.Join(anna, carla, sid)
	e.request(dario, sid, "Abito al 12")
	// Anna's decisions are in the log: a ban of Dario, by name.
	if _, err := e.Streets.Ban(e.Ctx, anna, sid, dario.UserID, "spam"); err != nil {
		t.Fatal(err)
	}
	// Bruno joined before Carla: he is the one to take over.
	alias := pseudonym.With("test-key", anna.UserID)

	if err := e.Streets.Erase(e.Ctx, anna.UserID, alias); err != nil {
		t.Fatal(err)
	}

	for _, restarted := range []bool{false, true} {
		if restarted {
			e.Restart()
		}
		admins, err := e.Streets.AdminIDs(e.Ctx, sid)
		if err != nil || len(admins) != 1 || admins[0] != bruno.UserID {
			t.Fatalf("restarted=%v: admins %v, %v; want Bruno", restarted, admins, err)
		}
		ms := e.members(carla, sid)
		if len(ms) != 2 {
			t.Fatalf("restarted=%v: members %+v, want Bruno and Carla", restarted, ms)
		}
		for _, m := range ms {
			if m.UserID == anna.UserID || strings.Contains(m.Name, "Anna") {
				t.Fatalf("restarted=%v: Anna still listed: %+v", restarted, m)
			}
		}
		if v, _ := e.Streets.Get(e.Ctx, carla, sid); v.MemberCount != 2 {
			t.Fatalf("restarted=%v: member count %d, want 2", restarted, v.MemberCount)
		}
		if _, err := e.Streets.Membership(e.Ctx, sid, anna.UserID); !errors.Is(err, streets.ErrMemberNotFound) {
			t.Fatalf("restarted=%v: Anna's membership: %v", restarted, err)
		}
		log := e.auditAll(bruno, sid)
		promoted := false
		for _, a := range log {
			raw, _ := json.Marshal(a)
			if strings.Contains(string(raw), anna.UserID) || strings.Contains(string(raw), "Anna") {
				t.Fatalf("restarted=%v: audit entry names Anna: %s", restarted, raw)
			}
			if a.Action == streets.ActionMemberRole && a.TargetID == bruno.UserID && a.Detail == streets.RoleAdmin {
				promoted = a.Reason == streets.ReasonAccountDeleted && a.ActorID == alias && a.ActorName == ""
			}
		}
		if !promoted {
			t.Fatalf("restarted=%v: no promotion of Bruno in the log: %+v", restarted, log)
		}
		// The ban is still there, now by the pseudonym.
		banned := false
		for _, a := range log {
			banned = banned || (a.Action == streets.ActionMemberBan && a.ActorID == alias && a.TargetID == dario.UserID)
		}
		if !banned {
			t.Fatalf("restarted=%v: Anna's ban of Dario is gone from the log: %+v", restarted, log)
		}
	}
	left := e.Published(events.MemberLeft)
	if len(left) != 1 || left[0].SubjectID != anna.UserID || strings.Contains(string(left[0].Payload), "Anna") {
		t.Fatalf("member.left events %+v, want one about Anna with no name", left)
	}
	// Bruno, the new admin, can do what admins do.
	if _, err := e.Streets.CreateInvite(e.Ctx, bruno, sid, streets.InviteOptions{}); err != nil {
		t.Fatalf("new admin cannot invite: %v", err)
	}
}

func TestEraseLastMemberArchivesStreet(t *testing.T) {
	e := newEnv(t)
	anna, bruno := e.User("Anna"), e.User("Bruno")
	alone := e.NamedStreet(anna, "Vicolo Solitario")
	shared := e.NamedStreet(bruno, "Via Condivisa", anna)
	e.request(bruno, alone, "")

	if err := e.Streets.Erase(e.Ctx, anna.UserID, pseudonym.With("k", anna.UserID)); err != nil {
		t.Fatal(err)
	}
	for _, restarted := range []bool{false, true} {
		if restarted {
			e.Restart()
		}
		dir, _, err := e.Streets.Directory(e.Ctx, "", "", "", 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(dir) != 1 || dir[0].ID != shared || dir[0].MemberCount != 1 {
			t.Fatalf("restarted=%v: directory %+v, want only Via Condivisa with one member", restarted, dir)
		}
		if _, err := e.Streets.Get(e.Ctx, bruno, alone); !errors.Is(err, streets.ErrStreetNotFound) {
			t.Fatalf("restarted=%v: archived street: %v", restarted, err)
		}
		mine, err := e.Streets.UserStreets(e.Ctx, bruno.UserID)
		if err != nil || len(mine) != 1 || mine[0].StreetID != shared {
			t.Fatalf("restarted=%v: Bruno's streets %+v, %v: the pending request to the archived street should be gone", restarted, mine, err)
		}
	}
}

func TestExportListsMemberships(t *testing.T) {
	e := newEnv(t)
	anna, bruno := e.User("Anna"), e.User("Bruno")
	mine := e.NamedStreet(anna, "Via Mascarella")
	other := e.NamedStreet(bruno, "Via Petroni")
	e.request(anna, other, "Posso entrare?")

	v, err := e.Streets.Export(e.Ctx, anna.UserID)
	if err != nil {
		t.Fatal(err)
	}
	got := v.(streets.AccountData).Memberships
	if len(got) != 2 {
		t.Fatalf("memberships %+v", got)
	}
	byStreet := map[string]streets.MyMembership{}
	for _, m := range got {
		byStreet[m.StreetID] = m
	}
	if m := byStreet[mine]; m.StreetName != "Via Mascarella" || m.Role != streets.RoleAdmin || m.Status != streets.StatusActive || m.JoinedAt == nil {
		t.Fatalf("own street %+v", m)
	}
	if m := byStreet[other]; m.StreetName != "Via Petroni" || m.Status != streets.StatusPending || m.Message != "Posso entrare?" || m.RequestedAt == nil {
		t.Fatalf("pending street %+v", m)
	}
}
