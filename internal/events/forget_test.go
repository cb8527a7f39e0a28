package events_test

import (
	"context"
	"strings"
	"testing"

	"civico/internal/clock"
	"civico/internal/events"
	"civico/internal/testutil"
)

func TestForgetRewritesKeptEventsOfADeletedAccount(t *testing.T) {
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) { testForget(t, events.Options{Shared: mode.shared}) })
	}
}

func testForget(t *testing.T, opts events.Options) {
	st := testutil.Store(t)
	ctx := context.Background()
	l := newLog(t, st, clock.System{}, opts)
	const anna, alias, sid = "aaaaaaaaaaaaaaaaaaaaaaaa", "deleted-123", "street1"
	for _, e := range []events.Event{
		{Type: events.MemberJoined, ActorID: anna, SubjectID: anna, Data: events.MemberData{UserID: anna, Name: "Anna Segreta", Role: "member", Status: "active"}},
		{Type: events.PostCreated, ActorID: anna, SubjectID: anna, Data: events.PostData{ID: "p1", Title: "Trapano", Body: "Chiamatemi al 333", AuthorID: anna, AuthorName: "Anna Segreta",
			Photos: []events.Photo{{ID: "annasphoto", Alt: "Il mio trapano", URL: "/api/v1/photos/annasphoto"}}}},
		{Type: events.ReplyCreated, ActorID: "bruno", SubjectID: anna, Data: events.ReplyData{ID: "r1", PostID: "p1", PostAuthorID: anna, AuthorID: "bruno", AuthorName: "Bruno", Body: "Eccomi"}},
		{Type: events.PostCreated, ActorID: "bruno", SubjectID: "bruno", Data: events.PostData{ID: "p2", Title: "Altro", Body: "Di Bruno", AuthorID: "bruno", AuthorName: "Bruno"}},
	} {
		e.StreetID = sid
		if _, err := l.Publish(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if sids, err := l.Forget(ctx, anna, alias); err != nil || len(sids) != 1 || sids[0] != sid {
		t.Fatalf("forget: streets %v, %v", sids, err)
	}
	for _, fresh := range []bool{false, true} {
		log := l
		if fresh { // a new process reads the database
			if err := l.Close(ctx); err != nil {
				t.Fatal(err)
			}
			log = newLog(t, st, clock.System{}, opts)
		}
		got, err := log.Since(ctx, sid, 0, 100)
		if err != nil || len(got) != 4 {
			t.Fatalf("fresh=%v: %d events, %v", fresh, len(got), err)
		}
		for _, e := range got {
			p := string(e.Payload)
			if strings.Contains(p, "Anna") || strings.Contains(p, anna) || strings.Contains(p, "333") || strings.Contains(p, "annasphoto") || e.ActorID == anna || e.SubjectID == anna {
				t.Fatalf("fresh=%v: event %s %s still names Anna (actor %s, subject %s)", fresh, e.Type, p, e.ActorID, e.SubjectID)
			}
		}
		if p := string(got[1].Payload); !strings.Contains(p, `"author_deleted":true`) || !strings.Contains(p, alias) {
			t.Fatalf("fresh=%v: Anna's post event %s", fresh, p)
		}
		if p := string(got[2].Payload); !strings.Contains(p, "Eccomi") || !strings.Contains(p, "Bruno") {
			t.Fatalf("fresh=%v: Bruno's reply lost its text: %s", fresh, p)
		}
		if p := string(got[3].Payload); !strings.Contains(p, "Di Bruno") {
			t.Fatalf("fresh=%v: Bruno's post changed: %s", fresh, p)
		}
	}
}
