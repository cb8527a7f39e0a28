package posts_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"civico/internal/events"
	"civico/internal/fault"
	"civico/internal/posts"
)

// Tests of several server processes on one database: a second posts
// service on the same store, with a memory of its own, stands for a second
// process. What one changes, the other must see at once, and races between
// them are settled by the database.

// other returns a second posts service over e's database.
func (e *env) other() *posts.Service {
	e.t.Helper()
	s, err := posts.New(e.Ctx, e.Store, e.Log, e.Clock, e.Streets, nil, posts.Options{PostsPerHour: 10000})
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func TestRepliesThroughTwoProcessesAllLand(t *testing.T) {
	e := newEnv(t, posts.Options{})
	anna, bruno := e.User("Anna"), e.User("Bruno")
	sid := e.Street(anna, bruno)
	a, b := e.Posts, e.other()
	post := e.Post(anna, sid, newPost("request", "repairs", "Trapano"))
	// Both processes have read the post before the replies.
	for _, s := range []*posts.Service{a, b} {
		if _, err := s.Get(e.Ctx, anna, post.ID); err != nil {
			t.Fatal(err)
		}
	}
	const n = 10
	var wg sync.WaitGroup
	for i := range n {
		s := []*posts.Service{a, b}[i%2]
		wg.Go(func() {
			if _, err := s.Reply(e.Ctx, bruno, post.ID, fmt.Sprintf("reply %d", i)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for _, s := range []*posts.Service{a, b} {
		th, err := s.Get(e.Ctx, anna, post.ID)
		if err != nil {
			t.Fatal(err)
		}
		if th.ReplyCount != n || len(th.Replies) != n || th.FirstReplyAt == nil {
			t.Fatalf("post shows reply_count %d, %d replies, first reply at %v; want %d", th.ReplyCount, len(th.Replies), th.FirstReplyAt, n)
		}
	}
}

func TestEditRacingAcceptNeverLosesTheAccept(t *testing.T) {
	e := newEnv(t, posts.Options{})
	anna, bruno := e.User("Anna"), e.User("Bruno")
	sid := e.Street(anna, bruno)
	a, b := e.Posts, e.other()
	for i := range 8 {
		post := e.Post(anna, sid, newPost("request", "repairs", fmt.Sprint("Scala ", i)))
		r := e.Reply(bruno, post.ID, "ce l'ho")
		title := fmt.Sprint("Scala lunga ", i)
		var editErr, acceptErr error
		var wg sync.WaitGroup
		wg.Go(func() { _, editErr = a.Update(e.Ctx, anna, post.ID, posts.Changes{Title: &title}) })
		wg.Go(func() { _, acceptErr = b.Accept(e.Ctx, anna, post.ID, r.ID) })
		wg.Wait()
		if acceptErr != nil {
			t.Fatalf("accept: %v", acceptErr)
		}
		if editErr != nil && fault.KindOf(editErr) != fault.Conflict {
			t.Fatalf("edit failed other than by a clean refusal: %v", editErr)
		}
		for _, s := range []*posts.Service{a, b} {
			th, err := s.Get(e.Ctx, anna, post.ID)
			if err != nil {
				t.Fatal(err)
			}
			if th.Status != posts.StatusMatched || th.AcceptedReplyID != r.ID {
				t.Fatalf("accept lost: status %s, accepted %q", th.Status, th.AcceptedReplyID)
			}
			if editErr == nil && th.Title != title {
				t.Fatalf("edit said done but the title is %q", th.Title)
			}
		}
	}
}

func TestPinsThroughTwoProcessesNeverPassTheLimit(t *testing.T) {
	e := newEnv(t, posts.Options{})
	anna := e.User("Anna")
	sid := e.Street(anna)
	a, b := e.Posts, e.other()
	const n = posts.MaxPinned + 6
	ids := make([]string, n)
	for i := range ids {
		ids[i] = e.Post(anna, sid, newPost("offer", "other", fmt.Sprint("pin ", i))).ID
	}
	var mu sync.Mutex
	pinned := 0
	var wg sync.WaitGroup
	for i, id := range ids {
		s := []*posts.Service{a, b}[i%2]
		wg.Go(func() {
			_, err := s.Pin(e.Ctx, anna, id)
			if err != nil {
				if fe, ok := fault.As(err); !ok || fe.Code != "too_many_pinned" {
					t.Errorf("pin: %v", err)
				}
				return
			}
			mu.Lock()
			pinned++
			mu.Unlock()
		})
	}
	wg.Wait()
	if pinned != posts.MaxPinned {
		t.Fatalf("%d pins succeeded, want %d", pinned, posts.MaxPinned)
	}
	for _, s := range []*posts.Service{a, b} {
		page, _, err := s.Feed(e.Ctx, anna, sid, posts.Query{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		shown := 0
		for _, p := range page {
			if p.Pinned {
				shown++
			}
		}
		if shown != posts.MaxPinned || len(page) != n {
			t.Fatalf("feed shows %d pinned of %d posts, want %d of %d", shown, len(page), posts.MaxPinned, n)
		}
	}
}

func TestFeedShowsAnotherProcessesPostsAtOnce(t *testing.T) {
	e := newEnv(t, posts.Options{})
	anna, bruno := e.User("Anna"), e.User("Bruno")
	sid := e.Street(anna, bruno)
	a, b := e.Posts, e.other()
	first := e.Post(anna, sid, newPost("offer", "lending", "Scala"))
	if got := e.feed(anna, sid, posts.Query{}); len(got) != 1 { // a's feed read once
		t.Fatalf("feed = %v", got)
	}
	made, err := b.Create(e.Ctx, bruno, sid, newPost("request", "repairs", "Trapano"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Reply(e.Ctx, anna, made.ID, "ce l'ho"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Reply(e.Ctx, bruno, first.ID, "grazie"); err != nil {
		t.Fatal(err)
	}
	page, _, err := a.Feed(e.Ctx, anna, sid, posts.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 2 || page[0].ID != made.ID || page[0].ReplyCount != 1 || page[1].ReplyCount != 1 {
		t.Fatalf("a's feed after b's post and replies: %+v", page)
	}
	if _, err := b.Close(e.Ctx, bruno, made.ID); err != nil {
		t.Fatal(err)
	}
	page, _, err = a.Feed(e.Ctx, anna, sid, posts.Query{})
	if err != nil || len(page) != 2 || page[0].Status != posts.StatusClosed {
		t.Fatalf("a's feed after b closed the post: %+v %v", page, err)
	}
}

func TestTwoSweepsExpireAPostOnce(t *testing.T) {
	e := newEnv(t, posts.Options{})
	anna := e.User("Anna")
	sid := e.Street(anna)
	a, b := e.Posts, e.other()
	for _, s := range []*posts.Service{a, b} { // both have swept before the post exists
		if err := s.Sweep(e.Ctx); err != nil {
			t.Fatal(err)
		}
	}
	post, err := b.Create(e.Ctx, anna, sid, newPost("request", "gardening", "Siepe"))
	if err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(posts.ExpiresAfter + time.Minute)
	var wg sync.WaitGroup
	for _, s := range []*posts.Service{a, b, a, b} {
		wg.Go(func() {
			if err := s.Sweep(e.Ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	th, err := a.Get(e.Ctx, anna, post.ID)
	if err != nil || th.Status != posts.StatusClosed || th.CloseReason != posts.CloseExpired {
		t.Fatalf("post = %s/%s, %v; want closed/expired", th.Status, th.CloseReason, err)
	}
	closed := 0
	for _, ev := range e.Published(events.PostUpdated) {
		if strings.Contains(string(ev.Payload), post.ID) {
			closed++
		}
	}
	if closed != 1 {
		t.Fatalf("%d post.updated events for the expiry, want 1", closed)
	}
}

// A process's feed, read before, shows a pin, an unpin and a removal made
// through another process at once.
func TestFeedShowsAnotherProcessesPinsAtOnce(t *testing.T) {
	e := newEnv(t, posts.Options{})
	anna := e.User("Anna")
	sid := e.Street(anna)
	a, b := e.Posts, e.other()
	older := e.Post(anna, sid, newPost("offer", "lending", "Scala"))
	e.Post(anna, sid, newPost("offer", "lending", "Trapano"))
	first := func() posts.Post {
		t.Helper()
		page, _, err := a.Feed(e.Ctx, anna, sid, posts.Query{})
		if err != nil || len(page) == 0 {
			t.Fatalf("feed: %+v %v", page, err)
		}
		return page[0]
	}
	if p := first(); p.ID == older.ID {
		t.Fatal("setup: the older post is first")
	}
	if _, err := b.Pin(e.Ctx, anna, older.ID); err != nil {
		t.Fatal(err)
	}
	if p := first(); p.ID != older.ID || !p.Pinned {
		t.Fatalf("after b pinned it, a's feed starts with %+v", p)
	}
	if _, err := b.Remove(e.Ctx, anna, older.ID, ""); err != nil {
		t.Fatal(err)
	}
	if p := first(); p.ID == older.ID {
		t.Fatalf("after b removed it, a's feed still starts with %+v", p)
	}
}
