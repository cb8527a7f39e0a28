package posts_test

import (
	"testing"

	"civico/internal/events"
	"civico/internal/posts"
	"civico/internal/testutil"
)

// TestPostTextShowsWhatItIs: a title that hides characters shows as empty
// or as another title, on creation and on a later change alike.
func TestPostTextShowsWhatItIs(t *testing.T) {
	e := newEnv(t, posts.Options{})
	anna := e.User("Anna")
	sid := e.Street(anna)
	p := e.Post(anna, sid, newPost(posts.KindRequest, "repairs", "Trapano"))
	cases := []struct {
		name, title, body string
		field, reason     string
	}{
		{"title of only a zero-width space", "\u200B", "b", "title", "invisible_characters"},
		{"title of zero-width spaces and spaces", " \u200B \u200B ", "b", "title", "invisible_characters"},
		{"NUL in the title", "Tra\x00pano", "b", "title", "invisible_characters"},
		{"right-to-left override in the title", "Cerco \u202Eonapart", "b", "title", "invisible_characters"},
		{"byte order mark in the title", "\uFEFFTrapano", "b", "title", "invisible_characters"},
		{"title of only combining marks", "\u0301\u0301", "b", "title", "nothing_visible"},
		{"title of only braille blanks", "\u2800\u2800", "b", "title", "nothing_visible"},
		{"NUL in the body", "t", "Riga\x00", "body", "invisible_characters"},
		{"bidi override in the body", "t", "Chiamate il 333\u202E4321", "body", "invisible_characters"},
		{"body of only zero-width spaces", "t", "\u200B\u200B", "body", "invisible_characters"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.Posts.Create(e.Ctx, anna, sid, posts.NewPost{Kind: posts.KindRequest, Category: "repairs", Title: c.title, Body: c.body})
			testutil.WantField(t, err, c.field, c.reason)
			ch := posts.Changes{Title: &c.title, Body: &c.body}
			_, err = e.Posts.Update(e.Ctx, anna, p.ID, ch)
			testutil.WantField(t, err, c.field, c.reason)
		})
	}
	if got := e.feed(anna, sid, posts.Query{}); len(got) != 1 || got[0] != "Trapano" {
		t.Fatalf("feed after refused input: %q", got)
	}
	if len(e.Published(events.PostCreated)) != 1 || len(e.Published(events.PostUpdated)) != 0 {
		t.Fatal("refused input published an event")
	}
}

// TestPostTextIsNormalised: titles are one composed line; bodies keep their
// lines and tabs, and emoji made of several joined stay whole.
func TestPostTextIsNormalised(t *testing.T) {
	e := newEnv(t, posts.Options{})
	anna := e.User("Anna")
	sid := e.Street(anna)
	p := e.Post(anna, sid, posts.NewPost{Kind: posts.KindOffer, Category: "lessons", Title: "  Lezioni di  fisica\ne chimica ",
		Body: " Cara\u0300 vicina,\n\tsono 👩‍🏫 \n"})
	if p.Title != "Lezioni di fisica e chimica" || p.Body != "Carà vicina,\n\tsono 👩‍🏫" {
		t.Fatalf("created %+q / %+q", p.Title, p.Body)
	}
	title, body := "Perche\u0301 no?", "Prima\nseconda\u0301"
	u, err := e.Posts.Update(e.Ctx, anna, p.ID, posts.Changes{Title: &title, Body: &body})
	if err != nil || u.Title != "Perché no?" || u.Body != "Prima\nsecondá" {
		t.Fatalf("updated %+q / %+q, %v", u.Title, u.Body, err)
	}
}
