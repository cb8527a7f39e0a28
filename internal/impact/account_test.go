package impact_test

import (
	"reflect"
	"testing"
	"time"

	"civico/internal/auth"
	"civico/internal/impact"
	"civico/internal/posts"
	"civico/internal/pseudonym"
	"civico/internal/testutil"
)

// A deleted account leaves the street's figures as they were: people,
// exchanges, helpers, reciprocity and new pairs count the pseudonym as the
// one neighbour the person was.
func TestFiguresUnchangedWhenAccountDeleted(t *testing.T) {
	e := testutil.NewServices(t, posts.Options{})
	names := []string{"Anna", "Bruno", "Carla", "Dario", "Elena", "Franco"}
	u := map[string]auth.Principal{}
	for _, n := range names {
		u[n] = e.User(n)
	}
	sid := e.Street(u["Anna"], u["Bruno"], u["Carla"], u["Dario"], u["Elena"], u["Franco"])
	exchange := func(kind, category, author, helper string) {
		t.Helper()
		p := e.Post(u[author], sid, posts.NewPost{Kind: kind, Category: category, Title: category + " " + author, Body: "…"})
		e.Clock.Advance(20 * time.Minute)
		r := e.Reply(u[helper], p.ID, "Io!")
		if _, err := e.Posts.Accept(e.Ctx, u[author], p.ID, r.ID); err != nil {
			t.Fatal(err)
		}
		e.Clock.Advance(3 * time.Hour)
		if _, err := e.Posts.Done(e.Ctx, u[author], p.ID, ""); err != nil {
			t.Fatal(err)
		}
		e.Clock.Advance(24 * time.Hour)
	}
	exchange(posts.KindRequest, "repairs", "Anna", "Bruno")
	exchange(posts.KindRequest, "errands", "Bruno", "Anna") // Bruno gives and receives
	exchange(posts.KindOffer, "lending", "Bruno", "Carla")
	exchange(posts.KindRequest, "company", "Dario", "Elena")
	exchange(posts.KindRequest, "repairs", "Elena", "Bruno")
	// Bruno's request still open, answered by Franco: it will be closed.
	open := e.Post(u["Bruno"], sid, posts.NewPost{Kind: posts.KindRequest, Category: "transport", Title: "Passaggio", Body: "…"})
	e.Clock.Advance(10 * time.Minute)
	e.Reply(u["Franco"], open.ID, "Posso io")

	svc := impact.New(e.Posts, e.Streets, nil, nil, nil, nil, e.Clock)
	from, to := testutil.ServicesEpoch.AddDate(0, -1, 0), e.Clock.Now().Add(time.Hour)
	figures := func() impact.Report {
		t.Helper()
		facts, err := svc.StreetFacts(e.Ctx, sid, to)
		if err != nil {
			t.Fatal(err)
		}
		return impact.Compute(facts, from, to)
	}
	before := figures()
	if before.Suppressed || before.People == nil || *before.People != 6 || *before.Exchanges != 5 || *before.Helpers != 3 {
		t.Fatalf("figures before %+v", before.Figures)
	}

	alias := pseudonym.With("k", u["Bruno"].UserID)
	if err := e.Posts.Erase(e.Ctx, u["Bruno"].UserID, alias); err != nil {
		t.Fatal(err)
	}
	if err := e.Moderation.Erase(e.Ctx, u["Bruno"].UserID, alias); err != nil {
		t.Fatal(err)
	}
	if err := e.Streets.Erase(e.Ctx, u["Bruno"].UserID, alias); err != nil {
		t.Fatal(err)
	}
	if after := figures(); !reflect.DeepEqual(before, after) {
		t.Fatalf("figures changed:\nbefore %+v\nafter  %+v", before.Figures, after.Figures)
	}
	e.Restart()
	svc = impact.New(e.Posts, e.Streets, nil, nil, nil, nil, e.Clock)
	if after := figures(); !reflect.DeepEqual(before, after) {
		t.Fatalf("figures changed after restart:\nbefore %+v\nafter  %+v", before.Figures, after.Figures)
	}
}
