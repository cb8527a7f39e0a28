package posts_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"civico/internal/posts"
)

func TestRecentListsTheOpenAndMatchedPostsOfThePeriodNewestFirst(t *testing.T) {
	e := newEnv(t, posts.Options{})
	anna, bruno := e.User("Anna"), e.User("Bruno")
	sid := e.Street(anna, bruno)
	other := e.Street(bruno)

	// Three old posts, before the period.
	for i := range 3 {
		e.Post(anna, sid, newPost("request", "repairs", fmt.Sprintf("old%d", i)))
		e.Clock.Advance(time.Hour)
	}
	e.Clock.Advance(24 * time.Hour)
	since := e.Clock.Now()
	byTitle := map[string]posts.Post{}
	for i := range 6 {
		p := e.Post(anna, sid, newPost("request", "repairs", fmt.Sprintf("new%d", i)))
		byTitle[p.Title] = p
		e.Clock.Advance(time.Hour)
	}
	e.Post(bruno, other, newPost("offer", "lending", "elsewhere"))
	// new1 is closed, new2 removed: not listed; new3 matched: listed.
	if _, err := e.Posts.Close(e.Ctx, anna, byTitle["new1"].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Posts.Remove(e.Ctx, anna, byTitle["new2"].ID, "by mistake"); err != nil {
		t.Fatal(err)
	}
	r := e.Reply(bruno, byTitle["new3"].ID, "I can help")
	if _, err := e.Posts.Accept(e.Ctx, anna, byTitle["new3"].ID, r.ID); err != nil {
		t.Fatal(err)
	}

	titles := func(ps []posts.Post) string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Title)
		}
		return strings.Join(out, ",")
	}
	cases := []struct {
		name  string
		since time.Time
		limit int
		want  string
	}{
		{"the period", since, 0, "new5,new4,new3,new0"},
		{"bounded", since, 2, "new5,new4"},
		{"later", since.Add(4 * time.Hour), 0, "new5,new4"},
		{"everything", time.Time{}, 0, "new5,new4,new3,new0,old2,old1,old0"},
		{"nothing new", e.Clock.Now(), 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := e.Posts.Recent(e.Ctx, sid, c.since, c.limit)
			if err != nil {
				t.Fatal(err)
			}
			if titles(got) != c.want {
				t.Fatalf("Recent = %s, want %s", titles(got), c.want)
			}
		})
	}
	got, err := e.Posts.Recent(e.Ctx, sid, since, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range got {
		if p.StreetID != sid || p.AuthorName != "Anna" || p.Body == "" {
			t.Fatalf("post = %+v", p)
		}
		if p.Title == "new3" && (p.Status != posts.StatusMatched || p.ReplyCount != 1) {
			t.Fatalf("matched post = %+v", p)
		}
	}
	if got, err := e.Posts.Recent(e.Ctx, e.Street(anna), time.Time{}, 0); err != nil || len(got) != 0 {
		t.Fatalf("empty street: %v, %v", got, err)
	}
}

// A street longer than one read of its order is read across reads, and
// the read stops at the period's start, however long the street.
func TestRecentReadsAcrossBatches(t *testing.T) {
	e := newEnv(t, posts.Options{})
	anna := e.User("Anna")
	sid := e.Street(anna)
	for i := range 150 {
		e.Post(anna, sid, newPost("offer", "lessons", fmt.Sprintf("p%03d", i)))
		e.Clock.Advance(time.Minute)
	}
	got, err := e.Posts.Recent(e.Ctx, sid, time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 150 || got[0].Title != "p149" || got[149].Title != "p000" {
		t.Fatalf("got %d posts, first %q", len(got), got[0].Title)
	}
	got, err = e.Posts.Recent(e.Ctx, sid, e.Clock.Now().Add(-10*time.Minute), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 10 || got[9].Title != "p140" {
		t.Fatalf("last ten: %d, %+v", len(got), got)
	}
}
