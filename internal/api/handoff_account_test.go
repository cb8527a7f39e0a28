package api_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"civico/internal/app"
	"civico/internal/clock"
	"civico/internal/store"
	"civico/internal/testutil"

	"go.mongodb.org/mongo-driver/v2/bson"
)

type handoffExport struct {
	Handoff struct {
		Reminders []struct {
			PostID string `json:"post_id"`
			State  string `json:"state"`
			Answer string `json:"answer"`
		} `json:"reminders"`
		Takes []struct {
			PostID        string `json:"post_id"`
			AssociationID string `json:"association_id"`
		} `json:"takes"`
		Links []struct {
			StreetID      string `json:"street_id"`
			AssociationID string `json:"association_id"`
			Side          string `json:"side"`
			Status        string `json:"status"`
		} `json:"links"`
	} `json:"handoff"`
}

// GET /me/export shows the hand-off's part of a person (the reminders
// they got and answered, the requests they took on for a desk, the links
// they agreed to); DELETE /me unlinks all of it from them: the records
// stay nameless, the post's desk note loses the volunteer's name, and a
// deleted author is not reminded any more.
func TestExportAndDeleteHandoffData(t *testing.T) {
	fake := clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	s := testutil.Start(t, testutil.WithAppOptions(func(o *app.Options) { o.Clock = fake }))
	ctx := context.Background()
	admin, author, coord, vol := s.Register(t, "Anna"), s.Register(t, "Maria"), s.Register(t, "Clara"), s.Register(t, "Vito")
	sid := s.StreetWithMembers(t, admin, "Via Saragozza", author)
	aid := s.Association(t, coord, "Portinaio Saragozza", 500)
	s.Volunteer(t, coord, aid, vol, "volunteer")
	s.Link(t, admin, coord, sid, aid)
	pid := s.Request(t, author, sid, "repairs", "Perde il lavandino")
	later := s.Request(t, author, sid, "transport", "Passaggio")
	s.Accept(t, author, later, s.Reply(t, admin, later, "Ti porto io"))

	fake.Advance(49 * time.Hour)
	if err := s.App.Handoff.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	signIn(t, s, admin, author, coord, vol)
	s.Do(t, "POST", "/associations/"+aid+"/unanswered/"+pid+"/take", nil, vol.Token).Expect(t, http.StatusOK)
	s.Do(t, "POST", "/posts/"+pid+"/handoff", map[string]string{"answer": "still_needed"}, author.Token).Expect(t, http.StatusOK)

	export := func(u *testutil.User) handoffExport {
		t.Helper()
		var out handoffExport
		s.Do(t, "GET", "/me/export", nil, u.Token).Expect(t, http.StatusOK).JSON(t, &out)
		return out
	}
	if h := export(author).Handoff; len(h.Reminders) != 1 || h.Reminders[0].PostID != pid || h.Reminders[0].State != "open" ||
		h.Reminders[0].Answer != "still_needed" || len(h.Takes) != 0 || len(h.Links) != 0 {
		t.Fatalf("author's export %+v", h)
	}
	if h := export(vol).Handoff; len(h.Takes) != 1 || h.Takes[0].PostID != pid || h.Takes[0].AssociationID != aid || len(h.Reminders) != 0 {
		t.Fatalf("volunteer's export %+v", h)
	}
	if h := export(admin).Handoff; len(h.Links) != 1 || h.Links[0].Side != "street" || h.Links[0].Status != "active" || h.Links[0].AssociationID != aid {
		t.Fatalf("admin's export %+v", h)
	}
	if h := export(coord).Handoff; len(h.Links) != 1 || h.Links[0].Side != "association" || h.Links[0].StreetID != sid {
		t.Fatalf("coordinator's export %+v", h)
	}

	// The volunteer leaves: the desk is still on it, nameless.
	s.Do(t, "DELETE", "/me", map[string]string{"password": vol.Password}, vol.Token).Expect(t, http.StatusNoContent)
	var post struct {
		Desk *struct {
			AssociationName string `json:"association_name"`
			VolunteerName   string `json:"volunteer_name"`
		} `json:"desk"`
	}
	s.Do(t, "GET", "/posts/"+pid, nil, author.Token).Expect(t, http.StatusOK).JSON(t, &post)
	if post.Desk == nil || post.Desk.AssociationName != "Portinaio Saragozza" || post.Desk.VolunteerName != "" {
		t.Fatalf("desk note after the volunteer left: %+v", post.Desk)
	}
	db := s.App.Store()
	var take bson.M
	if err := db.Collection("handoff_takes").FindOne(ctx, bson.M{"_id": pid}, &take); err != nil || take["user_id"] != "" || take["association_id"] != aid {
		t.Fatalf("take after the volunteer left: %v %v", take, err)
	}

	// The admin and the author leave: the link stays active, the reminder
	// stays claimed (never sent again) without its author or answer, and
	// the author's matched request earns no reminder.
	s.Do(t, "DELETE", "/me", map[string]string{"password": admin.Password}, admin.Token).Expect(t, http.StatusNoContent)
	s.Do(t, "DELETE", "/me", map[string]string{"password": author.Password}, author.Token).Expect(t, http.StatusNoContent)
	var link bson.M
	if err := db.Collection("handoff_links").FindOne(ctx, bson.M{"_id": sid + ":" + aid}, &link); err != nil ||
		link["street_by"] != "" || link["association_by"] != coord.ID || link["street_ok"] != true {
		t.Fatalf("link after the admin left: %v %v", link, err)
	}
	var rem bson.M
	if err := db.Collection("handoff_reminders").FindOne(ctx, bson.M{"_id": pid + ":open"}, &rem); err != nil ||
		rem["user_id"] != "" || rem["answer"] != nil || rem["answered_at"] != nil {
		t.Fatalf("reminder after the author left: %v %v", rem, err)
	}
	fake.Advance(2 * 24 * time.Hour)
	if err := s.App.Handoff.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.Collection("handoff_reminders").FindOne(ctx, bson.M{"_id": later + ":matched"}, &rem); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a deleted author was reminded: %v %v", rem, err)
	}
	if n, err := db.Collection("handoff_reminders").Count(ctx, bson.M{"user_id": bson.M{"$in": bson.A{author.ID, vol.ID, admin.ID}}}); err != nil || n != 0 {
		t.Fatalf("%d reminders still name a deleted account (%v)", n, err)
	}
	signIn(t, s, coord)
	if h := export(coord).Handoff; len(h.Links) != 1 || h.Links[0].Status != "active" {
		t.Fatalf("coordinator's export after the others left %+v", h)
	}
}
