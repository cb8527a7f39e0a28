package portineria_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"civico/internal/auth"
	"civico/internal/fault"
	"civico/internal/portineria"
)

// isStaff says whether who is on aid's staff, as they would find out.
func (e *env) isStaff(t *testing.T, who person, aid string) bool {
	t.Helper()
	mine, err := e.svc.MyAssociations(ctx, who.p.UserID)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mine {
		if m.ID == aid && (m.Role == string(portineria.Coordinator) || m.Role == string(portineria.Volunteer)) {
			return true
		}
	}
	return false
}

// TestInvitationAnswerIsTheSameForAnyAddress: inviting an address with an
// account, one without, or one typed in capitals answers the same shape
// with nothing of the account; a repeat answers the same invitation.
func TestInvitationAnswerIsTheSameForAnyAddress(t *testing.T) {
	e := setup(t)
	anna, bruno := e.user(t, "Anna Rossi"), e.user(t, "Bruno Verdi")
	a := e.association(t, anna, 500)
	m := e.member(t, anna, a.ID, "Maria Bianchi")

	for _, tc := range []struct {
		name, email, want string
	}{
		{"account", bruno.email, bruno.email},
		{"no account", "nobody@example.org", "nobody@example.org"},
		{"capitals", " NESSUNO@Example.ORG ", "nessuno@example.org"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for kind, send := range map[string]func() (portineria.Invitation, error){
				portineria.KindStaff: func() (portineria.Invitation, error) {
					return e.svc.InviteVolunteer(ctx, anna.p, a.ID, tc.email, portineria.Volunteer)
				},
				portineria.KindMember: func() (portineria.Invitation, error) {
					return e.svc.InviteMember(ctx, anna.p, a.ID, m.ID, tc.email)
				},
			} {
				inv, err := send()
				if err != nil {
					t.Fatal(err)
				}
				want := portineria.Invitation{ID: inv.ID, Kind: kind, Email: tc.want, Status: portineria.InvitationPending,
					CreatedAt: inv.CreatedAt, ExpiresAt: inv.CreatedAt.Add(portineria.DefaultInvitationTTL)}
				if kind == portineria.KindStaff {
					want.Role = portineria.Volunteer
				} else {
					want.MemberID = m.ID
				}
				if inv != want {
					t.Fatalf("%s invitation\n got %+v\nwant %+v", kind, inv, want)
				}
				again, err := send()
				if err != nil || again != inv {
					t.Fatalf("%s repeat\n got %+v %v\nwant %+v", kind, again, err, inv)
				}
			}
		})
	}
	// Sent again with another role, the staff invitation keeps its id and takes the role.
	first, _ := e.svc.InviteVolunteer(ctx, anna.p, a.ID, bruno.email, portineria.Volunteer)
	upgraded, err := e.svc.InviteVolunteer(ctx, anna.p, a.ID, bruno.email, portineria.Coordinator)
	if err != nil || upgraded.ID != first.ID || upgraded.Role != portineria.Coordinator {
		t.Fatalf("new role %+v %v", upgraded, err)
	}
	// Nothing was linked or added meanwhile.
	if e.isStaff(t, bruno, a.ID) {
		t.Fatal("bruno is staff without accepting")
	}
	if got, _ := e.svc.GetMember(ctx, anna.p, a.ID, m.ID, 0); got.UserID != "" || got.Invitation == nil || got.Invitation.Email != "nessuno@example.org" {
		t.Fatalf("card %+v", got)
	}
}

// TestNobodyJoinsTheStaffBeforeAccepting: the invitee sees the invitation
// under their own account, the association sees only the address; accepting
// puts them on the staff with the invitation's role and their name.
func TestNobodyJoinsTheStaffBeforeAccepting(t *testing.T) {
	e := setup(t)
	anna, bruno := e.user(t, "Anna Rossi"), e.user(t, "Bruno Verdi")
	a := e.association(t, anna, 500)
	inv, err := e.svc.InviteVolunteer(ctx, anna.p, a.ID, bruno.email, portineria.Coordinator)
	if err != nil {
		t.Fatal(err)
	}
	if e.isStaff(t, bruno, a.ID) {
		t.Fatal("bruno is staff before accepting")
	}
	_, err = e.svc.Staff(ctx, bruno.p, a.ID)
	wantErr(t, err, portineria.ErrAssociationNotFound)
	staff, _ := e.svc.Staff(ctx, anna.p, a.ID)
	if len(staff) != 1 {
		t.Fatalf("staff before accepting %+v", staff)
	}
	open, _, err := e.svc.Invitations(ctx, anna.p, a.ID, portineria.InvitationQuery{Kind: portineria.KindStaff})
	if err != nil || len(open) != 1 || open[0].ID != inv.ID || open[0].Email != bruno.email {
		t.Fatalf("association's open invitations %+v %v", open, err)
	}
	mine, next, err := e.svc.MyInvitations(ctx, bruno.p, "", 0)
	if err != nil || next != "" || len(mine) != 1 {
		t.Fatalf("bruno's invitations %+v %v", mine, err)
	}
	got := mine[0]
	if got.ID != inv.ID || got.Kind != portineria.KindStaff || got.Role != portineria.Coordinator || got.Association.ID != a.ID ||
		got.Association.Name != a.Name || got.InvitedByName != "Anna Rossi" || got.Status != portineria.InvitationPending {
		t.Fatalf("bruno's invitation %+v", got)
	}
	if others, _, _ := e.svc.MyInvitations(ctx, anna.p, "", 0); len(others) != 0 {
		t.Fatalf("anna sees bruno's invitation: %+v", others)
	}

	acc, err := e.svc.AcceptInvitation(ctx, bruno.p, inv.ID)
	if err != nil || acc.Status != portineria.InvitationAccepted {
		t.Fatalf("accept %+v %v", acc, err)
	}
	if !e.isStaff(t, bruno, a.ID) {
		t.Fatal("bruno is not staff after accepting")
	}
	staff, _ = e.svc.Staff(ctx, anna.p, a.ID)
	if len(staff) != 2 || staff[1].Name != "Bruno Verdi" || staff[1].Role != portineria.Coordinator {
		t.Fatalf("staff after accepting %+v", staff)
	}
	// Accepting again answers the same; the invitation is no longer open.
	if again, err := e.svc.AcceptInvitation(ctx, bruno.p, inv.ID); err != nil || again.Status != portineria.InvitationAccepted {
		t.Fatalf("accept again %+v %v", again, err)
	}
	_, err = e.svc.DeclineInvitation(ctx, bruno.p, inv.ID)
	wantErr(t, err, portineria.ErrInvitationAnswered)
	wantErr(t, e.svc.RevokeInvitation(ctx, anna.p, a.ID, inv.ID), portineria.ErrInvitationAnswered)
	if mine, _, _ := e.svc.MyInvitations(ctx, bruno.p, "", 0); len(mine) != 0 {
		t.Fatalf("accepted invitation still listed %+v", mine)
	}
	if open, _, _ := e.svc.Invitations(ctx, anna.p, a.ID, portineria.InvitationQuery{}); len(open) != 0 {
		t.Fatalf("accepted invitation still open %+v", open)
	}
}

// TestDeclineExpiryAndRevocationAddNobody: an invitation declined, run out
// or withdrawn cannot be accepted, leaves the invitee off the staff, and
// frees the address for a new invitation.
func TestDeclineExpiryAndRevocationAddNobody(t *testing.T) {
	for _, tc := range []struct {
		name  string
		close func(e *env, anna, bruno person, aid, iid string) error
		want  error
	}{
		{"declined", func(e *env, _, bruno person, _, iid string) error {
			inv, err := e.svc.DeclineInvitation(ctx, bruno.p, iid)
			if err == nil && inv.Status != portineria.InvitationDeclined {
				return fmt.Errorf("declined as %q", inv.Status)
			}
			return err
		}, portineria.ErrInvitationAnswered},
		{"expired", func(e *env, _, _ person, _, _ string) error {
			e.clock.Advance(portineria.DefaultInvitationTTL + time.Second)
			return nil
		}, portineria.ErrInvitationExpired},
		{"revoked", func(e *env, anna, _ person, aid, iid string) error {
			return e.svc.RevokeInvitation(ctx, anna.p, aid, iid)
		}, portineria.ErrInvitationNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := setup(t)
			anna, bruno := e.user(t, "Anna Rossi"), e.user(t, "Bruno Verdi")
			a := e.association(t, anna, 500)
			m := e.member(t, anna, a.ID, "Bruno Verdi")
			staffInv, err := e.svc.InviteVolunteer(ctx, anna.p, a.ID, bruno.email, "")
			if err != nil {
				t.Fatal(err)
			}
			cardInv, err := e.svc.InviteMember(ctx, anna.p, a.ID, m.ID, bruno.email)
			if err != nil {
				t.Fatal(err)
			}
			for _, iid := range []string{staffInv.ID, cardInv.ID} {
				if err := tc.close(e, anna, bruno, a.ID, iid); err != nil {
					t.Fatal(err)
				}
				_, err := e.svc.AcceptInvitation(ctx, bruno.p, iid)
				wantErr(t, err, tc.want)
			}
			if e.isStaff(t, bruno, a.ID) {
				t.Fatal("bruno became staff")
			}
			if got, _ := e.svc.GetMember(ctx, anna.p, a.ID, m.ID, 0); got.UserID != "" || got.Invitation != nil {
				t.Fatalf("card after %s: %+v", tc.name, got)
			}
			if mine, _, _ := e.svc.MyInvitations(ctx, bruno.p, "", 0); len(mine) != 0 {
				t.Fatalf("still listed for the invitee: %+v", mine)
			}
			if open, _, _ := e.svc.Invitations(ctx, anna.p, a.ID, portineria.InvitationQuery{}); len(open) != 0 {
				t.Fatalf("still open for the staff: %+v", open)
			}
			// The address may be invited again: a new invitation, which works.
			fresh, err := e.svc.InviteVolunteer(ctx, anna.p, a.ID, bruno.email, "")
			if err != nil || fresh.ID == staffInv.ID || fresh.Status != portineria.InvitationPending {
				t.Fatalf("new invitation %+v %v", fresh, err)
			}
			if _, err := e.svc.AcceptInvitation(ctx, bruno.p, fresh.ID); err != nil {
				t.Fatal(err)
			}
			if !e.isStaff(t, bruno, a.ID) {
				t.Fatal("the new invitation did not work")
			}
		})
	}
}

// TestOnlyTheInviteeAnswers: to anyone but the invitee an invitation does
// not exist; only the association's staff withdraws it, and bad input
// writes nothing.
func TestOnlyTheInviteeAnswers(t *testing.T) {
	e := setup(t)
	anna, bruno, carla, dario := e.user(t, "Anna Rossi"), e.user(t, "Bruno Verdi"), e.user(t, "Carla Neri"), e.user(t, "Dario Blu")
	a := e.association(t, anna, 500)
	other := e.association(t, dario, 500)
	e.volunteer(t, anna, a.ID, dario, portineria.Volunteer)
	inv, err := e.svc.InviteVolunteer(ctx, anna.p, a.ID, bruno.email, "")
	if err != nil {
		t.Fatal(err)
	}
	for name, who := range map[string]person{"resident": carla, "coordinator who invited": anna, "volunteer": dario} {
		t.Run(name, func(t *testing.T) {
			_, err := e.svc.AcceptInvitation(ctx, who.p, inv.ID)
			wantErr(t, err, portineria.ErrInvitationNotFound)
			_, err = e.svc.DeclineInvitation(ctx, who.p, inv.ID)
			wantErr(t, err, portineria.ErrInvitationNotFound)
		})
	}
	for _, id := range []string{"nothex", "0123456789abcdef01234567", a.ID} {
		_, err := e.svc.AcceptInvitation(ctx, bruno.p, id)
		wantErr(t, err, portineria.ErrInvitationNotFound)
	}
	// Staff invitations are the coordinators'; another association's staff does not find it.
	wantErr(t, e.svc.RevokeInvitation(ctx, dario.p, a.ID, inv.ID), portineria.ErrCoordinatorOnly)
	_, _, err = e.svc.Invitations(ctx, dario.p, a.ID, portineria.InvitationQuery{Kind: portineria.KindStaff})
	wantErr(t, err, portineria.ErrCoordinatorOnly)
	wantErr(t, e.svc.RevokeInvitation(ctx, dario.p, other.ID, inv.ID), portineria.ErrInvitationNotFound)
	wantErr(t, e.svc.RevokeInvitation(ctx, carla.p, a.ID, inv.ID), portineria.ErrAssociationNotFound)
	_, _, err = e.svc.Invitations(ctx, carla.p, a.ID, portineria.InvitationQuery{})
	wantErr(t, err, portineria.ErrAssociationNotFound)

	// Bad input gets its field's code and stores nothing.
	m := e.member(t, anna, a.ID, "Maria Bianchi")
	for _, tc := range []struct {
		name        string
		send        func() error
		field, code string
	}{
		{"no email", func() error { _, err := e.svc.InviteVolunteer(ctx, anna.p, a.ID, " ", ""); return err }, "email", "required"},
		{"bad email", func() error { _, err := e.svc.InviteVolunteer(ctx, anna.p, a.ID, "bruno@", ""); return err }, "email", "invalid"},
		{"bad role", func() error { _, err := e.svc.InviteVolunteer(ctx, anna.p, a.ID, carla.email, "owner"); return err }, "role", "invalid"},
		{"card, no email", func() error { _, err := e.svc.InviteMember(ctx, anna.p, a.ID, m.ID, ""); return err }, "email", "required"},
		{"card, bad email", func() error { _, err := e.svc.InviteMember(ctx, anna.p, a.ID, m.ID, "a b@c.it"); return err }, "email", "invalid"},
		{"card and id", func() error {
			_, err := e.svc.AddMember(ctx, anna.p, a.ID, portineria.NewMember{FullName: "X", UserID: bruno.p.UserID, AccountEmail: bruno.email})
			return err
		}, "account_email", "conflicts_with_user_id"},
		{"list kind", func() error {
			_, _, err := e.svc.Invitations(ctx, anna.p, a.ID, portineria.InvitationQuery{Kind: "all"})
			return err
		}, "kind", "invalid"},
	} {
		wantField(t, tc.send(), tc.field, tc.code)
	}
	_, _, err = e.svc.Invitations(ctx, anna.p, a.ID, portineria.InvitationQuery{Cursor: "%%"})
	wantErr(t, err, portineria.ErrBadCursor)
	open, _, err := e.svc.Invitations(ctx, anna.p, a.ID, portineria.InvitationQuery{})
	if err != nil || len(open) != 1 || open[0].ID != inv.ID {
		t.Fatalf("bad input stored invitations: %+v %v", open, err)
	}
	if mine, _, _ := e.svc.MyInvitations(ctx, carla.p, "", 0); len(mine) != 0 {
		t.Fatalf("refused invitation reached carla: %+v", mine)
	}
	// A volunteer sees and withdraws the cards' invitations, not the staff's.
	cardInv, err := e.svc.InviteMember(ctx, dario.p, a.ID, m.ID, carla.email)
	if err != nil {
		t.Fatal(err)
	}
	seen, _, err := e.svc.Invitations(ctx, dario.p, a.ID, portineria.InvitationQuery{})
	if err != nil || len(seen) != 1 || seen[0].ID != cardInv.ID {
		t.Fatalf("volunteer's list %+v %v", seen, err)
	}
	if err := e.svc.RevokeInvitation(ctx, dario.p, a.ID, cardInv.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RevokeInvitation(ctx, dario.p, a.ID, cardInv.ID); err != nil {
		t.Fatalf("withdrawing twice: %v", err)
	}
}

// TestConcurrentAcceptsMakeOneStaffEntry: many accepts of one invitation at
// once (two tabs, a double tap, a retry) all succeed and add one staffer;
// many sends of one address at once make one invitation.
func TestConcurrentAcceptsMakeOneStaffEntry(t *testing.T) {
	e := setup(t)
	anna, bruno, maria := e.user(t, "Anna Rossi"), e.user(t, "Bruno Verdi"), e.user(t, "Maria Bianchi")
	a := e.association(t, anna, 500)
	m := e.member(t, anna, a.ID, "Maria Bianchi")

	const n = 12
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			inv, err := e.svc.InviteVolunteer(ctx, anna.p, a.ID, bruno.email, "")
			if err != nil {
				t.Error(err)
			}
			ids[i] = inv.ID
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("concurrent sends made several invitations: %v", ids)
		}
	}
	cardInv, err := e.svc.InviteMember(ctx, anna.p, a.ID, m.ID, maria.email)
	if err != nil {
		t.Fatal(err)
	}

	errs := make([]error, 2*n)
	for i := range 2 * n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				_, errs[i] = e.svc.AcceptInvitation(ctx, bruno.p, ids[0])
			} else {
				_, errs[i] = e.svc.AcceptInvitation(ctx, maria.p, cardInv.ID)
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil && !errors.Is(err, portineria.ErrBusy) {
			t.Fatalf("accept %d: %v", i, err)
		}
	}
	staff, err := e.svc.Staff(ctx, anna.p, a.ID)
	if err != nil || len(staff) != 2 || staff[1].UserID != bruno.p.UserID {
		t.Fatalf("staff after concurrent accepts %+v %v", staff, err)
	}
	items, _, err := e.svc.Audit(ctx, anna.p, a.ID, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	added, linked := 0, 0
	for _, it := range items {
		switch it.Action {
		case "volunteer.added":
			added++
		case "member.linked":
			linked++
		}
	}
	if added != 1 || linked != 1 {
		t.Fatalf("audit has %d volunteer.added and %d member.linked, want 1 each", added, linked)
	}
	if got, _ := e.svc.GetMember(ctx, anna.p, a.ID, m.ID, 0); got.UserID != maria.p.UserID {
		t.Fatalf("card after concurrent accepts %+v", got)
	}
	mine, _ := e.svc.MyAssociations(ctx, maria.p.UserID)
	if len(mine) != 1 || mine[0].MemberNumber != m.Number {
		t.Fatalf("maria's card after concurrent accepts %+v", mine)
	}
}

// TestInvitationWaitsForTheAccount: an address with no account is invited
// like any other; whoever later signs up with it finds and accepts it.
func TestInvitationWaitsForTheAccount(t *testing.T) {
	e := setup(t)
	anna := e.user(t, "Anna Rossi")
	a := e.association(t, anna, 500)
	inv, err := e.svc.InviteVolunteer(ctx, anna.p, a.ID, "Nuova.Volontaria@Example.org", "")
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(24 * time.Hour)
	s, err := e.auth.Register(ctx, auth.Registration{Email: "nuova.volontaria@example.org", Password: "correct horse battery", Name: "Nuova Volontaria"}, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	nuova := person{p: auth.Principal{UserID: s.Account.ID}, email: s.Account.Email, name: "Nuova Volontaria"}
	mine, _, err := e.svc.MyInvitations(ctx, nuova.p, "", 0)
	if err != nil || len(mine) != 1 || mine[0].ID != inv.ID {
		t.Fatalf("new account's invitations %+v %v", mine, err)
	}
	if _, err := e.svc.AcceptInvitation(ctx, nuova.p, inv.ID); err != nil {
		t.Fatal(err)
	}
	if !e.isStaff(t, nuova, a.ID) {
		t.Fatal("not staff after accepting")
	}
}

// TestMyInvitationsPage: the invitee's list pages newest first.
func TestMyInvitationsPage(t *testing.T) {
	e := setup(t)
	bruno := e.user(t, "Bruno Verdi")
	var want []string
	for i := range 5 {
		coord := e.user(t, fmt.Sprintf("Coord %d", i))
		a := e.association(t, coord, 500)
		inv, err := e.svc.InviteVolunteer(ctx, coord.p, a.ID, bruno.email, "")
		if err != nil {
			t.Fatal(err)
		}
		want = append([]string{inv.ID}, want...)
	}
	var got []string
	cursor := ""
	for range 5 {
		page, next, err := e.svc.MyInvitations(ctx, bruno.p, cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, inv := range page {
			got = append(got, inv.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("pages\n got %v\nwant %v", got, want)
	}
	_, _, err := e.svc.MyInvitations(ctx, bruno.p, "!!", 0)
	wantErr(t, err, portineria.ErrBadCursor)
}

// TestCreatingAndInvitingAreRateLimited: per user, with the wait to retry.
func TestCreatingAndInvitingAreRateLimited(t *testing.T) {
	e := setupWith(t, portineria.Options{CreatePerDay: 2, InvitesPerHour: 3})
	anna, bruno := e.user(t, "Anna Rossi"), e.user(t, "Bruno Verdi")
	a := e.association(t, anna, 500)
	e.association(t, anna, 500)
	_, err := e.svc.Create(ctx, anna.p, portineria.NewAssociation{Name: "Terza", YearlyFeeCents: 500})
	fe, ok := fault.As(err)
	if !ok || fe.Kind != fault.RateLimited || fe.Code != "rate_limited" || fe.RetryAfter <= 0 {
		t.Fatalf("third association: %v", err)
	}
	e.association(t, bruno, 500) // another user is not held back
	m := e.member(t, anna, a.ID, "Maria Bianchi")
	sends := []func() error{
		func() error { _, err := e.svc.InviteVolunteer(ctx, anna.p, a.ID, "uno@example.org", ""); return err },
		func() error { _, err := e.svc.InviteMember(ctx, anna.p, a.ID, m.ID, "due@example.org"); return err },
		func() error {
			_, err := e.svc.AddMember(ctx, anna.p, a.ID, portineria.NewMember{FullName: "Tre", AccountEmail: "tre@example.org"})
			return err
		},
	}
	for _, send := range sends {
		if err := send(); err != nil {
			t.Fatal(err)
		}
	}
	for _, send := range sends {
		fe, ok := fault.As(send())
		if !ok || fe.Kind != fault.RateLimited || fe.RetryAfter <= 0 {
			t.Fatalf("fourth invitation: %v", fe)
		}
	}
	// The refused AddMember wrote no card.
	if ms, _, _ := e.svc.ListMembers(ctx, anna.p, a.ID, portineria.MemberQuery{}); len(ms) != 2 {
		t.Fatalf("roster after a refused add: %+v", ms)
	}
	e.clock.Advance(time.Hour + time.Second)
	if err := sends[0](); err != nil {
		t.Fatalf("after the hour: %v", err)
	}
}
