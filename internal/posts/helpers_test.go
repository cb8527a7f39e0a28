package posts_test

import (
	"testing"

	"civico/internal/auth"
	"civico/internal/posts"
	"civico/internal/testutil"
)

// env is the posts service with real streets, auth and events on a
// database of its own, a fake clock and a record of published events.
type env struct {
	*testutil.Services
	t *testing.T
}

func newEnv(t *testing.T, opts posts.Options) *env {
	t.Helper()
	return &env{Services: testutil.NewServices(t, opts), t: t}
}

func newPost(kind, category, title string) posts.NewPost {
	return posts.NewPost{Kind: kind, Category: category, Title: title, Body: "Body of " + title}
}

// feed reads the whole feed page by page and returns the titles.
func (e *env) feed(u auth.Principal, sid string, q posts.Query) []string {
	e.t.Helper()
	var out []string
	for range 1000 {
		page, next, err := e.Posts.Feed(e.Ctx, u, sid, q)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, p := range page {
			out = append(out, p.Title)
		}
		if next == "" {
			return out
		}
		q.Cursor = next
	}
	e.t.Fatal("feed does not end")
	return nil
}
