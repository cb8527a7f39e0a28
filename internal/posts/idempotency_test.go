package posts_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"civico/internal/auth"
	"civico/internal/events"
	"civico/internal/posts"
	"civico/internal/store"
	"civico/internal/testutil"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func keyed(title, key string) posts.NewPost {
	in := newPost("request", "repairs", title)
	in.IdempotencyKey = key
	return in
}

// once creates in and fails the test on error.
func (e *env) once(u auth.Principal, sid string, in posts.NewPost) (posts.Post, bool) {
	e.t.Helper()
	p, created, err := e.Posts.CreateOnce(e.Ctx, u, sid, in)
	if err != nil {
		e.t.Fatal(err)
	}
	return p, created
}

func TestIdempotentPostIsCreatedOnce(t *testing.T) {
	e := newEnv(t, posts.Options{})
	anna := e.User("Anna")
	sid := e.Street(anna)
	first, created := e.once(anna, sid, keyed("Drill", "outbox-item-0001"))
	if !created {
		t.Fatal("first request not created")
	}
	spaced := keyed("Drill", "outbox-item-0001")
	spaced.Title = "  Drill " // normalised the same way
	again, created := e.once(anna, sid, spaced)
	if created || again.ID != first.ID || again.Title != "Drill" {
		t.Fatalf("retry = %+v (created %v), want replay of %s", again, created, first.ID)
	}
	if got := e.feed(anna, sid, posts.Query{}); len(got) != 1 {
		t.Fatalf("feed = %v, want one post", got)
	}
	if n := len(e.Published(events.PostCreated)); n != 1 {
		t.Fatalf("%d post.created events, want 1", n)
	}
	// Create (no flag) replays too.
	p, err := e.Posts.Create(e.Ctx, anna, sid, keyed("Drill", "outbox-item-0001"))
	if err != nil || p.ID != first.ID {
		t.Fatalf("Create with the key = %v, %v", p.ID, err)
	}
	// Without a key every request is a new post, as before.
	e.Post(anna, sid, newPost("request", "repairs", "Drill"))
	e.Post(anna, sid, newPost("request", "repairs", "Drill"))
	if got := e.feed(anna, sid, posts.Query{}); len(got) != 3 {
		t.Fatalf("feed = %v, want three posts", got)
	}
}

func TestIdempotentPostConcurrentDuplicatesMakeOnePost(t *testing.T) {
	// A quota of 2: the ten copies of one request are charged once.
	e := newEnv(t, posts.Options{PostsPerHour: 2})
	anna := e.User("Anna")
	sid := e.Street(anna)
	const n = 10
	ids := make([]string, n)
	made := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			p, created, err := e.Posts.CreateOnce(e.Ctx, anna, sid, keyed("Ladder", "same-key-concurrent"))
			ids[i], made[i], errs[i] = p.ID, created, err
		})
	}
	close(start)
	wg.Wait()
	creators := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		if ids[i] != ids[0] {
			t.Fatalf("ids differ: %v", ids)
		}
		if made[i] {
			creators++
		}
	}
	if creators != 1 {
		t.Fatalf("%d requests say they created the post, want 1", creators)
	}
	if got := e.feed(anna, sid, posts.Query{}); len(got) != 1 {
		t.Fatalf("feed = %v, want one post", got)
	}
	if n := len(e.Published(events.PostCreated)); n != 1 {
		t.Fatalf("%d post.created events, want 1", n)
	}
	// One of two posts used: one more goes through, the next is limited.
	e.once(anna, sid, keyed("Second", "another-key-0002"))
	_, _, err := e.Posts.CreateOnce(e.Ctx, anna, sid, keyed("Third", "another-key-0003"))
	testutil.WantCode(t, err, "rate_limited")
	// A replay is never limited.
	if _, created := e.once(anna, sid, keyed("Ladder", "same-key-concurrent")); created {
		t.Fatal("replay created a post")
	}
}

func TestIdempotencyKeyWithAnotherRequestIsAConflict(t *testing.T) {
	e := newEnv(t, posts.Options{})
	anna := e.User("Anna")
	sid, other := e.Street(anna), e.Street(anna)
	e.once(anna, sid, keyed("Drill", "conflicting-key"))
	cases := []struct {
		name string
		sid  string
		in   posts.NewPost
	}{
		{"other title", sid, keyed("Hammer", "conflicting-key")},
		{"other kind", sid, func() posts.NewPost { in := keyed("Drill", "conflicting-key"); in.Kind = "offer"; return in }()},
		{"other street", other, keyed("Drill", "conflicting-key")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := e.Posts.CreateOnce(e.Ctx, anna, c.sid, c.in)
			testutil.WantCode(t, err, "idempotency_conflict")
		})
	}
	if got := e.feed(anna, sid, posts.Query{}); len(got) != 1 || got[0] != "Drill" {
		t.Fatalf("feed = %v", got)
	}
	if got := e.feed(anna, other, posts.Query{}); len(got) != 0 {
		t.Fatalf("other street = %v", got)
	}
}

func TestIdempotencyKeysAreScopedPerUser(t *testing.T) {
	e := newEnv(t, posts.Options{})
	anna, bruno := e.User("Anna"), e.User("Bruno")
	sid := e.Street(anna, bruno)
	a, created1 := e.once(anna, sid, keyed("Drill", "shared-key-1234"))
	b, created2 := e.once(bruno, sid, keyed("Drill", "shared-key-1234"))
	if !created1 || !created2 || a.ID == b.ID || b.AuthorID != bruno.UserID {
		t.Fatalf("anna %s (%v), bruno %s (%v): want two posts", a.ID, created1, b.ID, created2)
	}
	// The same key on a reply is another scope than on a post.
	r, created, err := e.Posts.ReplyOnce(e.Ctx, anna, b.ID, "I have one", "shared-key-1234")
	if err != nil || !created || r.ID == "" {
		t.Fatalf("reply = %+v %v %v", r, created, err)
	}
}

func TestIdempotentPostReplaysAfterRestart(t *testing.T) {
	e := newEnv(t, posts.Options{})
	anna := e.User("Anna")
	sid := e.Street(anna)
	first, _ := e.once(anna, sid, keyed("Drill", "before-restart"))
	e.Restart()
	again, created := e.once(anna, sid, keyed("Drill", "before-restart"))
	if created || again.ID != first.ID {
		t.Fatalf("after restart: %s created=%v, want replay of %s", again.ID, created, first.ID)
	}
	if got := e.feed(anna, sid, posts.Query{}); len(got) != 1 {
		t.Fatalf("feed = %v", got)
	}
}

func TestIdempotentPostTakesOverAClaimWithoutItsPost(t *testing.T) {
	e := newEnv(t, posts.Options{})
	anna := e.User("Anna")
	sid := e.Street(anna)
	lost, _ := e.once(anna, sid, keyed("Drill", "crashed-before-post"))
	// As if the process had died after the claim and the journal, before
	// the post: its document is not there.
	oid, _ := store.ID(lost.ID)
	if n, err := e.Store.Collection("posts").DeleteOne(e.Ctx, bson.M{"_id": oid}); err != nil || n != 1 {
		t.Fatalf("delete: %d %v", n, err)
	}
	e.Restart()
	// Within ClaimGrace the claim is left to its request, which may still
	// be writing the post on another process.
	_, _, err := e.Posts.CreateOnce(e.Ctx, anna, sid, keyed("Drill", "crashed-before-post"))
	testutil.WantCode(t, err, "idempotency_in_progress")
	e.Clock.Advance(posts.ClaimGrace)
	p, created := e.once(anna, sid, keyed("Drill", "crashed-before-post"))
	if !created || p.ID == lost.ID {
		t.Fatalf("retry = %s created=%v: want the post written now, with a new id", p.ID, created)
	}
	again, created := e.once(anna, sid, keyed("Drill", "crashed-before-post"))
	if created || again.ID != p.ID {
		t.Fatalf("second retry = %s created=%v, want %s", again.ID, created, p.ID)
	}
	if got := e.feed(anna, sid, posts.Query{}); len(got) != 1 {
		t.Fatalf("feed = %v, want one post", got)
	}
}

func TestIdempotencyClaimsExpire(t *testing.T) {
	e := newEnv(t, posts.Options{})
	anna := e.User("Anna")
	sid := e.Street(anna)
	first, _ := e.once(anna, sid, keyed("Drill", "expiring-key"))
	claims := e.Store.Collection("post_claims")
	count := func() int64 {
		t.Helper()
		n, err := claims.Count(e.Ctx, bson.M{})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	e.Clock.Advance(posts.ClaimTTL - time.Hour)
	if err := e.Posts.SweepClaims(e.Ctx); err != nil {
		t.Fatal(err)
	}
	if count() != 1 {
		t.Fatal("a claim younger than ClaimTTL was swept")
	}
	if again, created := e.once(anna, sid, keyed("Drill", "expiring-key")); created || again.ID != first.ID {
		t.Fatal("a young claim no longer replays")
	}
	e.Clock.Advance(2 * time.Hour)
	if err := e.Posts.SweepClaims(e.Ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 0 {
		t.Fatalf("%d claims left after the sweep", n)
	}
	// The key is forgotten: the same request makes a new post.
	p, created := e.once(anna, sid, keyed("Drill", "expiring-key"))
	if !created || p.ID == first.ID {
		t.Fatalf("after expiry: %s created=%v", p.ID, created)
	}
}

func TestBadIdempotencyKeysAreRefused(t *testing.T) {
	e := newEnv(t, posts.Options{})
	anna := e.User("Anna")
	sid := e.Street(anna)
	target := e.Post(anna, sid, newPost("request", "repairs", "Target"))
	for name, key := range map[string]string{
		"too short":  "1234567",
		"too long":   strings.Repeat("k", 129),
		"space":      "has a space",
		"control":    "tab\there-key",
		"non-ascii":  "chiave-città",
		"whitespace": "        ",
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := e.Posts.CreateOnce(e.Ctx, anna, sid, keyed("Bad", key))
			testutil.WantCode(t, err, "invalid_idempotency_key")
			_, _, err = e.Posts.ReplyOnce(e.Ctx, anna, target.ID, "Bad", key)
			testutil.WantCode(t, err, "invalid_idempotency_key")
		})
	}
	if got := e.feed(anna, sid, posts.Query{}); len(got) != 1 {
		t.Fatalf("feed = %v", got)
	}
	th, err := e.Posts.Get(e.Ctx, anna, target.ID)
	if err != nil || len(th.Replies) != 0 {
		t.Fatalf("replies = %v, %v", th.Replies, err)
	}
	// The bounds themselves are fine.
	e.once(anna, sid, keyed("Eight", "12345678"))
	e.once(anna, sid, keyed("Long", strings.Repeat("~", 128)))
}

func TestIdempotentReplyIsWrittenOnce(t *testing.T) {
	e := newEnv(t, posts.Options{RepliesPerHour: 2})
	anna, bruno := e.User("Anna"), e.User("Bruno")
	sid := e.Street(anna, bruno)
	post := e.Post(anna, sid, newPost("request", "repairs", "Drill"))
	const n = 10
	ids := make([]string, n)
	made := make([]bool, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r, created, err := e.Posts.ReplyOnce(e.Ctx, bruno, post.ID, "I have one", "reply-key-0001")
			if err != nil {
				t.Error(err)
			}
			ids[i], made[i] = r.ID, created
		})
	}
	wg.Wait()
	creators := 0
	for i := range n {
		if ids[i] != ids[0] || ids[i] == "" {
			t.Fatalf("ids = %v", ids)
		}
		if made[i] {
			creators++
		}
	}
	th, err := e.Posts.Get(e.Ctx, anna, post.ID)
	if err != nil || creators != 1 || th.ReplyCount != 1 || len(th.Replies) != 1 || th.Replies[0].ID != ids[0] {
		t.Fatalf("creators %d, thread %+v, %v", creators, th, err)
	}
	if k := len(e.Published(events.ReplyCreated)); k != 1 {
		t.Fatalf("%d reply.created events", k)
	}
	_, _, err = e.Posts.ReplyOnce(e.Ctx, bruno, post.ID, "Another text", "reply-key-0001")
	testutil.WantCode(t, err, "idempotency_conflict")
	// One reply of two charged: one more is allowed, then the limit, which
	// a replay does not hit.
	other := e.Post(anna, sid, newPost("request", "repairs", "Ladder"))
	e.Reply(bruno, other.ID, "me")
	_, err = e.Posts.Reply(e.Ctx, bruno, other.ID, "me again")
	testutil.WantCode(t, err, "rate_limited")
	if r, created, err := e.Posts.ReplyOnce(e.Ctx, bruno, post.ID, "I have one", "reply-key-0001"); err != nil || created || r.ID != ids[0] {
		t.Fatalf("replay while limited: %+v %v %v", r, created, err)
	}
	// The post closes; the lost answer's retry still gets its reply back.
	if _, err := e.Posts.Close(e.Ctx, anna, post.ID); err != nil {
		t.Fatal(err)
	}
	e.Restart()
	r, created, err := e.Posts.ReplyOnce(e.Ctx, bruno, post.ID, " I have one ", "reply-key-0001")
	if err != nil || created || r.ID != ids[0] {
		t.Fatalf("replay on a closed post: %+v %v %v", r, created, err)
	}
}

func TestIdempotentReplyCompletesAReplyNeverListed(t *testing.T) {
	e := newEnv(t, posts.Options{})
	anna, bruno := e.User("Anna"), e.User("Bruno")
	sid := e.Street(anna, bruno)
	post := e.Post(anna, sid, newPost("request", "repairs", "Drill"))
	r, _, err := e.Posts.ReplyOnce(e.Ctx, bruno, post.ID, "I have one", "reply-crash-key")
	if err != nil {
		t.Fatal(err)
	}
	// As if the process had died after writing the reply, before listing
	// it on the post.
	oid, _ := store.ID(post.ID)
	if _, err := e.Store.Collection("posts").UpdateOne(e.Ctx, bson.M{"_id": oid},
		bson.M{"$set": bson.M{"reply_ids": bson.A{}, "reply_count": 0}}); err != nil {
		t.Fatal(err)
	}
	e.Restart()
	if th, _ := e.Posts.Get(e.Ctx, anna, post.ID); th.ReplyCount != 0 {
		t.Fatalf("setup: reply count %d", th.ReplyCount)
	}
	again, created, err := e.Posts.ReplyOnce(e.Ctx, bruno, post.ID, "I have one", "reply-crash-key")
	if err != nil || !created || again.ID != r.ID {
		t.Fatalf("retry = %+v created=%v %v, want %s listed now", again, created, err, r.ID)
	}
	th, err := e.Posts.Get(e.Ctx, anna, post.ID)
	if err != nil || th.ReplyCount != 1 || len(th.Replies) != 1 || th.Replies[0].ID != r.ID {
		t.Fatalf("thread = %+v %v", th, err)
	}
}
