package handoff_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"civico/internal/handoff"
	"civico/internal/push"
	"civico/internal/testutil"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Requests that were never scheduled (made before the hand-off existed,
// or whose schedule was lost) get their checks after a restart: the open
// one is reminded and listed as unanswered, the matched one reminded, each
// once, and a further restart sends nothing again.
func TestUnscheduledRequestsAreBackfilledAfterRestart(t *testing.T) {
	e := newEnv(t, time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	s := e.s
	ctx := context.Background()
	admin, author, helper := s.Register(t, "Anna"), s.Register(t, "Bruno"), s.Register(t, "Gino")
	sid := s.StreetWithMembers(t, admin, "Via Broccaindosso", author, helper)
	sub := s.SubscribePush(t, author, e.ps)
	open := s.Request(t, author, sid, "company", "Due chiacchiere")
	matched := s.Request(t, author, sid, "transport", "Passaggio in stazione")
	s.Accept(t, author, matched, s.Reply(t, helper, matched, "Ti porto io"))
	testutil.WaitPushes(t, e.ps, sub, 1)                     // the reply
	s.CreatePost(t, author, sid, "offer", "Presto la scala") // offers get no reminder

	// Forget every schedule (both requests' "open" checks, the matched
	// one's "matched" check), as if the requests predated the hand-off.
	due := s.App.Store().Collection("handoff_due")
	if n, err := due.DeleteMany(ctx, bson.M{}); err != nil || n != 3 {
		t.Fatalf("deleted %d schedules (%v), want 3", n, err)
	}
	s.Restart(t)
	e.fake.Advance(3*24*time.Hour + time.Minute)
	e.sweep()
	msgs := testutil.WaitPushes(t, e.ps, sub, 3)
	// The two reminders go out together, through several push workers:
	// either may arrive first.
	reminders := map[string]string{}
	for _, m := range msgs[1:3] {
		r := decode(t, m)
		reminders[r.URL] = r.Title
	}
	if reminders["/posts/"+open+"/handoff"] != "Hai ancora bisogno?" || reminders["/posts/"+matched+"/handoff"] != "Com'è andata?" {
		t.Fatalf("reminders %v, want the open request's and the matched request's", reminders)
	}
	items, _, err := s.App.Handoff.StreetUnanswered(ctx, me(admin), sid, "", 20)
	if err != nil || len(items) != 1 || items[0].Post.ID != open {
		t.Fatalf("unanswered %+v %v, want the open request only", items, err)
	}
	due = s.App.Store().Collection("handoff_due") // the restarted app's store
	if n, err := due.Count(ctx, bson.M{}); err != nil || n != 0 {
		t.Fatalf("%d schedules left (%v), want 0", n, err)
	}

	// Each reminder once: restarting again (and backfilling again) sends
	// nothing; the next push is a new request's reminder.
	// (The push counters start again with each process.)
	waitStats(t, s.App.Push, func(st push.Stats) bool { return st.Sent == 2 && st.Pending == 0 })
	s.Restart(t)
	e.sweep()
	e.sweep()
	e.signIn(author)
	later := s.Request(t, author, sid, "errands", "Spesa al mercato")
	e.fake.Advance(49 * time.Hour)
	e.sweep()
	msgs = testutil.WaitPushes(t, e.ps, sub, 4)
	if r := decode(t, msgs[3]); r.URL != "/posts/"+later+"/handoff" {
		t.Fatalf("fourth push %+v, want the new request's reminder", r)
	}
	if n := len(e.ps.Attempts(sub.Token)); n != 4 {
		t.Fatalf("%d pushes, want 4 (reply, three reminders)", n)
	}
}

type auditLine struct {
	action, actorID, actorName, target, detail string
}

// linkLines are the link lines of the street's audit log and of the
// association's audit trail, oldest first.
func linkLines(t *testing.T, s *testutil.Server, admin, coord *testutil.User, sid, aid string) (street, assoc []auditLine) {
	t.Helper()
	ctx := context.Background()
	es, _, err := s.App.Streets.Audit(ctx, me(admin), sid, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(es) - 1; i >= 0; i-- {
		if strings.HasPrefix(es[i].Action, "link.") {
			street = append(street, auditLine{es[i].Action, es[i].ActorID, es[i].ActorName, es[i].TargetID, es[i].Detail})
		}
	}
	as, _, err := s.App.Portineria.Audit(ctx, me(coord), aid, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(as) - 1; i >= 0; i-- {
		if strings.HasPrefix(as[i].Action, "link.") {
			assoc = append(assoc, auditLine{as[i].Action, as[i].ActorID, as[i].ActorName, "", as[i].Detail})
		}
	}
	return street, assoc
}

// Who asked for a link, who accepted it and who removed it is written on
// both sides: the street's audit log and the association's audit trail.
// Asking twice writes once; someone who is both street admin and
// coordinator agrees for both sides in one line.
func TestLinkConsentIsAuditedOnBothSides(t *testing.T) {
	s := testutil.Start(t)
	admin, coord := s.Register(t, "Anna Admin"), s.Register(t, "Clara Coordinatrice")
	sid := s.CreateStreet(t, admin, "Via Santo Stefano")
	aid := s.Association(t, coord, "Portinaio Santo Stefano", 500)

	s.Do(t, "POST", "/streets/"+sid+"/links", map[string]string{"association_id": aid}, admin.Token).Expect(t, http.StatusOK)
	s.Do(t, "POST", "/streets/"+sid+"/links", map[string]string{"association_id": aid}, admin.Token).Expect(t, http.StatusOK)
	s.Do(t, "POST", "/associations/"+aid+"/links", map[string]string{"street_id": sid}, coord.Token).Expect(t, http.StatusOK)
	s.Do(t, "DELETE", "/associations/"+aid+"/links/"+sid, nil, coord.Token).Expect(t, http.StatusNoContent)

	street, assoc := linkLines(t, s, admin, coord, sid, aid)
	wantStreet := []auditLine{
		{handoff.ActionLinkRequest, admin.ID, "Anna Admin", aid, "side=street"},
		{handoff.ActionLinkAccept, coord.ID, "Clara Coordinatrice", aid, "side=association"},
		{handoff.ActionLinkRemove, coord.ID, "Clara Coordinatrice", aid, "side=association"},
	}
	wantAssoc := []auditLine{
		{handoff.ActionLinkRequest, admin.ID, "Anna Admin", "", "street=" + sid + " side=street"},
		{handoff.ActionLinkAccept, coord.ID, "Clara Coordinatrice", "", "street=" + sid + " side=association"},
		{handoff.ActionLinkRemove, coord.ID, "Clara Coordinatrice", "", "street=" + sid + " side=association"},
	}
	if !slices.Equal(street, wantStreet) {
		t.Errorf("street's audit log:\n got %+v\nwant %+v", street, wantStreet)
	}
	if !slices.Equal(assoc, wantAssoc) {
		t.Errorf("association's trail:\n got %+v\nwant %+v", assoc, wantAssoc)
	}

	// The coordinator's own street: one agreement covers both sides.
	own := s.CreateStreet(t, coord, "Vicolo Alemagna")
	s.Do(t, "POST", "/associations/"+aid+"/links", map[string]string{"street_id": own}, coord.Token).Expect(t, http.StatusOK)
	street, assoc = linkLines(t, s, coord, coord, own, aid)
	if want := []auditLine{{handoff.ActionLinkAccept, coord.ID, "Clara Coordinatrice", aid, "side=both"}}; !slices.Equal(street, want) {
		t.Errorf("own street's audit log: %+v, want %+v", street, want)
	}
	if n := len(assoc); n != 4 || assoc[3].detail != "street="+own+" side=both" || assoc[3].action != handoff.ActionLinkAccept {
		t.Errorf("association's trail after the second link: %+v", assoc)
	}
	// A refused request writes nothing.
	s.Do(t, "DELETE", "/streets/"+sid+"/links/"+aid, nil, admin.Token).ExpectError(t, http.StatusNotFound, "link_not_found")
	if street, _ := linkLines(t, s, admin, coord, sid, aid); len(street) != 3 {
		t.Errorf("a failed unlink was logged: %+v", street)
	}
}
