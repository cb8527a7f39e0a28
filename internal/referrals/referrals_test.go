package referrals_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"civico/internal/auth"
	"civico/internal/handoff"
	"civico/internal/portineria"
	"civico/internal/posts"
	"civico/internal/pseudonym"
	"civico/internal/referrals"
	"civico/internal/testutil"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// places is the Locator as referrals see it: names by id.
type places map[string]string

func (p places) PlaceName(_ context.Context, id string) (string, error) {
	if name, ok := p[id]; ok {
		return name, nil
	}
	return "", referrals.ErrUnknownPlace
}

// env is one street linked to one association, with a request the desk
// took, a roster member, and a place to refer them to.
type env struct {
	t     *testing.T
	s     *testutil.Services
	desks *portineria.Service
	hand  *handoff.Service
	notes *testutil.Notes
	refs  *referrals.Service
	place string

	coord, author, vol, stranger auth.Principal
	aid, sid, takenPost, member  string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	s := testutil.NewServices(t, posts.Options{})
	ctx := s.Ctx
	if err := s.Store.EnsureIndexes(ctx, append(append(portineria.Indexes(), handoff.Indexes()...), referrals.Indexes()...)...); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, s: s, notes: &testutil.Notes{}, place: bson.NewObjectID().Hex()}
	e.desks = portineria.New(s.Store, s.Auth, s.Clock, nil, portineria.Options{})
	e.hand = handoff.New(s.Store, s.Clock, s.Posts, s.Streets, e.desks, s.Auth, nil, nil)
	e.refs = e.service()
	e.coord, e.author, e.vol, e.stranger = s.User("Anna"), s.User("Bruno"), s.User("Vito"), s.User("Sara")
	e.sid = s.Street(e.coord, e.author, e.vol)
	a, err := e.desks.Create(ctx, e.coord, portineria.NewAssociation{Name: "Portinaio Bolognina", Area: "Bolognina", YearlyFeeCents: 500})
	if err != nil {
		t.Fatal(err)
	}
	e.aid = a.ID
	acc, err := s.Auth.User(ctx, e.vol.UserID)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := e.desks.InviteVolunteer(ctx, e.coord, e.aid, acc.Email, portineria.Volunteer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.desks.AcceptInvitation(ctx, e.vol, inv.ID); err != nil {
		t.Fatal(err)
	}
	// The coordinator is the street's admin: one agreement links both sides.
	if _, err := e.hand.LinkFromStreet(ctx, e.coord, e.sid, e.aid); err != nil {
		t.Fatal(err)
	}
	e.takenPost = e.request(e.author, "Cerco aiuto con le bollette", true)
	m, err := e.desks.AddMember(ctx, e.coord, e.aid, portineria.NewMember{FullName: "Rina Bianchi"})
	if err != nil {
		t.Fatal(err)
	}
	e.member = m.ID
	return e
}

// service is referrals as one process has it; every one shares the
// store, the clock and the record of pushes.
func (e *env) service() *referrals.Service {
	e.t.Helper()
	r, err := referrals.New(e.s.Ctx, e.s.Store, e.s.Clock, referrals.Deps{Places: places{e.place: "Centro sociale Katia Bertasi"},
		Posts: e.s.Posts, Desks: e.desks, Links: e.hand, Notifier: e.notes}, nil, referrals.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// request posts a request by u; taken: the volunteer takes it for the desk.
func (e *env) request(u auth.Principal, title string, taken bool) string {
	e.t.Helper()
	p := e.s.Post(u, e.sid, posts.NewPost{Kind: posts.KindRequest, Category: "errands", Title: title, Body: "Grazie"})
	if taken {
		if _, err := e.hand.Take(e.s.Ctx, e.vol, e.aid, p.ID); err != nil {
			e.t.Fatal(err)
		}
	}
	return p.ID
}

func (e *env) refer(in referrals.NewReferral) referrals.Referral {
	e.t.Helper()
	if in.PlaceID == "" {
		in.PlaceID = e.place
	}
	if in.Note == "" {
		in.Note = "Chiedere di Marta, martedì mattina"
	}
	r, err := e.refs.Create(e.s.Ctx, e.vol, e.aid, in)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *env) sweep(rs ...*referrals.Service) {
	e.t.Helper()
	if len(rs) == 0 {
		rs = []*referrals.Service{e.refs}
	}
	for _, r := range rs {
		if err := r.Sweep(e.s.Ctx); err != nil {
			e.t.Fatalf("sweep: %v", err)
		}
	}
}

func (e *env) get(p auth.Principal, id string) referrals.Referral {
	e.t.Helper()
	r, err := e.refs.Get(e.s.Ctx, p, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *env) mine(p auth.Principal) []string {
	e.t.Helper()
	items, _, err := e.refs.Mine(e.s.Ctx, p, "", 0)
	if err != nil {
		e.t.Fatal(err)
	}
	var ids []string
	for _, r := range items {
		ids = append(ids, r.ID)
	}
	return ids
}

// A referral from a request the desk took is followed up once, 7 days
// later, with a push to the request's author in their language: not
// after 6 days; sweeping again, from a second service on the same
// database, or from a new one (a restart), sends nothing more. The
// author finds the question under "my referrals" until they answer.
func TestFollowUpAsksTheResidentOnceAfterSevenDays(t *testing.T) {
	e := newEnv(t)
	r := e.refer(referrals.NewReferral{PostID: e.takenPost})
	if r.Status != referrals.StatusOpen || r.FollowUpTo != referrals.AskResident || r.UserID != e.author.UserID ||
		r.PlaceName != "Centro sociale Katia Bertasi" || !r.FollowUpAt.Equal(r.CreatedAt.Add(7*24*time.Hour)) {
		t.Fatalf("referral %+v", r)
	}

	e.s.Clock.Advance(6 * 24 * time.Hour)
	e.sweep()
	if n := len(e.notes.All()); n != 0 {
		t.Fatalf("%d follow-ups after 6 days, want none", n)
	}
	if got := e.mine(e.author); len(got) != 0 {
		t.Fatalf("asked of the author after 6 days: %v", got)
	}

	e.s.Clock.Advance(24 * time.Hour)
	other := e.service()
	e.sweep(e.refs, other, e.refs, other)
	e.sweep(e.service()) // a restart
	sent := e.notes.All()
	if len(sent) != 1 {
		t.Fatalf("%d follow-ups, want exactly one: %+v", len(sent), sent)
	}
	n := sent[0]
	it, en := n.Texts["it"], n.Texts["en"]
	if n.UserID != e.author.UserID || n.Key != "referral:"+r.ID || n.URL != "/referrals/"+r.ID ||
		it.Title != "Com'è andata?" || !strings.Contains(it.Body, "Katia Bertasi") || en.Title != "How did it go?" {
		t.Fatalf("follow-up %+v", n)
	}
	var actions []string
	for _, a := range it.Actions {
		actions = append(actions, a.Action)
	}
	if !slices.Equal(actions, []string{referrals.OutcomeHelped, referrals.OutcomeNotHelped}) {
		t.Fatalf("actions %v", actions)
	}
	if got := e.get(e.author, r.ID); got.Status != referrals.StatusAsked || got.AskedAt == nil || len(got.Outcomes) != 3 {
		t.Fatalf("after the follow-up %+v", got)
	}
	if got := e.mine(e.author); !slices.Equal(got, []string{r.ID}) {
		t.Fatalf("asked of the author: %v, want the referral", got)
	}
	if got := e.mine(e.vol); len(got) != 0 {
		t.Fatalf("asked of the volunteer: %v, want none (the resident is asked)", got)
	}

	if _, err := e.refs.Outcome(e.s.Ctx, e.author, r.ID, referrals.OutcomeHelped); err != nil {
		t.Fatal(err)
	}
	if got := e.mine(e.author); len(got) != 0 {
		t.Fatalf("still asked after the answer: %v", got)
	}
}

// A referral of a roster member met at the desk asks the volunteer who
// made it, after the days they chose; so does a referral from a request a
// volunteer wrote for a member.
func TestFollowUpOfAMemberAsksTheVolunteer(t *testing.T) {
	e := newEnv(t)
	ctx := e.s.Ctx
	three := 3
	met := e.refer(referrals.NewReferral{MemberID: e.member, FollowUpDays: &three})
	onBehalf := e.s.Post(e.vol, e.sid, posts.NewPost{Kind: posts.KindRequest, Category: "company", Title: "Compagnia per Rina",
		Body: "Il giovedì", OnBehalf: &posts.OnBehalf{AssociationID: e.aid, MemberID: e.member, MemberName: "Rina Bianchi"}})
	if _, err := e.hand.Take(ctx, e.vol, e.aid, onBehalf.ID); err != nil {
		t.Fatal(err)
	}
	written := e.refer(referrals.NewReferral{PostID: onBehalf.ID, FollowUpDays: &three})
	for _, r := range []referrals.Referral{met, written} {
		if r.FollowUpTo != referrals.AskVolunteer || r.MemberID != e.member || r.UserID != "" {
			t.Fatalf("referral %+v, want the member referred and the volunteer asked", r)
		}
	}

	e.s.Clock.Advance(3*24*time.Hour - time.Minute)
	e.sweep()
	if n := len(e.notes.All()); n != 0 {
		t.Fatalf("%d follow-ups before 3 days", n)
	}
	e.s.Clock.Advance(time.Minute)
	e.sweep()
	e.sweep()
	sent := e.notes.All()
	if len(sent) != 2 {
		t.Fatalf("%d follow-ups, want 2", len(sent))
	}
	for _, n := range sent {
		if n.UserID != e.vol.UserID || !strings.HasPrefix(n.Texts["it"].Body, "Hai indirizzato un socio") {
			t.Fatalf("follow-up %+v, want the volunteer asked about a member", n)
		}
	}
	if got := e.mine(e.vol); !slices.Equal(got, []string{written.ID, met.ID}) {
		t.Fatalf("asked of the volunteer %v, want both, newest first", got)
	}
}

// The outcome is recorded once: the one asked or any volunteer may give
// it, before the follow-up too (which then is not sent); a second answer,
// even at the same time, is refused; someone else is told there is no
// such referral.
func TestOutcomeOnce(t *testing.T) {
	e := newEnv(t)
	ctx := e.s.Ctx
	early := e.refer(referrals.NewReferral{MemberID: e.member})
	if _, err := e.refs.Outcome(ctx, e.stranger, early.ID, referrals.OutcomeHelped); !errors.Is(err, referrals.ErrReferralNotFound) {
		t.Fatalf("a stranger's answer: %v", err)
	}
	if _, err := e.refs.Outcome(ctx, e.coord, early.ID, "maybe"); err == nil {
		t.Fatal("an unknown outcome was accepted")
	} else {
		testutil.WantField(t, err, "outcome", "invalid")
	}
	got, err := e.refs.Outcome(ctx, e.coord, early.ID, referrals.OutcomeNotHelped)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != referrals.StatusAnswered || got.Outcome != referrals.OutcomeNotHelped || len(got.Outcomes) != 0 {
		t.Fatalf("answered %+v", got)
	}
	if _, err := e.refs.Outcome(ctx, e.vol, early.ID, referrals.OutcomeHelped); !errors.Is(err, referrals.ErrAnswered) {
		t.Fatalf("a second answer: %v, want referral_answered", err)
	}
	e.s.Clock.Advance(8 * 24 * time.Hour)
	e.sweep()
	if n := len(e.notes.All()); n != 0 {
		t.Fatalf("%d follow-ups of a referral answered early", n)
	}

	// Two answers at once, from two processes: one is recorded.
	r := e.refer(referrals.NewReferral{PostID: e.takenPost})
	other := e.service()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, who := range []struct {
		svc *referrals.Service
		p   auth.Principal
		out string
	}{{e.refs, e.author, referrals.OutcomeHelped}, {other, e.vol, referrals.OutcomeNoAnswer}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = who.svc.Outcome(ctx, who.p, r.ID, who.out)
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, referrals.ErrAnswered):
			t.Fatalf("answer: %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d answers recorded, want 1: %v", ok, errs)
	}
}

// Only the association's volunteers refer and list; anyone else is told
// the association does not exist, and sees no referral.
func TestNonVolunteerRefused(t *testing.T) {
	e := newEnv(t)
	ctx := e.s.Ctx
	r := e.refer(referrals.NewReferral{PostID: e.takenPost})
	in := referrals.NewReferral{PlaceID: e.place, MemberID: e.member, Note: "Sportello"}
	for _, p := range []auth.Principal{e.stranger, e.author} {
		if _, err := e.refs.Create(ctx, p, e.aid, in); !errors.Is(err, portineria.ErrAssociationNotFound) {
			t.Fatalf("referral by a non-volunteer: %v", err)
		}
		if _, _, err := e.refs.List(ctx, p, e.aid, "", "", 0); !errors.Is(err, portineria.ErrAssociationNotFound) {
			t.Fatalf("list by a non-volunteer: %v", err)
		}
	}
	if _, err := e.refs.Get(ctx, e.stranger, r.ID); !errors.Is(err, referrals.ErrReferralNotFound) {
		t.Fatalf("a stranger reads a referral: %v", err)
	}
	// The resident concerned sees it, without who made it.
	if got := e.get(e.author, r.ID); got.ByUserID != "" || got.Note == "" {
		t.Fatalf("the resident sees %+v", got)
	}
	if got := e.get(e.coord, r.ID); got.ByUserID != e.vol.UserID {
		t.Fatalf("the coordinator sees %+v", got)
	}
}

// Bad input is refused field by field, and changes nothing.
func TestCreateRefusesBadInput(t *testing.T) {
	e := newEnv(t)
	ctx := e.s.Ctx
	zero, sixtyOne := 0, 61
	untaken := e.request(e.author, "Nessuno ha risposto", false)
	offer := e.s.Post(e.author, e.sid, posts.NewPost{Kind: posts.KindOffer, Category: "lending", Title: "Presto la scala", Body: "Quando serve"})
	for _, c := range []struct {
		name         string
		in           referrals.NewReferral
		field, issue string
	}{
		{"no place", referrals.NewReferral{MemberID: e.member, Note: "x"}, "place_id", "required"},
		{"unknown place", referrals.NewReferral{PlaceID: bson.NewObjectID().Hex(), MemberID: e.member, Note: "x"}, "place_id", "unknown"},
		{"nobody", referrals.NewReferral{PlaceID: e.place, Note: "x"}, "post_id", "required"},
		{"two people", referrals.NewReferral{PlaceID: e.place, PostID: e.takenPost, MemberID: e.member, Note: "x"}, "member_id", "conflict"},
		{"bad member id", referrals.NewReferral{PlaceID: e.place, MemberID: "42", Note: "x"}, "member_id", "invalid"},
		{"unknown member", referrals.NewReferral{PlaceID: e.place, MemberID: bson.NewObjectID().Hex(), Note: "x"}, "member_id", "unknown"},
		{"no note", referrals.NewReferral{PlaceID: e.place, MemberID: e.member, Note: "  "}, "note", "required"},
		{"long note", referrals.NewReferral{PlaceID: e.place, MemberID: e.member, Note: strings.Repeat("è", referrals.MaxNote+1)}, "note", "too_long"},
		{"no days", referrals.NewReferral{PlaceID: e.place, MemberID: e.member, Note: "x", FollowUpDays: &zero}, "follow_up_days", "out_of_range"},
		{"too many days", referrals.NewReferral{PlaceID: e.place, MemberID: e.member, Note: "x", FollowUpDays: &sixtyOne}, "follow_up_days", "out_of_range"},
		{"request not taken", referrals.NewReferral{PlaceID: e.place, PostID: untaken, Note: "x"}, "post_id", "not_taken"},
		{"an offer", referrals.NewReferral{PlaceID: e.place, PostID: offer.ID, Note: "x"}, "post_id", "unknown"},
		{"unknown post", referrals.NewReferral{PlaceID: e.place, PostID: bson.NewObjectID().Hex(), Note: "x"}, "post_id", "unknown"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.refs.Create(ctx, e.vol, e.aid, c.in)
			testutil.WantField(t, err, c.field, c.issue)
		})
	}
	if items, _, err := e.refs.List(ctx, e.vol, e.aid, "", "", 0); err != nil || len(items) != 0 {
		t.Fatalf("after refused input: %v %v", items, err)
	}
}

// The association's list is newest first, page by page, and filtered by
// status.
func TestListPagesNewestFirst(t *testing.T) {
	e := newEnv(t)
	ctx := e.s.Ctx
	var ids []string
	for range 5 {
		ids = append(ids, e.refer(referrals.NewReferral{MemberID: e.member}).ID)
		e.s.Clock.Advance(time.Minute)
	}
	if _, err := e.refs.Outcome(ctx, e.vol, ids[1], referrals.OutcomeHelped); err != nil {
		t.Fatal(err)
	}
	var got []string
	cur := ""
	for pages := 0; ; pages++ {
		items, next, err := e.refs.List(ctx, e.coord, e.aid, "", cur, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range items {
			got = append(got, r.ID)
		}
		if next == "" {
			break
		}
		if pages > 5 {
			t.Fatal("the list does not end")
		}
		cur = next
	}
	want := slices.Clone(ids)
	slices.Reverse(want)
	if !slices.Equal(got, want) {
		t.Fatalf("list %v, want %v", got, want)
	}
	answered, _, err := e.refs.List(ctx, e.coord, e.aid, referrals.StatusAnswered, "", 0)
	if err != nil || len(answered) != 1 || answered[0].ID != ids[1] {
		t.Fatalf("answered: %v %v", answered, err)
	}
	if _, _, err := e.refs.List(ctx, e.coord, e.aid, referrals.StatusOpen, cur, 2); !errors.Is(err, referrals.ErrBadCursor) {
		t.Fatalf("a cursor of another filter: %v", err)
	}
	if _, _, err := e.refs.List(ctx, e.coord, e.aid, "closed", "", 0); err == nil {
		t.Fatal("an unknown status was accepted")
	}
}

// Facts count every referral made before the end, with its person: any
// outcome is a follow-up, "no answer" included, and only "helped" helped.
func TestFacts(t *testing.T) {
	e := newEnv(t)
	ctx := e.s.Ctx
	start := e.s.Clock.Now()
	helped := e.refer(referrals.NewReferral{PostID: e.takenPost})
	notHelped := e.refer(referrals.NewReferral{MemberID: e.member})
	noAnswer := e.refer(referrals.NewReferral{MemberID: e.member})
	e.refer(referrals.NewReferral{MemberID: e.member}) // waiting
	for id, out := range map[string]string{helped.ID: referrals.OutcomeHelped, notHelped.ID: referrals.OutcomeNotHelped, noAnswer.ID: referrals.OutcomeNoAnswer} {
		if _, err := e.refs.Outcome(ctx, e.vol, id, out); err != nil {
			t.Fatal(err)
		}
	}
	e.s.Clock.Advance(time.Hour)
	end := e.s.Clock.Now()
	e.refer(referrals.NewReferral{MemberID: e.member}) // at the end: left out

	facts, err := e.refs.Facts(ctx, e.aid, end)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, f := range facts {
		if f.At.Before(start) || !f.At.Before(end) {
			t.Fatalf("fact at %v outside [%v, %v)", f.At, start, end)
		}
		lines = append(lines, fmt.Sprintf("%s %v %v", f.Person, f.FollowedUp, f.Helped))
	}
	slices.Sort(lines)
	want := []string{
		"member:" + e.member + " false false",
		"member:" + e.member + " true false",
		"member:" + e.member + " true false",
		"user:" + e.author.UserID + " true true",
	}
	if !slices.Equal(lines, want) {
		t.Fatalf("facts\n%v\nwant\n%v", lines, want)
	}
	if facts, err := e.refs.Facts(ctx, bson.NewObjectID().Hex(), end); err != nil || len(facts) != 0 {
		t.Fatalf("another association's facts: %v %v", facts, err)
	}
}

// Deleting the resident's account keeps the referral's counts under a
// pseudonym, drops the note and the request, and sends no follow-up;
// the export shows the resident their referrals with the note, and the
// volunteer the ones they made without whom they concerned.
func TestExportAndErase(t *testing.T) {
	e := newEnv(t)
	ctx := e.s.Ctx
	r := e.refer(referrals.NewReferral{PostID: e.takenPost, Note: "Portare la bolletta"})
	e.refer(referrals.NewReferral{MemberID: e.member})

	data, err := e.refs.Export(ctx, e.author.UserID)
	if err != nil {
		t.Fatal(err)
	}
	mine := data.(referrals.AccountData)
	if len(mine.Referred) != 1 || mine.Referred[0].Note != "Portare la bolletta" || len(mine.Made) != 0 {
		t.Fatalf("the resident's export %+v", mine)
	}
	data, err = e.refs.Export(ctx, e.vol.UserID)
	if err != nil {
		t.Fatal(err)
	}
	made := data.(referrals.AccountData)
	if len(made.Made) != 2 || len(made.Referred) != 0 || made.Made[0].ID != r.ID {
		t.Fatalf("the volunteer's export %+v", made)
	}

	if err := e.refs.Erase(ctx, e.author.UserID); err != nil {
		t.Fatal(err)
	}
	got := e.get(e.coord, r.ID)
	if got.Note != "" || got.UserID != "" || got.PostID != "" {
		t.Fatalf("after erasure %+v", got)
	}
	anon, err := pseudonym.Of(ctx, e.s.Store, e.author.UserID)
	if err != nil {
		t.Fatal(err)
	}
	facts, err := e.refs.Facts(ctx, e.aid, e.s.Clock.Now().Add(time.Second))
	if err != nil || len(facts) != 2 || !slices.ContainsFunc(facts, func(f referrals.Fact) bool { return f.Person == "user:"+anon }) {
		t.Fatalf("facts after erasure %+v %v", facts, err)
	}
	e.s.Clock.Advance(8 * 24 * time.Hour)
	e.sweep()
	for _, n := range e.notes.All() {
		if n.UserID == e.author.UserID {
			t.Fatalf("a follow-up to a deleted account: %+v", n)
		}
	}
}

// A follow-up whose push cannot be queued is asked again once the claim
// runs out, and then once only.
func TestFailedPushIsAskedAgain(t *testing.T) {
	e := newEnv(t)
	r := e.refer(referrals.NewReferral{MemberID: e.member})
	e.s.Clock.Advance(7 * 24 * time.Hour)
	e.notes.Fail(true)
	if err := e.refs.Sweep(e.s.Ctx); err == nil {
		t.Fatal("the sweep hid a failed push")
	}
	if got := e.get(e.vol, r.ID); got.Status != referrals.StatusOpen {
		t.Fatalf("status %s after a failed push, want open", got.Status)
	}
	e.notes.Fail(false)
	e.sweep() // claimed: not yet
	if n := len(e.notes.All()); n != 0 {
		t.Fatalf("%d follow-ups while claimed", n)
	}
	e.s.Clock.Advance(3 * time.Minute)
	e.sweep()
	e.sweep()
	if n := len(e.notes.All()); n != 1 {
		t.Fatalf("%d follow-ups, want 1", n)
	}
}
