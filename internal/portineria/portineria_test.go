package portineria_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"civico/internal/auth"
	"civico/internal/clock"
	"civico/internal/fault"
	"civico/internal/portineria"
	"civico/internal/testutil"
)

var ctx = context.Background()

type env struct {
	svc   *portineria.Service
	auth  *auth.Service
	clock *clock.Fake
	n     atomic.Int64
}

// setup gives each test its own database, the real auth service and a fake
// clock on 10 March 2026 at noon in Rome.
func setup(t *testing.T) *env {
	t.Helper()
	return setupWith(t, portineria.Options{})
}

// setupWith is setup with the service's options.
func setupWith(t *testing.T, opts portineria.Options) *env {
	t.Helper()
	st := testutil.Store(t)
	if err := st.EnsureIndexes(ctx, append(auth.Indexes(), portineria.Indexes()...)...); err != nil {
		t.Fatal(err)
	}
	c := clock.NewFake(time.Date(2026, 3, 10, 11, 0, 0, 0, time.UTC))
	a, err := auth.New(ctx, st, c, nil, auth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &env{svc: portineria.New(st, a, c, nil, opts), auth: a, clock: c}
}

type person struct {
	p     auth.Principal
	email string
	name  string
}

func (e *env) user(t *testing.T, name string) person {
	t.Helper()
	email := fmt.Sprintf("%s%d@example.org", strings.ToLower(strings.Fields(name)[0]), e.n.Add(1))
	s, err := e.auth.Register(ctx, auth.Registration{Email: email, Password: "correct horse battery", Name: name}, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return person{p: auth.Principal{UserID: s.Account.ID}, email: email, name: name}
}

func (e *env) association(t *testing.T, coord person, fee int64) portineria.Association {
	t.Helper()
	a, err := e.svc.Create(ctx, coord.p, portineria.NewAssociation{Name: "Portinaio di rione Bolognina", Area: "Bolognina",
		YearlyFeeCents: fee, Desk: &portineria.Desk{Address: "Via Tibaldi 17", Hours: "mar e gio 10-12", Phone: "051 123456"}})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (e *env) member(t *testing.T, who person, aid, name string, skills ...string) portineria.Member {
	t.Helper()
	m, err := e.svc.AddMember(ctx, who.p, aid, portineria.NewMember{FullName: name, Phone: "333 1234567",
		Email: strings.ToLower(strings.Fields(name)[0]) + "@casa.it", Address: "Via Albani 3", Skills: skills, Notes: "private note"})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// volunteer puts who on the staff of aid the only way there is: coord
// invites their email and they accept.
func (e *env) volunteer(t *testing.T, coord person, aid string, who person, role portineria.Role) {
	t.Helper()
	inv, err := e.svc.InviteVolunteer(ctx, coord.p, aid, who.email, role)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AcceptInvitation(ctx, who.p, inv.ID); err != nil {
		t.Fatal(err)
	}
}

var keys atomic.Int64

func key() string { return fmt.Sprintf("key-%08d", keys.Add(1)) }

func (e *env) pay(t *testing.T, who person, aid, mid, typ string, cents int64, year int) portineria.Entry {
	t.Helper()
	en, created, err := e.svc.Record(ctx, who.p, aid, portineria.NewEntry{MemberID: mid, Type: typ, AmountCents: cents,
		Year: year, Method: portineria.MethodCash, IdempotencyKey: key()})
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		t.Fatal("a new key did not create an entry")
	}
	return en
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got %v, want %v", err, want)
	}
}

func wantField(t *testing.T, err error, field, code string) {
	t.Helper()
	fe, ok := fault.As(err)
	if !ok || fe.Kind != fault.Invalid || fe.Fields[field] != code {
		t.Fatalf("got %v, want %s=%s", err, field, code)
	}
}

func TestCreatorIsCoordinatorAndInputIsChecked(t *testing.T) {
	e := setup(t)
	anna := e.user(t, "Anna Rossi")
	a := e.association(t, anna, 500)
	if a.MyRole != portineria.Coordinator || a.YearlyFeeCents != 500 || a.Desk.Phone != "051 123456" {
		t.Fatalf("association %+v", a)
	}
	staff, err := e.svc.Staff(ctx, anna.p, a.ID)
	if err != nil || len(staff) != 1 || staff[0].Role != portineria.Coordinator || staff[0].Name != "Anna Rossi" {
		t.Fatalf("staff %+v %v", staff, err)
	}
	for _, tc := range []struct {
		in          portineria.NewAssociation
		field, code string
	}{
		{portineria.NewAssociation{Name: " ", YearlyFeeCents: 500}, "name", "required"},
		{portineria.NewAssociation{Name: strings.Repeat("x", 121), YearlyFeeCents: 500}, "name", "too_long"},
		{portineria.NewAssociation{Name: "A", YearlyFeeCents: 0}, "yearly_fee_cents", "out_of_range"},
		{portineria.NewAssociation{Name: "A", YearlyFeeCents: portineria.MaxFeeCents + 1}, "yearly_fee_cents", "out_of_range"},
		{portineria.NewAssociation{Name: "A", YearlyFeeCents: 500, TimeZone: "Mars/Olympus"}, "time_zone", "invalid"},
		{portineria.NewAssociation{Name: "A", YearlyFeeCents: 500, Desk: &portineria.Desk{Email: "nope"}}, "desk.email", "invalid"},
	} {
		_, err := e.svc.Create(ctx, anna.p, tc.in)
		wantField(t, err, tc.field, tc.code)
	}
	// Residents find the association and see its public face, no role.
	bruno := e.user(t, "Bruno Verdi")
	got, err := e.svc.Get(ctx, bruno.p, a.ID)
	if err != nil || got.MyRole != "" || got.Name != a.Name {
		t.Fatalf("get as resident %+v %v", got, err)
	}
	list, _, err := e.svc.Directory(ctx, bruno.p, portineria.DirectoryQuery{Q: "bolognina"})
	if err != nil || len(list) != 1 || list[0].ID != a.ID {
		t.Fatalf("directory %+v %v", list, err)
	}
	list, _, err = e.svc.Directory(ctx, bruno.p, portineria.DirectoryQuery{Q: ".*"})
	if err != nil || len(list) != 0 {
		t.Fatalf("regex characters must be literal: %+v %v", list, err)
	}
}

func TestVolunteersAreInvitedByEmailAndTheLastCoordinatorStays(t *testing.T) {
	e := setup(t)
	anna, bruno, carla := e.user(t, "Anna Rossi"), e.user(t, "Bruno Verdi"), e.user(t, "Carla Neri")
	a := e.association(t, anna, 500)

	// The address is matched however it was typed; the role defaults to volunteer.
	inv, err := e.svc.InviteVolunteer(ctx, anna.p, a.ID, strings.ToUpper(bruno.email), "")
	if err != nil || inv.Email != bruno.email || inv.Role != portineria.Volunteer || inv.Status != portineria.InvitationPending {
		t.Fatalf("invite volunteer %+v %v", inv, err)
	}
	if _, err := e.svc.AcceptInvitation(ctx, bruno.p, inv.ID); err != nil {
		t.Fatal(err)
	}
	staff, err := e.svc.Staff(ctx, anna.p, a.ID)
	if err != nil || len(staff) != 2 || staff[1].UserID != bruno.p.UserID || staff[1].Name != "Bruno Verdi" || staff[1].Role != portineria.Volunteer {
		t.Fatalf("staff after accepting %+v %v", staff, err)
	}
	// Inviting someone already on the staff changes nothing once accepted.
	again, err := e.svc.InviteVolunteer(ctx, anna.p, a.ID, bruno.email, portineria.Coordinator)
	if err != nil || again.ID == inv.ID {
		t.Fatalf("second invitation %+v %v", again, err)
	}
	if _, err := e.svc.AcceptInvitation(ctx, bruno.p, again.ID); err != nil {
		t.Fatal(err)
	}
	if staff, _ := e.svc.Staff(ctx, anna.p, a.ID); len(staff) != 2 || staff[1].Role != portineria.Volunteer {
		t.Fatalf("staff after accepting twice %+v", staff)
	}
	_, err = e.svc.InviteVolunteer(ctx, anna.p, a.ID, carla.email, "boss")
	wantField(t, err, "role", "invalid")
	// A volunteer cannot invite, an outsider does not see the association's staff.
	_, err = e.svc.InviteVolunteer(ctx, bruno.p, a.ID, carla.email, portineria.Volunteer)
	wantErr(t, err, portineria.ErrCoordinatorOnly)
	_, err = e.svc.InviteVolunteer(ctx, carla.p, a.ID, carla.email, portineria.Volunteer)
	wantErr(t, err, portineria.ErrAssociationNotFound)
	_, err = e.svc.Staff(ctx, carla.p, a.ID)
	wantErr(t, err, portineria.ErrAssociationNotFound)

	// The last coordinator can neither leave nor step down.
	wantErr(t, e.svc.RemoveVolunteer(ctx, anna.p, a.ID, anna.p.UserID), portineria.ErrLastCoordinator)
	_, err = e.svc.SetRole(ctx, anna.p, a.ID, anna.p.UserID, portineria.Volunteer)
	wantErr(t, err, portineria.ErrLastCoordinator)
	wantErr(t, e.svc.RemoveVolunteer(ctx, bruno.p, a.ID, anna.p.UserID), portineria.ErrCoordinatorOnly)

	// With two coordinators, removing each other at the same time leaves one.
	if _, err := e.svc.SetRole(ctx, anna.p, a.ID, bruno.p.UserID, portineria.Coordinator); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, pair := range [][2]person{{anna, bruno}, {bruno, anna}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = e.svc.RemoveVolunteer(ctx, pair[0].p, a.ID, pair[1].p.UserID)
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if !errors.Is(err, portineria.ErrLastCoordinator) && !errors.Is(err, portineria.ErrAssociationNotFound) {
			t.Fatalf("unexpected %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d removals succeeded, want exactly 1: %v", ok, errs)
	}
	var left person
	for _, who := range []person{anna, bruno} {
		if _, err := e.svc.Staff(ctx, who.p, a.ID); err == nil {
			left = who
		}
	}
	staff, err = e.svc.Staff(ctx, left.p, a.ID)
	if err != nil || len(staff) != 1 || staff[0].Role != portineria.Coordinator {
		t.Fatalf("after the race: %+v %v", staff, err)
	}
	// A volunteer may leave on their own.
	e.volunteer(t, left, a.ID, carla, portineria.Volunteer)
	if err := e.svc.RemoveVolunteer(ctx, carla.p, a.ID, carla.p.UserID); err != nil {
		t.Fatal(err)
	}
	_, _, err = e.svc.ListMembers(ctx, carla.p, a.ID, portineria.MemberQuery{})
	wantErr(t, err, portineria.ErrAssociationNotFound)
}

func TestRosterAndLedgerAreHiddenOutsideTheStaff(t *testing.T) {
	e := setup(t)
	anna, bruno, carla := e.user(t, "Anna Rossi"), e.user(t, "Bruno Verdi"), e.user(t, "Carla Neri")
	a := e.association(t, anna, 500)
	b := e.association(t, bruno, 700)
	m := e.member(t, anna, a.ID, "Maria Bianchi", "tailoring")
	en := e.pay(t, anna, a.ID, m.ID, portineria.TypeFee, 500, 2026)

	for name, who := range map[string]person{"resident": carla, "other coordinator": bruno} {
		t.Run(name, func(t *testing.T) {
			_, _, err := e.svc.ListMembers(ctx, who.p, a.ID, portineria.MemberQuery{})
			wantErr(t, err, portineria.ErrAssociationNotFound)
			_, err = e.svc.GetMember(ctx, who.p, a.ID, m.ID, 0)
			wantErr(t, err, portineria.ErrAssociationNotFound)
			_, err = e.svc.Ledger(ctx, who.p, a.ID, portineria.LedgerQuery{})
			wantErr(t, err, portineria.ErrAssociationNotFound)
			_, _, err = e.svc.Record(ctx, who.p, a.ID, portineria.NewEntry{MemberID: m.ID, Type: "fee", AmountCents: 500, Year: 2026, Method: "cash", IdempotencyKey: key()})
			wantErr(t, err, portineria.ErrAssociationNotFound)
			_, err = e.svc.Reverse(ctx, who.p, a.ID, en.ID, "oops")
			wantErr(t, err, portineria.ErrAssociationNotFound)
			_, err = e.svc.Report(ctx, who.p, a.ID, 0)
			wantErr(t, err, portineria.ErrAssociationNotFound)
			_, err = e.svc.MembersCSV(ctx, who.p, a.ID, 0)
			wantErr(t, err, portineria.ErrAssociationNotFound)
			_, err = e.svc.LedgerCSV(ctx, who.p, a.ID, 0)
			wantErr(t, err, portineria.ErrAssociationNotFound)
			_, _, err = e.svc.Renewals(ctx, who.p, a.ID, portineria.RenewalQuery{})
			wantErr(t, err, portineria.ErrAssociationNotFound)
			_, _, err = e.svc.Audit(ctx, who.p, a.ID, "", 0)
			wantErr(t, err, portineria.ErrAssociationNotFound)
			_, err = e.svc.UpdateMember(ctx, who.p, a.ID, m.ID, portineria.MemberChanges{})
			wantErr(t, err, portineria.ErrAssociationNotFound)
		})
	}
	// Bruno's own association does not open Anna's members or entries.
	_, err := e.svc.GetMember(ctx, bruno.p, b.ID, m.ID, 0)
	wantErr(t, err, portineria.ErrMemberNotFound)
	_, err = e.svc.GetEntry(ctx, bruno.p, b.ID, en.ID)
	wantErr(t, err, portineria.ErrEntryNotFound)
	_, err = e.svc.Reverse(ctx, bruno.p, b.ID, en.ID, "not mine")
	wantErr(t, err, portineria.ErrEntryNotFound)
	_, _, err = e.svc.Record(ctx, bruno.p, b.ID, portineria.NewEntry{MemberID: m.ID, Type: "fee", AmountCents: 700, Year: 2026, Method: "cash", IdempotencyKey: key()})
	wantField(t, err, "member_id", "not_found")
	// Only coordinators erase.
	e.volunteer(t, anna, a.ID, carla, portineria.Volunteer)
	wantErr(t, e.svc.EraseMember(ctx, carla.p, a.ID, m.ID), portineria.ErrCoordinatorOnly)
	if _, err := e.svc.GetMember(ctx, carla.p, a.ID, m.ID, 0); err != nil {
		t.Fatalf("a volunteer reads the roster: %v", err)
	}
}

func TestMembershipNumbersAreSequentialAndNeverReused(t *testing.T) {
	e := setup(t)
	anna := e.user(t, "Anna Rossi")
	a := e.association(t, anna, 500)
	const n = 40
	numbers := make(chan int64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := e.svc.AddMember(ctx, anna.p, a.ID, portineria.NewMember{FullName: fmt.Sprintf("Socio %d", i)})
			if err != nil {
				t.Error(err)
				return
			}
			numbers <- m.Number
		}()
	}
	wg.Wait()
	close(numbers)
	seen := map[int64]bool{}
	for num := range numbers {
		if seen[num] {
			t.Fatalf("number %d given twice", num)
		}
		seen[num] = true
	}
	for i := int64(1); i <= n; i++ {
		if !seen[i] {
			t.Fatalf("numbers are not 1..%d: %v", n, seen)
		}
	}
	// Erasing a member keeps the number taken.
	ms, _, err := e.svc.ListMembers(ctx, anna.p, a.ID, portineria.MemberQuery{Limit: 100})
	if err != nil || len(ms) != n {
		t.Fatalf("list %d %v", len(ms), err)
	}
	last := ms[n-1]
	if err := e.svc.EraseMember(ctx, anna.p, a.ID, last.ID); err != nil {
		t.Fatal(err)
	}
	next := e.member(t, anna, a.ID, "Nuovo Socio")
	if next.Number != n+1 {
		t.Fatalf("after erasing #%d the next number is %d, want %d", last.Number, next.Number, n+1)
	}
	// Another association counts from 1.
	b := e.association(t, anna, 500)
	if m := e.member(t, anna, b.ID, "Primo Socio"); m.Number != 1 {
		t.Fatalf("first number of a new association is %d", m.Number)
	}
}

func TestMembersAreValidatedEditedAndErased(t *testing.T) {
	e := setup(t)
	anna := e.user(t, "Anna Rossi")
	a := e.association(t, anna, 500)
	for _, tc := range []struct {
		in          portineria.NewMember
		field, code string
	}{
		{portineria.NewMember{FullName: ""}, "full_name", "required"},
		{portineria.NewMember{FullName: strings.Repeat("x", 121)}, "full_name", "too_long"},
		{portineria.NewMember{FullName: "A B", Phone: "call me"}, "phone", "invalid"},
		{portineria.NewMember{FullName: "A B", Email: "a@"}, "email", "invalid"},
		{portineria.NewMember{FullName: "A B", Skills: make([]string, 13)}, "skills", "too_many"},
		{portineria.NewMember{FullName: "A B", Skills: []string{strings.Repeat("s", 41)}}, "skills", "too_long"},
		{portineria.NewMember{FullName: "A B", Notes: strings.Repeat("n", 2001)}, "notes", "too_long"},
		{portineria.NewMember{FullName: "A B", JoinedOn: "2099-01-01"}, "joined_on", "invalid"},
		{portineria.NewMember{FullName: "A B", JoinedOn: "yesterday"}, "joined_on", "invalid"},
		{portineria.NewMember{FullName: "A\x00B"}, "full_name", "invalid"},
	} {
		_, err := e.svc.AddMember(ctx, anna.p, a.ID, tc.in)
		wantField(t, err, tc.field, tc.code)
	}
	m, err := e.svc.AddMember(ctx, anna.p, a.ID, portineria.NewMember{FullName: "  Nicolò   Ferri ", Skills: []string{"Cucito", "cucito ", "video"}, JoinedOn: "2019-05-02"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Number != 1 || m.FullName != "Nicolò Ferri" || len(m.Skills) != 2 || m.JoinedOn != "2019-05-02" || m.Status != portineria.StatusLapsed || !m.InDirectory {
		t.Fatalf("member %+v", m)
	}
	name, phone := "Nicolò Ferri Bassi", ""
	m, err = e.svc.UpdateMember(ctx, anna.p, a.ID, m.ID, portineria.MemberChanges{FullName: &name, Phone: &phone, Skills: &[]string{"falegname"}})
	if err != nil || m.FullName != name || m.Skills[0] != "falegname" {
		t.Fatalf("update %+v %v", m, err)
	}
	bad := "x\x07"
	_, err = e.svc.UpdateMember(ctx, anna.p, a.ID, m.ID, portineria.MemberChanges{FullName: &bad})
	wantField(t, err, "full_name", "invalid")
	got, _ := e.svc.GetMember(ctx, anna.p, a.ID, m.ID, 0)
	if got.FullName != name {
		t.Fatalf("a refused edit changed the member: %+v", got)
	}
	if err := e.svc.EraseMember(ctx, anna.p, a.ID, m.ID); err != nil {
		t.Fatal(err)
	}
	got, _ = e.svc.GetMember(ctx, anna.p, a.ID, m.ID, 0)
	if !got.Erased || got.FullName != "#1" || got.Phone != "" || got.Notes != "" || len(got.Skills) != 0 {
		t.Fatalf("erased member still holds data: %+v", got)
	}
	_, err = e.svc.UpdateMember(ctx, anna.p, a.ID, m.ID, portineria.MemberChanges{FullName: &name})
	wantErr(t, err, portineria.ErrMemberErased)
	_, _, err = e.svc.Record(ctx, anna.p, a.ID, portineria.NewEntry{MemberID: m.ID, Type: "fee", AmountCents: 500, Year: 2026, Method: "cash", IdempotencyKey: key()})
	wantErr(t, err, portineria.ErrMemberErased)
}

func TestRosterSearchByNameSkillAndStatus(t *testing.T) {
	e := setup(t)
	anna := e.user(t, "Anna Rossi")
	a := e.association(t, anna, 500)
	maria := e.member(t, anna, a.ID, "Maria Bianchi", "Sarta", "stiro")
	nicolo := e.member(t, anna, a.ID, "Nicolò Ferri", "falegname")
	e.member(t, anna, a.ID, "Luca (Gigi) Rossi", "video")
	for i := range 5 {
		m := e.member(t, anna, a.ID, fmt.Sprintf("Pagante %d", i))
		e.pay(t, anna, a.ID, m.ID, portineria.TypeFee, 500, 2026)
	}
	e.pay(t, anna, a.ID, maria.ID, portineria.TypeFee, 500, 2026)
	e.pay(t, anna, a.ID, nicolo.ID, portineria.TypeFee, 500, 2025)

	names := func(q portineria.MemberQuery) []string {
		t.Helper()
		ms, _, err := e.svc.ListMembers(ctx, anna.p, a.ID, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range ms {
			out = append(out, m.FullName)
		}
		return out
	}
	for _, tc := range []struct {
		q    portineria.MemberQuery
		want string
	}{
		{portineria.MemberQuery{Q: "nicolo"}, "Nicolò Ferri"},
		{portineria.MemberQuery{Q: "BIAN"}, "Maria Bianchi"},
		{portineria.MemberQuery{Q: "(gigi)"}, "Luca (Gigi) Rossi"},
		{portineria.MemberQuery{Q: ".*"}, ""},
		{portineria.MemberQuery{Q: "["}, ""},
		{portineria.MemberQuery{Skill: "sarta"}, "Maria Bianchi"},
		{portineria.MemberQuery{Skill: "STIRO"}, "Maria Bianchi"},
		{portineria.MemberQuery{Status: "lapsed"}, "Nicolò Ferri,Luca (Gigi) Rossi"},
		{portineria.MemberQuery{Status: "active", Year: 2025}, "Nicolò Ferri"},
		{portineria.MemberQuery{Status: "active", Q: "bianchi"}, "Maria Bianchi"},
	} {
		if got := strings.Join(names(tc.q), ","); got != tc.want {
			t.Errorf("%+v: got %q, want %q", tc.q, got, tc.want)
		}
	}
	// Status filters page correctly across skipped members.
	var all []string
	cursor := ""
	for range 10 {
		ms, next, err := e.svc.ListMembers(ctx, anna.p, a.ID, portineria.MemberQuery{Status: "active", Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			all = append(all, m.FullName)
		}
		if cursor = next; cursor == "" {
			break
		}
	}
	if len(all) != 6 || all[0] != "Maria Bianchi" {
		t.Fatalf("paged active members: %v", all)
	}
	_, _, err := e.svc.ListMembers(ctx, anna.p, a.ID, portineria.MemberQuery{Status: "gone"})
	wantField(t, err, "status", "invalid")
	_, _, err = e.svc.ListMembers(ctx, anna.p, a.ID, portineria.MemberQuery{Year: 1999})
	wantField(t, err, "year", "out_of_range")
	_, _, err = e.svc.ListMembers(ctx, anna.p, a.ID, portineria.MemberQuery{Cursor: "!!"})
	wantErr(t, err, portineria.ErrBadCursor)
}

func TestLedgerIsIdempotentPerKey(t *testing.T) {
	e := setup(t)
	anna := e.user(t, "Anna Rossi")
	a := e.association(t, anna, 500)
	m := e.member(t, anna, a.ID, "Maria Bianchi")
	in := portineria.NewEntry{MemberID: m.ID, Type: "fee", AmountCents: 500, Year: 2026, Method: "cash", Note: "tessera", IdempotencyKey: "double-tap-0001"}
	first, created, err := e.svc.Record(ctx, anna.p, a.ID, in)
	if err != nil || !created {
		t.Fatalf("first %v %v", created, err)
	}
	again, created, err := e.svc.Record(ctx, anna.p, a.ID, in)
	if err != nil || created || again.ID != first.ID || again.RecordedAt != first.RecordedAt {
		t.Fatalf("repeat: created=%v %+v vs %+v %v", created, again, first, err)
	}
	changed := in
	changed.AmountCents = 700
	_, _, err = e.svc.Record(ctx, anna.p, a.ID, changed)
	wantErr(t, err, portineria.ErrIdempotencyConflict)

	// 30 concurrent requests with one key record one entry and all answer it.
	in.IdempotencyKey = "concurrent-key-1"
	var wg sync.WaitGroup
	ids := make([]string, 30)
	var createdN atomic.Int64
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			en, c, err := e.svc.Record(ctx, anna.p, a.ID, in)
			if err != nil {
				t.Error(err)
				return
			}
			if c {
				createdN.Add(1)
			}
			ids[i] = en.ID
		}()
	}
	wg.Wait()
	if createdN.Load() != 1 {
		t.Fatalf("%d requests created an entry, want 1", createdN.Load())
	}
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("requests with one key answered different entries: %v", ids)
		}
	}
	page, err := e.svc.Ledger(ctx, anna.p, a.ID, portineria.LedgerQuery{})
	if err != nil || page.Totals.Entries != 2 || page.Totals.FeesCents != 1000 {
		t.Fatalf("totals %+v %v", page.Totals, err)
	}
	// Keys are per association: the same key elsewhere is a new entry.
	b := e.association(t, anna, 500)
	mb := e.member(t, anna, b.ID, "Altro Socio")
	in.MemberID = mb.ID
	if _, created, err := e.svc.Record(ctx, anna.p, b.ID, in); err != nil || !created {
		t.Fatalf("same key in another association: %v %v", created, err)
	}
}

func TestLedgerRefusesBadEntriesAndWritesNothing(t *testing.T) {
	e := setup(t)
	anna := e.user(t, "Anna Rossi")
	a := e.association(t, anna, 500)
	m := e.member(t, anna, a.ID, "Maria Bianchi")
	good := portineria.NewEntry{MemberID: m.ID, Type: "fee", AmountCents: 500, Year: 2026, Method: "cash", IdempotencyKey: "good-key-0001"}
	for _, tc := range []struct {
		change      func(*portineria.NewEntry)
		field, code string
	}{
		{func(n *portineria.NewEntry) { n.AmountCents = 0 }, "amount_cents", "out_of_range"},
		{func(n *portineria.NewEntry) { n.AmountCents = -500 }, "amount_cents", "out_of_range"},
		{func(n *portineria.NewEntry) { n.AmountCents = portineria.MaxAmountCents + 1 }, "amount_cents", "out_of_range"},
		{func(n *portineria.NewEntry) { n.Year = 1999 }, "year", "out_of_range"},
		{func(n *portineria.NewEntry) { n.Year = 2028 }, "year", "out_of_range"},
		{func(n *portineria.NewEntry) { n.Year = 0 }, "year", "required"},
		{func(n *portineria.NewEntry) { n.Method = "bitcoin" }, "method", "invalid"},
		{func(n *portineria.NewEntry) { n.Type = "gift" }, "type", "invalid"},
		{func(n *portineria.NewEntry) { n.MemberID = "" }, "member_id", "required"},
		{func(n *portineria.NewEntry) { n.MemberID = `{"$ne":null}` }, "member_id", "invalid"},
		{func(n *portineria.NewEntry) { n.Note = strings.Repeat("n", 501) }, "note", "too_long"},
		{func(n *portineria.NewEntry) { n.IdempotencyKey = "" }, "idempotency_key", "required"},
		{func(n *portineria.NewEntry) { n.IdempotencyKey = "short" }, "idempotency_key", "invalid"},
		{func(n *portineria.NewEntry) { n.IdempotencyKey = "has:colon:inside" }, "idempotency_key", "invalid"},
		{func(n *portineria.NewEntry) { n.IdempotencyKey = strings.Repeat("k", 129) }, "idempotency_key", "invalid"},
	} {
		in := good
		tc.change(&in)
		_, _, err := e.svc.Record(ctx, anna.p, a.ID, in)
		wantField(t, err, tc.field, tc.code)
	}
	page, _ := e.svc.Ledger(ctx, anna.p, a.ID, portineria.LedgerQuery{})
	if page.Totals.Entries != 0 {
		t.Fatalf("refused entries were written: %+v", page.Totals)
	}
	// Next year's card may be paid in advance; an anonymous donation needs no member.
	next := good
	next.Year, next.IdempotencyKey = 2027, "advance-0001"
	if _, _, err := e.svc.Record(ctx, anna.p, a.ID, next); err != nil {
		t.Fatal(err)
	}
	don := portineria.NewEntry{Type: "donation", AmountCents: 2000, Year: 2026, Method: "transfer", IdempotencyKey: "donation-0001"}
	if _, _, err := e.svc.Record(ctx, anna.p, a.ID, don); err != nil {
		t.Fatal(err)
	}
}

func TestReversalRules(t *testing.T) {
	e := setup(t)
	anna := e.user(t, "Anna Rossi")
	a := e.association(t, anna, 500)
	m := e.member(t, anna, a.ID, "Maria Bianchi")
	fee := e.pay(t, anna, a.ID, m.ID, portineria.TypeFee, 500, 2026)
	if got, _ := e.svc.GetMember(ctx, anna.p, a.ID, m.ID, 2026); got.Status != portineria.StatusActive {
		t.Fatalf("after paying: %+v", got)
	}
	_, err := e.svc.Reverse(ctx, anna.p, a.ID, fee.ID, " ")
	wantField(t, err, "reason", "required")

	// Parallel reversals of one entry: exactly one is written.
	var wg sync.WaitGroup
	results := make(chan error, 10)
	var rev portineria.Entry
	var mu sync.Mutex
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := e.svc.Reverse(ctx, anna.p, a.ID, fee.ID, "recorded on the wrong member")
			if err == nil {
				mu.Lock()
				rev = r
				mu.Unlock()
			}
			results <- err
		}()
	}
	wg.Wait()
	close(results)
	ok := 0
	for err := range results {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, portineria.ErrAlreadyReversed):
		default:
			t.Fatal(err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d reversals succeeded, want 1", ok)
	}
	if rev.AmountCents != -500 || rev.Reverses != fee.ID || rev.Type != portineria.TypeFee || rev.Year != 2026 || rev.MemberID != m.ID || rev.Reason != "recorded on the wrong member" {
		t.Fatalf("reversal %+v", rev)
	}
	_, err = e.svc.Reverse(ctx, anna.p, a.ID, fee.ID, "again")
	wantErr(t, err, portineria.ErrAlreadyReversed)
	_, err = e.svc.Reverse(ctx, anna.p, a.ID, rev.ID, "undo the undo")
	wantErr(t, err, portineria.ErrReverseReversal)

	orig, err := e.svc.GetEntry(ctx, anna.p, a.ID, fee.ID)
	if err != nil || orig.ReversedBy != rev.ID || orig.AmountCents != 500 {
		t.Fatalf("original after reversal %+v %v", orig, err)
	}
	if got, _ := e.svc.GetMember(ctx, anna.p, a.ID, m.ID, 2026); got.Status != portineria.StatusLapsed || got.PaidCents != 0 {
		t.Fatalf("after the reversal the card is still paid: %+v", got)
	}
	page, err := e.svc.Ledger(ctx, anna.p, a.ID, portineria.LedgerQuery{MemberID: m.ID})
	if err != nil || page.Totals.FeesCents != 0 || page.Totals.Entries != 2 || page.Totals.Reversals != 1 {
		t.Fatalf("ledger %+v %v", page.Totals, err)
	}
	if page.Items[0].ID != rev.ID || page.Items[1].ReversedBy != rev.ID {
		t.Fatalf("ledger items %+v", page.Items)
	}
	_, err = e.svc.Reverse(ctx, anna.p, a.ID, "0123456789abcdef01234567", "ghost")
	wantErr(t, err, portineria.ErrEntryNotFound)
}

func TestCardStatusIsDerivedFromEntries(t *testing.T) {
	e := setup(t)
	anna := e.user(t, "Anna Rossi")
	a := e.association(t, anna, 500)
	status := func(mid string, year int) string {
		t.Helper()
		m, err := e.svc.GetMember(ctx, anna.p, a.ID, mid, year)
		if err != nil {
			t.Fatal(err)
		}
		return m.Status
	}
	m := e.member(t, anna, a.ID, "Maria Bianchi")
	e.pay(t, anna, a.ID, m.ID, portineria.TypeFee, 300, 2026)
	e.pay(t, anna, a.ID, m.ID, portineria.TypeDonation, 1000, 2026)
	if s := status(m.ID, 2026); s != portineria.StatusLapsed {
		t.Fatalf("3 € of fees and a donation make %s, want lapsed", s)
	}
	e.pay(t, anna, a.ID, m.ID, portineria.TypeFee, 200, 2026)
	if s := status(m.ID, 2026); s != portineria.StatusActive {
		t.Fatalf("two partial fees reaching the fee make %s", s)
	}
	e.pay(t, anna, a.ID, m.ID, portineria.TypeRefund, 100, 2026)
	if s := status(m.ID, 2026); s != portineria.StatusLapsed {
		t.Fatalf("after a refund: %s", s)
	}
	if s := status(m.ID, 2025); s != portineria.StatusNotJoined {
		t.Fatalf("2025, before joining: %s", s)
	}
	// Raising the fee from this year on leaves last year's paid cards active.
	old := e.member(t, anna, a.ID, "Vecchio Socio")
	e.pay(t, anna, a.ID, old.ID, portineria.TypeFee, 500, 2025)
	e.pay(t, anna, a.ID, old.ID, portineria.TypeFee, 500, 2026)
	fee := int64(800)
	if _, err := e.svc.Update(ctx, anna.p, a.ID, portineria.AssociationChanges{YearlyFeeCents: &fee}); err != nil {
		t.Fatal(err)
	}
	if s := status(old.ID, 2025); s != portineria.StatusActive {
		t.Fatalf("2025 after raising the fee: %s", s)
	}
	if s := status(old.ID, 2026); s != portineria.StatusLapsed {
		t.Fatalf("2026 at the new fee with the old payment: %s", s)
	}
}

func TestConcurrentPaymentsAddUpExactly(t *testing.T) {
	e := setup(t)
	anna, bruno := e.user(t, "Anna Rossi"), e.user(t, "Bruno Verdi")
	a := e.association(t, anna, 500)
	e.volunteer(t, anna, a.ID, bruno, "")
	var ms []portineria.Member
	for i := range 8 {
		ms = append(ms, e.member(t, anna, a.ID, fmt.Sprintf("Socio %d", i)))
	}
	// 8 members × 3 keys, each key sent twice by both volunteers at once.
	var wg sync.WaitGroup
	for i, m := range ms {
		for k := range 3 {
			in := portineria.NewEntry{MemberID: m.ID, Type: "fee", AmountCents: int64(100 + k), Year: 2026, Method: "cash",
				IdempotencyKey: fmt.Sprintf("m%02d-k%d-xxxx", i, k)}
			for _, who := range []person{anna, bruno, anna, bruno} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if _, _, err := e.svc.Record(ctx, who.p, a.ID, in); err != nil {
						t.Error(err)
					}
				}()
			}
		}
	}
	wg.Wait()
	page, err := e.svc.Ledger(ctx, anna.p, a.ID, portineria.LedgerQuery{Year: 2026})
	if err != nil {
		t.Fatal(err)
	}
	if page.Totals.Entries != 24 || page.Totals.FeesCents != 8*(100+101+102) {
		t.Fatalf("totals %+v, want 24 entries and %d cents", page.Totals, 8*303)
	}
	r, err := e.svc.Report(ctx, anna.p, a.ID, 2026)
	if err != nil || r.Active != 0 || r.Lapsed != 8 || r.FeesCents != 8*303 {
		t.Fatalf("report %+v %v", r, err)
	}
}

func TestLedgerPagesNewestFirstWithTotalsOfTheWholeFilter(t *testing.T) {
	e := setup(t)
	anna := e.user(t, "Anna Rossi")
	a := e.association(t, anna, 500)
	m := e.member(t, anna, a.ID, "Maria Bianchi")
	var ids []string
	for i := range 7 {
		ids = append(ids, e.pay(t, anna, a.ID, m.ID, portineria.TypeDonation, int64(100*(i+1)), 2026).ID)
	}
	e.pay(t, anna, a.ID, m.ID, portineria.TypeFee, 500, 2025)
	var got []string
	cursor := ""
	for {
		page, err := e.svc.Ledger(ctx, anna.p, a.ID, portineria.LedgerQuery{Year: 2026, Limit: 3, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		if page.Totals.DonationsCents != 2800 || page.Totals.Entries != 7 {
			t.Fatalf("page totals %+v", page.Totals)
		}
		for _, it := range page.Items {
			got = append(got, it.ID)
			if it.MemberName != "Maria Bianchi" || it.MemberNumber != 1 || it.RecordedByName != "Anna Rossi" {
				t.Fatalf("item %+v", it)
			}
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if len(got) != 7 || got[0] != ids[6] || got[6] != ids[0] {
		t.Fatalf("order %v, recorded %v", got, ids)
	}
}

func TestReportAndRenewals(t *testing.T) {
	e := setup(t)
	anna := e.user(t, "Anna Rossi")
	a := e.association(t, anna, 500)
	old := func(name string) portineria.Member {
		m, err := e.svc.AddMember(ctx, anna.p, a.ID, portineria.NewMember{FullName: name, Phone: "051 555", JoinedOn: "2024-02-01"})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	renewedEarly := old("Sempre Puntuale") // 2025, 2026 and already 2027
	dueSoon := old("Da Rinnovare")         // 2025, 2026
	lapsed := old("Scaduto Ieri")          // 2025 only
	gone := old("Mai Pagato")              // never
	newOne := e.member(t, anna, a.ID, "Nuova Socia")
	for _, m := range []portineria.Member{renewedEarly, dueSoon, lapsed} {
		e.pay(t, anna, a.ID, m.ID, portineria.TypeFee, 500, 2025)
	}
	for _, m := range []portineria.Member{renewedEarly, dueSoon, newOne} {
		e.pay(t, anna, a.ID, m.ID, portineria.TypeFee, 500, 2026)
	}
	e.pay(t, anna, a.ID, "", portineria.TypeDonation, 2500, 2026)
	e.pay(t, anna, a.ID, newOne.ID, portineria.TypeRefund, 200, 2026)
	e.pay(t, anna, a.ID, "", portineria.TypeAdjustment, 50, 2026)
	_ = gone

	r, err := e.svc.Report(ctx, anna.p, a.ID, 2026)
	if err != nil {
		t.Fatal(err)
	}
	want := portineria.Report{Year: 2026, YearlyFeeCents: 500, Members: 5, Active: 2, Lapsed: 3, NewMembers: 1, NotRenewed: 1,
		Totals: portineria.Totals{FeesCents: 1500, DonationsCents: 2500, RefundsCents: 200, AdjustmentsCents: 50, NetCents: 3850, Entries: 6}}
	if r != want {
		t.Fatalf("report\n got %+v\nwant %+v", r, want)
	}

	states := func() map[string]string {
		t.Helper()
		rs, _, err := e.svc.Renewals(ctx, anna.p, a.ID, portineria.RenewalQuery{})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, r := range rs {
			out[r.FullName] = r.State + " " + r.ExpiresOn
		}
		return out
	}
	// In March only last year's unrenewed cards are due.
	if got := states(); len(got) != 1 || got["Scaduto Ieri"] != "expired 2025-12-31" {
		t.Fatalf("March renewals %v", got)
	}
	// On 1 December the card lapses (1 January) in 31 days, on 2 December in 30.
	e.clock.Set(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	e.pay(t, anna, a.ID, renewedEarly.ID, portineria.TypeFee, 500, 2027)
	if got := states(); len(got) != 1 {
		t.Fatalf("1 December, 30 days left: %v", got)
	}
	e.clock.Set(time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC))
	got := states()
	if len(got) != 2 || got["Da Rinnovare"] != "expiring 2026-12-31" || got["Nuova Socia"] != "" || got["Sempre Puntuale"] != "" {
		t.Fatalf("2 December renewals %v", got)
	}
	rs, _, _ := e.svc.Renewals(ctx, anna.p, a.ID, portineria.RenewalQuery{})
	for _, r := range rs {
		if r.FullName == "Da Rinnovare" && (r.DaysLeft != 30 || r.Phone != "051 555") {
			t.Fatalf("renewal %+v", r)
		}
	}
	_, _, err = e.svc.Renewals(ctx, anna.p, a.ID, portineria.RenewalQuery{WithinDays: 400})
	wantField(t, err, "within_days", "out_of_range")
}

func TestCSVExportsParseBackAndDisarmFormulas(t *testing.T) {
	e := setup(t)
	anna := e.user(t, "Anna Rossi")
	a := e.association(t, anna, 500)
	evil, err := e.svc.AddMember(ctx, anna.p, a.ID, portineria.NewMember{FullName: `=HYPERLINK("http://x","y")`,
		Address: "@SUM(1+1)", Skills: []string{"+39 cucito", "-2"}, Notes: "\t=1+1\nriga, \"due\""})
	if err != nil {
		t.Fatal(err)
	}
	plain := e.member(t, anna, a.ID, "Zoë Ångström")
	fee := e.pay(t, anna, a.ID, plain.ID, portineria.TypeFee, 500, 2026)
	if _, _, err := e.svc.Record(ctx, anna.p, a.ID, portineria.NewEntry{MemberID: evil.ID, Type: "donation", AmountCents: 1234,
		Year: 2026, Method: "other", Note: "\t=cmd|' /C calc'!A0", IdempotencyKey: key()}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Reverse(ctx, anna.p, a.ID, fee.ID, "-wrong member"); err != nil {
		t.Fatal(err)
	}

	b, err := e.svc.MembersCSV(ctx, anna.p, a.ID, 2026)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 || strings.Join(rows[0], ",") != strings.Join(portineria.MembersCSVHeader, ",") {
		t.Fatalf("members.csv rows %q", rows)
	}
	col := func(header []string, name string) int {
		for i, h := range header {
			if h == name {
				return i
			}
		}
		t.Fatalf("no column %s", name)
		return -1
	}
	h := rows[0]
	if rows[1][col(h, "full_name")] != `'=HYPERLINK("http://x","y")` || rows[1][col(h, "address")] != "'@SUM(1+1)" ||
		rows[1][col(h, "skills")] != "'+39 cucito; -2" || rows[1][col(h, "notes")] != "'\t=1+1\nriga, \"due\"" {
		t.Fatalf("members.csv row %q", rows[1])
	}
	if rows[2][col(h, "full_name")] != "Zoë Ångström" || rows[2][col(h, "status")] != "lapsed" || rows[2][col(h, "phone")] != "333 1234567" {
		t.Fatalf("members.csv row %q", rows[2])
	}
	for _, row := range rows[1:] {
		for _, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
				t.Fatalf("dangerous cell %q", cell)
			}
		}
	}

	b, err = e.svc.LedgerCSV(ctx, anna.p, a.ID, 2026)
	if err != nil {
		t.Fatal(err)
	}
	rows, err = csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	h = rows[0]
	if len(rows) != 4 || strings.Join(h, ",") != strings.Join(portineria.LedgerCSVHeader, ",") {
		t.Fatalf("ledger.csv %q", rows)
	}
	if rows[1][col(h, "amount")] != "5.00" || rows[1][col(h, "member_name")] != "Zoë Ångström" || rows[1][col(h, "recorded_by")] != "Anna Rossi" {
		t.Fatalf("fee row %q", rows[1])
	}
	if rows[2][col(h, "note")] != "'=cmd|' /C calc'!A0" || rows[2][col(h, "member_name")] != `'=HYPERLINK("http://x","y")` || rows[2][col(h, "amount")] != "12.34" {
		t.Fatalf("donation row %q", rows[2])
	}
	if rows[3][col(h, "amount_cents")] != "-500" || rows[3][col(h, "reverses")] != fee.ID || rows[3][col(h, "reason")] != "'-wrong member" {
		t.Fatalf("reversal row %q", rows[3])
	}
	if b, _ := e.svc.LedgerCSV(ctx, anna.p, a.ID, 2025); strings.Count(string(b), "\n") != 1 {
		t.Fatalf("another year's ledger.csv holds entries: %q", b)
	}
}

func TestSkillsDirectoryShowsFirstNamesAndTheDeskOnly(t *testing.T) {
	e := setup(t)
	anna, resident := e.user(t, "Anna Rossi"), e.user(t, "Rita Residente")
	a := e.association(t, anna, 500)
	sarta := e.member(t, anna, a.ID, "Maria Grazia Bianchi", "Sarta", "stiro")
	lastYear := e.member(t, anna, a.ID, "Piero Rossi", "falegname")
	unpaid := e.member(t, anna, a.ID, "Gino Nonpaga", "idraulico")
	hidden := e.member(t, anna, a.ID, "Lia Riservata", "video")
	noSkills := e.member(t, anna, a.ID, "Ugo Senza")
	off := false
	if _, err := e.svc.UpdateMember(ctx, anna.p, a.ID, hidden.ID, portineria.MemberChanges{InDirectory: &off}); err != nil {
		t.Fatal(err)
	}
	for _, m := range []portineria.Member{sarta, hidden, noSkills} {
		e.pay(t, anna, a.ID, m.ID, portineria.TypeFee, 500, 2026)
	}
	e.pay(t, anna, a.ID, lastYear.ID, portineria.TypeFee, 500, 2025)
	_ = unpaid

	page, err := e.svc.Skills(ctx, resident.p, a.ID, "", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 2 || page.Items[0].FirstName != "Maria" || page.Items[1].FirstName != "Piero" ||
		strings.Join(page.Items[0].Skills, ",") != "Sarta,stiro" {
		t.Fatalf("directory %+v", page.Items)
	}
	if page.Association.Desk.Phone != "051 123456" || page.Association.MyRole != "" {
		t.Fatalf("desk %+v", page.Association)
	}
	page, err = e.svc.Skills(ctx, resident.p, a.ID, "FALEGNAME", "", 0)
	if err != nil || len(page.Items) != 1 || page.Items[0].FirstName != "Piero" {
		t.Fatalf("by skill %+v %v", page.Items, err)
	}
	page, err = e.svc.Skills(ctx, resident.p, a.ID, "", "", 1)
	if err != nil || len(page.Items) != 1 || page.NextCursor == "" {
		t.Fatalf("page 1 %+v %v", page, err)
	}
	page, err = e.svc.Skills(ctx, resident.p, a.ID, "", page.NextCursor, 1)
	if err != nil || len(page.Items) != 1 || page.Items[0].FirstName != "Piero" || page.NextCursor != "" {
		t.Fatalf("page 2 %+v %v", page, err)
	}
	_, err = e.svc.Skills(ctx, resident.p, "0123456789abcdef01234567", "", "", 0)
	wantErr(t, err, portineria.ErrAssociationNotFound)
}

func TestLinkingAMemberToAnAccount(t *testing.T) {
	e := setup(t)
	anna, maria := e.user(t, "Anna Rossi"), e.user(t, "Maria Bianchi")
	a := e.association(t, anna, 500)
	m := e.member(t, anna, a.ID, "Maria Bianchi")
	m2 := e.member(t, anna, a.ID, "Omonima Bianchi")
	e.pay(t, anna, a.ID, m.ID, portineria.TypeFee, 500, 2026)

	mine, err := e.svc.MyAssociations(ctx, maria.p.UserID)
	if err != nil || len(mine) != 0 {
		t.Fatalf("before linking %+v %v", mine, err)
	}
	// Linking by email is an invitation: the card is not linked until Maria says yes.
	email := strings.ToUpper(maria.email)
	got, err := e.svc.UpdateMember(ctx, anna.p, a.ID, m.ID, portineria.MemberChanges{AccountEmail: &email})
	if err != nil || got.UserID != "" || got.Invitation == nil || got.Invitation.Email != maria.email ||
		got.Invitation.Kind != portineria.KindMember || got.Invitation.MemberID != m.ID {
		t.Fatalf("link %+v %v", got, err)
	}
	if mine, _ := e.svc.MyAssociations(ctx, maria.p.UserID); len(mine) != 0 {
		t.Fatalf("linked before accepting: %+v", mine)
	}
	invs, _, err := e.svc.MyInvitations(ctx, maria.p, "", 0)
	if err != nil || len(invs) != 1 || invs[0].Kind != portineria.KindMember || invs[0].MemberNumber != 1 ||
		invs[0].Association.ID != a.ID || invs[0].InvitedByName != "Anna Rossi" {
		t.Fatalf("maria's invitations %+v %v", invs, err)
	}
	if _, err := e.svc.AcceptInvitation(ctx, maria.p, invs[0].ID); err != nil {
		t.Fatal(err)
	}
	got, err = e.svc.GetMember(ctx, anna.p, a.ID, m.ID, 0)
	if err != nil || got.UserID != maria.p.UserID || got.Invitation != nil {
		t.Fatalf("after accepting %+v %v", got, err)
	}
	// One account, one member per association: the invitation to a second
	// card is sent (the answer says nothing about the account) and refused
	// when accepted, staying open for a decline.
	inv2, err := e.svc.UpdateMember(ctx, anna.p, a.ID, m2.ID, portineria.MemberChanges{UserID: &maria.p.UserID})
	if err != nil || inv2.UserID != "" || inv2.Invitation == nil || inv2.Invitation.Email != "" {
		t.Fatalf("second card %+v %v", inv2, err)
	}
	_, err = e.svc.AcceptInvitation(ctx, maria.p, inv2.Invitation.ID)
	wantErr(t, err, portineria.ErrAccountLinked)
	if invs, _, _ := e.svc.MyInvitations(ctx, maria.p, "", 0); len(invs) != 1 || invs[0].ID != inv2.Invitation.ID || invs[0].Status != portineria.InvitationPending {
		t.Fatalf("refused invitation should stay open: %+v", invs)
	}
	if _, err := e.svc.DeclineInvitation(ctx, maria.p, inv2.Invitation.ID); err != nil {
		t.Fatal(err)
	}
	// An unknown account is invited like any other, and nobody can answer.
	unknown := "0123456789abcdef01234567"
	got, err = e.svc.UpdateMember(ctx, anna.p, a.ID, m2.ID, portineria.MemberChanges{UserID: &unknown})
	if err != nil || got.Invitation == nil {
		t.Fatalf("invitation to an unknown account %+v %v", got, err)
	}
	bad := "not-an-id"
	_, err = e.svc.UpdateMember(ctx, anna.p, a.ID, m2.ID, portineria.MemberChanges{UserID: &bad})
	wantField(t, err, "user_id", "invalid")
	badEmail := "maria@"
	_, err = e.svc.AddMember(ctx, anna.p, a.ID, portineria.NewMember{FullName: "Copia", AccountEmail: badEmail})
	wantField(t, err, "account_email", "invalid")

	// The member sees their card, not the staff's notes.
	mine, err = e.svc.MyAssociations(ctx, maria.p.UserID)
	if err != nil || len(mine) != 1 || mine[0].Role != "member" || mine[0].MemberNumber != 1 || mine[0].CardActive == nil || !*mine[0].CardActive {
		t.Fatalf("my associations %+v %v", mine, err)
	}
	staffView, _ := e.svc.MyAssociations(ctx, anna.p.UserID)
	if len(staffView) != 1 || staffView[0].Role != "coordinator" {
		t.Fatalf("coordinator's associations %+v", staffView)
	}

	// Unlinking frees the account for another member; inviting Maria's
	// address to the second card replaces its invitation to the unknown
	// account; the first card no longer shows.
	none := ""
	if _, err := e.svc.UpdateMember(ctx, anna.p, a.ID, m.ID, portineria.MemberChanges{UserID: &none}); err != nil {
		t.Fatal(err)
	}
	got, err = e.svc.UpdateMember(ctx, anna.p, a.ID, m2.ID, portineria.MemberChanges{AccountEmail: &maria.email})
	if err != nil || got.Invitation == nil || got.Invitation.Email != maria.email {
		t.Fatalf("relink invitation %+v %v", got, err)
	}
	if _, err := e.svc.AcceptInvitation(ctx, maria.p, got.Invitation.ID); err != nil {
		t.Fatal(err)
	}
	mine, _ = e.svc.MyAssociations(ctx, maria.p.UserID)
	if len(mine) != 1 || mine[0].MemberNumber != 2 || *mine[0].CardActive {
		t.Fatalf("after relinking %+v", mine)
	}
	// Erasing the member drops the link.
	if err := e.svc.EraseMember(ctx, anna.p, a.ID, m2.ID); err != nil {
		t.Fatal(err)
	}
	if mine, _ = e.svc.MyAssociations(ctx, maria.p.UserID); len(mine) != 0 {
		t.Fatalf("after erasing %+v", mine)
	}
	// A staff member links their own account at once: it is their own yes.
	own, err := e.svc.AddMember(ctx, anna.p, a.ID, portineria.NewMember{FullName: "Anna Rossi", UserID: anna.p.UserID})
	if err != nil || own.UserID != anna.p.UserID || own.Invitation != nil {
		t.Fatalf("own card %+v %v", own, err)
	}
}

func TestAuditKeepsWhoDidWhat(t *testing.T) {
	e := setup(t)
	anna, bruno := e.user(t, "Anna Rossi"), e.user(t, "Bruno Verdi")
	a := e.association(t, anna, 500)
	e.volunteer(t, anna, a.ID, bruno, "")
	m := e.member(t, bruno, a.ID, "Maria Bianchi")
	en := e.pay(t, bruno, a.ID, m.ID, portineria.TypeFee, 500, 2026)
	if _, err := e.svc.Reverse(ctx, anna.p, a.ID, en.ID, "duplicate"); err != nil {
		t.Fatal(err)
	}
	items, _, err := e.svc.Audit(ctx, bruno.p, a.ID, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range items {
		got = append(got, it.Action+" by "+it.ActorName)
	}
	want := "ledger.reversed by Anna Rossi,ledger.recorded by Bruno Verdi,member.created by Bruno Verdi," +
		"volunteer.added by Bruno Verdi,invitation.sent by Anna Rossi,association.created by Anna Rossi"
	if strings.Join(got, ",") != want {
		t.Fatalf("audit\n got %s\nwant %s", strings.Join(got, ","), want)
	}
}
