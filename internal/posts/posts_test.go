package posts_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"civico/internal/events"
	"civico/internal/fault"
	"civico/internal/posts"
	"civico/internal/streets"
	"civico/internal/testutil"
)

func TestCreateRefusesBadInputAndChangesNothing(t *testing.T) {
	e := newEnv(t, posts.Options{})
	anna := e.User("Anna")
	sid := e.Street(anna)
	now := e.Clock.Now()
	long := func(n int) string { return strings.Repeat("x", n) }
	cases := []struct {
		name          string
		in            posts.NewPost
		field, reason string
	}{
		{"unknown kind", posts.NewPost{Kind: "gift", Category: "repairs", Title: "t", Body: "b"}, "kind", "invalid"},
		{"unknown category", posts.NewPost{Kind: "request", Category: "plumbing", Title: "t", Body: "b"}, "category", "invalid"},
		{"empty title", posts.NewPost{Kind: "request", Category: "repairs", Title: "  ", Body: "b"}, "title", "required"},
		{"long title", posts.NewPost{Kind: "request", Category: "repairs", Title: long(121), Body: "b"}, "title", "too_long"},
		{"empty body", posts.NewPost{Kind: "request", Category: "repairs", Title: "t"}, "body", "required"},
		{"long body", posts.NewPost{Kind: "request", Category: "repairs", Title: "t", Body: long(4001)}, "body", "too_long"},
		{"window backwards", posts.NewPost{Kind: "offer", Category: "lessons", Title: "t", Body: "b",
			When: &posts.TimeWindow{From: now.Add(2 * time.Hour), To: now.Add(time.Hour)}}, "when", "invalid"},
		{"window past", posts.NewPost{Kind: "offer", Category: "lessons", Title: "t", Body: "b",
			When: &posts.TimeWindow{From: now.Add(-48 * time.Hour), To: now.Add(-47 * time.Hour)}}, "when", "in_past"},
		{"on behalf without name", posts.NewPost{Kind: "request", Category: "company", Title: "t", Body: "b",
			OnBehalf: &posts.OnBehalf{AssociationID: "a", MemberID: "m"}}, "on_behalf.member_name", "required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.Posts.Create(e.Ctx, anna, sid, c.in)
			testutil.WantField(t, err, c.field, c.reason)
		})
	}
	if got := e.feed(anna, sid, posts.Query{}); len(got) != 0 {
		t.Fatalf("bad input created %v", got)
	}
	if len(e.Published(events.PostCreated)) != 0 {
		t.Fatal("bad input published an event")
	}
	// Exactly at the limits it is fine (runes, not bytes).
	p := e.Post(anna, sid, posts.NewPost{Kind: "offer", Category: "lessons", Title: strings.Repeat("è", 120), Body: strings.Repeat("à", 4000),
		When: &posts.TimeWindow{From: now.Add(time.Hour), To: now.Add(3 * time.Hour)}})
	if p.Status != posts.StatusOpen || p.When == nil || !p.ExpiresAt.Equal(p.CreatedAt.Add(posts.ExpiresAfter)) {
		t.Fatalf("post = %+v", p)
	}
}

func TestFeedIsNewestFirstWithPinnedOnTop(t *testing.T) {
	e := newEnv(t, posts.Options{})
	anna, bruno := e.User("Anna"), e.User("Bruno")
	sid := e.Street(anna, bruno)
	var ids []string
	for i := range 5 {
		e.Clock.Advance(time.Minute)
		ids = append(ids, e.Post(bruno, sid, newPost("request", "repairs", fmt.Sprintf("p%d", i))).ID)
	}
	if got := strings.Join(e.feed(bruno, sid, posts.Query{}), ","); got != "p4,p3,p2,p1,p0" {
		t.Fatalf("feed = %s", got)
	}
	if _, err := e.Posts.Pin(e.Ctx, anna, ids[1]); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(time.Minute)
	if _, err := e.Posts.Pin(e.Ctx, anna, ids[3]); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(e.feed(bruno, sid, posts.Query{Limit: 2}), ","); got != "p3,p1,p4,p2,p0" {
		t.Fatalf("feed with pins = %s", got)
	}
	// A plain member may not pin; pins survive a restart.
	_, err := e.Posts.Pin(e.Ctx, bruno, ids[0])
	testutil.WantCode(t, err, "not_admin")
	e.Restart()
	if got := strings.Join(e.feed(bruno, sid, posts.Query{}), ","); got != "p3,p1,p4,p2,p0" {
		t.Fatalf("feed after restart = %s", got)
	}
	if _, err := e.Posts.Unpin(e.Ctx, anna, ids[3]); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(e.feed(bruno, sid, posts.Query{}), ","); got != "p1,p4,p3,p2,p0" {
		t.Fatalf("feed after unpin = %s", got)
	}
}

func TestFeedFilters(t *testing.T) {
	e := newEnv(t, posts.Options{})
	anna, bruno := e.User("Anna"), e.User("Bruno")
	sid := e.Street(anna, bruno)
	e.Post(bruno, sid, posts.NewPost{Kind: "request", Category: "repairs", Title: "Trapano cercasi", Body: "Mi serve un trapano (.*) per sabato"})
	e.Post(bruno, sid, posts.NewPost{Kind: "offer", Category: "lessons", Title: "Lezioni di PERCUSSIONI", Body: "Il martedì"})
	e.Post(anna, sid, posts.NewPost{Kind: "request", Category: "dog_walking", Title: "Passeggiata per Fido", Body: "Città vecchia"})
	matched := e.Post(anna, sid, posts.NewPost{Kind: "request", Category: "repairs", Title: "Rubinetto", Body: "perde"})
	r := e.Reply(bruno, matched.ID, "vengo io")
	if _, err := e.Posts.Accept(e.Ctx, anna, matched.ID, r.ID); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		q    posts.Query
		want string
	}{
		{"all", posts.Query{}, "Rubinetto,Passeggiata per Fido,Lezioni di PERCUSSIONI,Trapano cercasi"},
		{"kind", posts.Query{Kind: "offer"}, "Lezioni di PERCUSSIONI"},
		{"category", posts.Query{Category: "repairs"}, "Rubinetto,Trapano cercasi"},
		{"status", posts.Query{Status: "matched"}, "Rubinetto"},
		{"statuses", posts.Query{Status: "open,matched", Kind: "request"}, "Rubinetto,Passeggiata per Fido,Trapano cercasi"},
		{"text, any case", posts.Query{Q: "percussioni"}, "Lezioni di PERCUSSIONI"},
		{"text in body, accents", posts.Query{Q: "CITTÀ"}, "Passeggiata per Fido"},
		{"text is not a pattern", posts.Query{Q: "(.*)"}, "Trapano cercasi"},
		{"a dot is a dot", posts.Query{Q: "."}, "Trapano cercasi"},
		{"combined", posts.Query{Kind: "request", Category: "repairs", Q: "TRAPANO"}, "Trapano cercasi"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := strings.Join(e.feed(bruno, sid, c.q), ","); got != c.want {
				t.Fatalf("%+v: %s, want %s", c.q, got, c.want)
			}
		})
	}
	bad := []struct {
		q             posts.Query
		field, reason string
	}{
		{posts.Query{Kind: "gift"}, "kind", "invalid"},
		{posts.Query{Category: "plumbing"}, "category", "invalid"},
		{posts.Query{Status: "open,gone"}, "status", "invalid"},
		{posts.Query{Q: strings.Repeat("q", 101)}, "q", "too_long"},
	}
	for _, b := range bad {
		_, _, err := e.Posts.Feed(e.Ctx, bruno, sid, b.q)
		testutil.WantField(t, err, b.field, b.reason)
	}
}

// Paging through the feed while new posts keep arriving yields every post
// that existed when paging began exactly once, in order — also past the
// in-memory window, where pages come from the journal.
func TestFeedPagingNeverSkipsOrRepeatsWhilePostsArrive(t *testing.T) {
	for _, window := range []int{200, 7} {
		t.Run(fmt.Sprintf("window %d", window), func(t *testing.T) {
			e := newEnv(t, posts.Options{Window: window, ExamineBudget: 5})
			anna := e.User("Anna")
			sid := e.Street(anna)
			var want []string
			for i := range 40 {
				e.Post(anna, sid, newPost("offer", "lending", fmt.Sprintf("old %02d", i)))
				want = append([]string{fmt.Sprintf("old %02d", i)}, want...)
			}
			var got []string
			q := posts.Query{Limit: 6}
			for page := 0; ; page++ {
				items, next, err := e.Posts.Feed(e.Ctx, anna, sid, q)
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range items {
					got = append(got, p.Title)
				}
				if next == "" {
					break
				}
				q.Cursor = next
				// New posts land between pages.
				e.Post(anna, sid, newPost("request", "errands", fmt.Sprintf("new %d", page)))
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("paged feed:\n%v\nwant\n%v", got, want)
			}
		})
	}
}

func TestCursorsCannotBeTamperedOrMoved(t *testing.T) {
	e := newEnv(t, posts.Options{})
	anna := e.User("Anna")
	sid := e.Street(anna)
	other := e.Street(anna)
	for i := range 3 {
		e.Post(anna, sid, newPost("offer", "lending", fmt.Sprint(i)))
	}
	_, next, err := e.Posts.Feed(e.Ctx, anna, sid, posts.Query{Limit: 1})
	if err != nil || next == "" {
		t.Fatalf("first page: %q %v", next, err)
	}
	for _, c := range []string{next + "A", "A" + next, "f~AAAA", strings.Replace(next, next[:3], "AAA", 1), "garbage"} {
		_, _, err := e.Posts.Feed(e.Ctx, anna, sid, posts.Query{Cursor: c})
		testutil.WantCode(t, err, "bad_cursor")
	}
	_, _, err = e.Posts.Feed(e.Ctx, anna, other, posts.Query{Cursor: next})
	testutil.WantCode(t, err, "bad_cursor")
	if fault.KindOf(err) != fault.BadRequest {
		t.Fatalf("kind %v", fault.KindOf(err))
	}
}

func TestReplyAcceptDoneRecordsTheExchange(t *testing.T) {
	e := newEnv(t, posts.Options{})
	anna, bruno, carla := e.User("Anna"), e.User("Bruno"), e.User("Carla")
	sid := e.Street(anna, bruno, carla)
	cases := []struct {
		kind                string
		wantGiver, wantRecv string
	}{
		{"request", bruno.UserID, carla.UserID},
		{"offer", carla.UserID, bruno.UserID},
	}
	for _, c := range cases {
		t.Run(c.kind, func(t *testing.T) {
			p := e.Post(carla, sid, newPost(c.kind, "babysitting", "Sabato sera "+c.kind))
			e.Clock.Advance(10 * time.Minute)
			own := e.Reply(carla, p.ID, "ancora disponibile")
			r := e.Reply(bruno, p.ID, "ci sono io")
			if got := e.Published(events.ReplyCreated); got[len(got)-1].SubjectID != carla.UserID || got[len(got)-1].ActorID != bruno.UserID {
				t.Fatalf("reply.created = %+v", got[len(got)-1])
			}
			e.Clock.Advance(time.Hour)
			_, err := e.Posts.Done(e.Ctx, carla, p.ID, "")
			testutil.WantCode(t, err, "post_not_matched")
			_, err = e.Posts.Accept(e.Ctx, bruno, p.ID, r.ID)
			testutil.WantCode(t, err, "not_author")
			_, err = e.Posts.Accept(e.Ctx, carla, p.ID, own.ID)
			testutil.WantField(t, err, "reply_id", "own_reply")
			m, err := e.Posts.Accept(e.Ctx, carla, p.ID, r.ID)
			if err != nil || m.Status != posts.StatusMatched || m.AcceptedReplyID != r.ID || m.MatchedAt == nil {
				t.Fatalf("accept = %+v, %v", m, err)
			}
			_, err = e.Posts.Accept(e.Ctx, carla, p.ID, r.ID)
			testutil.WantCode(t, err, "post_not_open")
			e.Clock.Advance(24 * time.Hour)
			_, err = e.Posts.Done(e.Ctx, bruno, p.ID, "")
			testutil.WantCode(t, err, "not_author")
			d, err := e.Posts.Done(e.Ctx, carla, p.ID, "Grazie mille!")
			if err != nil || d.Status != posts.StatusDone || d.Thanks != "Grazie mille!" || d.DoneAt == nil {
				t.Fatalf("done = %+v, %v", d, err)
			}
			if !d.FirstReplyAt.Equal(p.CreatedAt.Add(10*time.Minute)) || !d.MatchedAt.Equal(d.FirstReplyAt.Add(time.Hour)) ||
				!d.DoneAt.Equal(d.MatchedAt.Add(24*time.Hour)) {
				t.Fatalf("times: created %v first reply %v matched %v done %v", p.CreatedAt, d.FirstReplyAt, d.MatchedAt, d.DoneAt)
			}
			_, err = e.Posts.Done(e.Ctx, carla, p.ID, "")
			testutil.WantCode(t, err, "post_not_editable")
			var ex []posts.Exchange
			if err := e.Posts.EachExchange(e.Ctx, sid, func(x posts.Exchange) error { ex = append(ex, x); return nil }); err != nil {
				t.Fatal(err)
			}
			last := ex[len(ex)-1]
			if last.PostID != p.ID || last.GiverID != c.wantGiver || last.ReceiverID != c.wantRecv || last.Category != "babysitting" ||
				!last.At.Equal(*d.DoneAt) || last.StreetID != sid {
				t.Fatalf("exchange = %+v", last)
			}
		})
	}
}

func TestAcceptingAReplyOfAnotherPostIsRefused(t *testing.T) {
	e := newEnv(t, posts.Options{})
	anna, bruno := e.User("Anna"), e.User("Bruno")
	sid := e.Street(anna, bruno)
	p1 := e.Post(anna, sid, newPost("request", "errands", "Spesa"))
	p2 := e.Post(anna, sid, newPost("request", "errands", "Farmacia"))
	r2 := e.Reply(bruno, p2.ID, "io")
	for _, id := range []string{r2.ID, "not-an-id", "0123456789abcdef01234567"} {
		_, err := e.Posts.Accept(e.Ctx, anna, p1.ID, id)
		testutil.WantField(t, err, "reply_id", "unknown")
	}
	if got, _ := e.Posts.Get(e.Ctx, anna, p1.ID); got.Status != posts.StatusOpen {
		t.Fatalf("p1 is %s", got.Status)
	}
}

func TestRepliesOnlyToOpenOrMatchedPosts(t *testing.T) {
	e := newEnv(t, posts.Options{})
	anna, bruno := e.User("Anna"), e.User("Bruno")
	sid := e.Street(anna, bruno)
	closed := e.Post(bruno, sid, newPost("offer", "lending", "Scala"))
	if _, err := e.Posts.Close(e.Ctx, bruno, closed.ID); err != nil {
		t.Fatal(err)
	}
	_, err := e.Posts.Reply(e.Ctx, anna, closed.ID, "la prendo")
	testutil.WantCode(t, err, "post_closed")
	removed := e.Post(bruno, sid, newPost("offer", "lending", "Bici"))
	if _, err := e.Posts.Remove(e.Ctx, anna, removed.ID, "vendita, non prestito"); err != nil {
		t.Fatal(err)
	}
	// The admin sees it, and it no longer takes replies; for other members it is gone.
	_, err = e.Posts.Reply(e.Ctx, anna, removed.ID, "ok")
	testutil.WantCode(t, err, "post_closed")
	carla := e.User("Carla")
	inv, _ := e.Streets.CreateInvite(e.Ctx, anna, sid, streets.InviteOptions{})
	if _, err := e.Streets.Join(e.Ctx, carla, sid, streets.JoinRequest{InviteCode: inv.Code}); err != nil {
		t.Fatal(err)
	}
	_, err = e.Posts.Reply(e.Ctx, carla, removed.ID, "ok")
	testutil.WantCode(t, err, "post_not_found")
	open := e.Post(bruno, sid, newPost("offer", "lending", "Trapano"))
	_, err = e.Posts.Reply(e.Ctx, anna, open.ID, strings.Repeat("x", 2001))
	testutil.WantField(t, err, "body", "too_long")
	_, err = e.Posts.Reply(e.Ctx, anna, open.ID, " ")
	testutil.WantField(t, err, "body", "required")
	if th, _ := e.Posts.Get(e.Ctx, bruno, open.ID); th.ReplyCount != 0 || th.FirstReplyAt != nil || len(th.Replies) != 0 {
		t.Fatalf("refused replies changed the post: %+v", th)
	}
}

func TestRemovalNeedsReasonAndIsLoggedAndExplained(t *testing.T) {
	e := newEnv(t, posts.Options{})
	anna, bruno, carla := e.User("Anna"), e.User("Bruno"), e.User("Carla")
	sid := e.Street(anna, bruno, carla)
	p := e.Post(bruno, sid, newPost("offer", "other", "Vendo auto"))
	_, err := e.Posts.Remove(e.Ctx, carla, p.ID, "spam")
	testutil.WantCode(t, err, "not_allowed")
	_, err = e.Posts.Remove(e.Ctx, anna, p.ID, "")
	testutil.WantField(t, err, "reason", "required")
	removed, err := e.Posts.Remove(e.Ctx, anna, p.ID, "niente vendite")
	if err != nil || removed.Status != posts.StatusRemoved {
		t.Fatalf("remove = %+v, %v", removed, err)
	}
	if ev := e.Published(events.PostRemoved); len(ev) != 1 || ev[0].SubjectID != bruno.UserID {
		t.Fatalf("post.removed = %+v", ev)
	}
	// Members no longer see it; the author sees why; the record stays.
	if got := e.feed(carla, sid, posts.Query{}); len(got) != 0 {
		t.Fatalf("carla's feed = %v", got)
	}
	_, err = e.Posts.Get(e.Ctx, carla, p.ID)
	testutil.WantCode(t, err, "post_not_found")
	th, err := e.Posts.Get(e.Ctx, bruno, p.ID)
	if err != nil || th.RemovalReason != "niente vendite" || th.RemovedAt == nil {
		t.Fatalf("the author sees %+v, %v", th.Post, err)
	}
	if got := e.feed(bruno, sid, posts.Query{Status: "removed"}); len(got) != 1 {
		t.Fatalf("the author's removed posts = %v", got)
	}
	if got := e.feed(carla, sid, posts.Query{Status: "removed"}); len(got) != 0 {
		t.Fatalf("carla sees removed posts %v", got)
	}
	audit, _, err := e.Streets.Audit(e.Ctx, anna, sid, "", 10)
	if err != nil || audit[0].Action != streets.ActionPostRemove || audit[0].Reason != "niente vendite" || audit[0].TargetID != p.ID {
		t.Fatalf("audit = %+v, %v", audit, err)
	}
	// The author removes their own without a reason, and it is not moderation.
	own := e.Post(carla, sid, newPost("request", "other", "Mio"))
	if _, err := e.Posts.Remove(e.Ctx, carla, own.ID, ""); err != nil {
		t.Fatal(err)
	}
	if audit2, _, _ := e.Streets.Audit(e.Ctx, anna, sid, "", 10); len(audit2) != len(audit) {
		t.Fatalf("self-removal was audited: %+v", audit2[0])
	}
	_, err = e.Posts.Remove(e.Ctx, anna, p.ID, "again")
	testutil.WantCode(t, err, "post_removed")
}

func TestPinsAreBoundedAndAudited(t *testing.T) {
	e := newEnv(t, posts.Options{})
	anna := e.User("Anna")
	sid := e.Street(anna)
	for i := range posts.MaxPinned {
		p := e.Post(anna, sid, newPost("offer", "other", fmt.Sprint(i)))
		if _, err := e.Posts.Pin(e.Ctx, anna, p.ID); err != nil {
			t.Fatal(err)
		}
	}
	extra := e.Post(anna, sid, newPost("offer", "other", "extra"))
	_, err := e.Posts.Pin(e.Ctx, anna, extra.ID)
	testutil.WantCode(t, err, "too_many_pinned")
	audit, _, _ := e.Streets.Audit(e.Ctx, anna, sid, "", 100)
	pins := 0
	for _, a := range audit {
		if a.Action == streets.ActionPostPin {
			pins++
		}
	}
	if pins != posts.MaxPinned {
		t.Fatalf("%d pins audited", pins)
	}
}

func TestOpenPostsExpireAfter30DaysUnlessRenewed(t *testing.T) {
	e := newEnv(t, posts.Options{})
	anna, bruno := e.User("Anna"), e.User("Bruno")
	sid := e.Street(anna, bruno)
	stale := e.Post(bruno, sid, newPost("request", "gardening", "Potare la siepe"))
	kept := e.Post(bruno, sid, newPost("request", "gardening", "Tagliare l'erba"))
	matched := e.Post(bruno, sid, newPost("request", "gardening", "Annaffiare"))
	r := e.Reply(anna, matched.ID, "io")
	if _, err := e.Posts.Accept(e.Ctx, bruno, matched.ID, r.ID); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(20 * 24 * time.Hour)
	_, err := e.Posts.Renew(e.Ctx, anna, kept.ID)
	testutil.WantCode(t, err, "not_author")
	if _, err := e.Posts.Renew(e.Ctx, bruno, kept.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.Posts.Sweep(e.Ctx); err != nil {
		t.Fatal(err)
	}
	status := func(id string) posts.Post {
		t.Helper()
		th, err := e.Posts.Get(e.Ctx, bruno, id)
		if err != nil {
			t.Fatal(err)
		}
		return th.Post
	}
	if status(stale.ID).Status != posts.StatusOpen {
		t.Fatal("expired early")
	}
	e.Clock.Advance(10*24*time.Hour + time.Minute)
	// A new process sweeps from what the database says.
	e.Restart()
	if err := e.Posts.Sweep(e.Ctx); err != nil {
		t.Fatal(err)
	}
	if p := status(stale.ID); p.Status != posts.StatusClosed || p.CloseReason != posts.CloseExpired {
		t.Fatalf("stale post = %s/%s", p.Status, p.CloseReason)
	}
	if status(kept.ID).Status != posts.StatusOpen || status(matched.ID).Status != posts.StatusMatched {
		t.Fatal("the sweep closed a renewed or matched post")
	}
	updated := e.Published(events.PostUpdated)
	if last := updated[len(updated)-1]; last.SubjectID != bruno.UserID || !strings.Contains(string(last.Payload), `"status":"closed"`) {
		t.Fatalf("last post.updated = %+v %s", last, last.Payload)
	}
	e.Clock.Advance(20 * 24 * time.Hour)
	if err := e.Posts.Sweep(e.Ctx); err != nil {
		t.Fatal(err)
	}
	if status(kept.ID).Status != posts.StatusClosed {
		t.Fatal("the renewed post did not expire 30 days after its renewal")
	}
	// An expired post can be renewed: open again.
	if p, err := e.Posts.Renew(e.Ctx, bruno, stale.ID); err != nil || p.Status != posts.StatusOpen {
		t.Fatalf("renew expired = %+v, %v", p, err)
	}
	_, err = e.Posts.Renew(e.Ctx, bruno, matched.ID)
	testutil.WantCode(t, err, "post_not_renewable")
}

func TestPostingIsRateLimitedPerMember(t *testing.T) {
	e := newEnv(t, posts.Options{PostsPerHour: 2})
	anna, bruno := e.User("Anna"), e.User("Bruno")
	sid := e.Street(anna, bruno)
	e.Post(anna, sid, newPost("offer", "other", "1"))
	e.Post(anna, sid, newPost("offer", "other", "2"))
	_, err := e.Posts.Create(e.Ctx, anna, sid, newPost("offer", "other", "3"))
	fe, ok := fault.As(err)
	if !ok || fe.Kind != fault.RateLimited || fe.RetryAfter <= 0 || fe.RetryAfter > time.Hour {
		t.Fatalf("third post: %v", err)
	}
	e.Post(bruno, sid, newPost("offer", "other", "bruno's"))
	e.Clock.Advance(time.Hour + time.Second)
	e.Post(anna, sid, newPost("offer", "other", "4"))
	if got := e.feed(anna, sid, posts.Query{}); strings.Join(got, ",") != "4,bruno's,2,1" {
		t.Fatalf("feed = %v", got)
	}
}

func TestOnBehalfPostShowsTheDeskAndIsAudited(t *testing.T) {
	e := newEnv(t, posts.Options{})
	anna, vol := e.User("Anna"), e.User("Volontaria")
	sid := e.Street(anna, vol)
	in := newPost("request", "company", "Compagnia per la signora Rina")
	in.OnBehalf = &posts.OnBehalf{AssociationID: "assoc1", MemberID: "m42", MemberName: "Rina Bianchi"}
	p := e.Post(vol, sid, in)
	if p.AuthorID != vol.UserID || p.OnBehalf == nil || p.OnBehalf.MemberName != "Rina Bianchi" {
		t.Fatalf("post = %+v", p)
	}
	created := e.Published(events.PostCreated)
	if !strings.Contains(string(created[0].Payload), `"on_behalf_of":"Rina Bianchi"`) {
		t.Fatalf("post.created = %s", created[0].Payload)
	}
	r := e.Reply(anna, p.ID, "passo io giovedì")
	if ev := e.Published(events.ReplyCreated); ev[0].SubjectID != vol.UserID {
		t.Fatal("the reply did not reach the volunteer")
	}
	if _, err := e.Posts.Accept(e.Ctx, vol, p.ID, r.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Posts.Done(e.Ctx, vol, p.ID, ""); err != nil {
		t.Fatal(err)
	}
	var ex posts.Exchange
	_ = e.Posts.EachExchange(e.Ctx, sid, func(x posts.Exchange) error { ex = x; return nil })
	if ex.GiverID != anna.UserID || ex.OnBehalf == nil || ex.OnBehalf.MemberID != "m42" {
		t.Fatalf("exchange = %+v", ex)
	}
	audit, _, _ := e.Streets.Audit(e.Ctx, anna, sid, "", 10)
	if audit[0].Action != streets.ActionPostOnBehalf || audit[0].ActorID != vol.UserID || !strings.Contains(audit[0].Detail, "Rina Bianchi") {
		t.Fatalf("audit = %+v", audit[0])
	}
}

func TestAMemberOfAnotherStreetSeesNothing(t *testing.T) {
	e := newEnv(t, posts.Options{})
	anna, bruno, zeno := e.User("Anna"), e.User("Bruno"), e.User("Zeno")
	sidA := e.Street(anna, bruno)
	e.Street(zeno) // zeno is admin of street B
	p := e.Post(bruno, sidA, newPost("request", "repairs", "Segreto"))
	r := e.Reply(anna, p.ID, "ok")
	calls := map[string]func() error{
		"feed":    func() error { _, _, err := e.Posts.Feed(e.Ctx, zeno, sidA, posts.Query{}); return err },
		"create":  func() error { _, err := e.Posts.Create(e.Ctx, zeno, sidA, newPost("offer", "other", "x")); return err },
		"get":     func() error { _, err := e.Posts.Get(e.Ctx, zeno, p.ID); return err },
		"replies": func() error { _, _, err := e.Posts.Replies(e.Ctx, zeno, p.ID, "", 10); return err },
		"reply":   func() error { _, err := e.Posts.Reply(e.Ctx, zeno, p.ID, "hi"); return err },
		"update": func() error {
			t := "x"
			_, err := e.Posts.Update(e.Ctx, zeno, p.ID, posts.Changes{Title: &t})
			return err
		},
		"remove":  func() error { _, err := e.Posts.Remove(e.Ctx, zeno, p.ID, "x"); return err },
		"accept":  func() error { _, err := e.Posts.Accept(e.Ctx, zeno, p.ID, r.ID); return err },
		"done":    func() error { _, err := e.Posts.Done(e.Ctx, zeno, p.ID, ""); return err },
		"pin":     func() error { _, err := e.Posts.Pin(e.Ctx, zeno, p.ID); return err },
		"renew":   func() error { _, err := e.Posts.Renew(e.Ctx, zeno, p.ID); return err },
		"close":   func() error { _, err := e.Posts.Close(e.Ctx, zeno, p.ID); return err },
		"target":  func() error { _, err := e.Posts.ReplyTarget(e.Ctx, zeno, r.ID); return err },
		"unreply": func() error { _, err := e.Posts.RemoveReply(e.Ctx, zeno, r.ID, "x"); return err },
	}
	for name, call := range calls {
		if err := call(); fault.KindOf(err) != fault.NotFound {
			t.Errorf("%s: %v, want NotFound", name, err)
		}
	}
	if th, _ := e.Posts.Get(e.Ctx, bruno, p.ID); th.Title != "Segreto" || th.Status != posts.StatusOpen || th.ReplyCount != 1 {
		t.Fatalf("the post changed: %+v", th.Post)
	}
}

func TestEditsAndEventsFollowEachChange(t *testing.T) {
	e := newEnv(t, posts.Options{})
	anna, bruno := e.User("Anna"), e.User("Bruno")
	sid := e.Street(anna, bruno)
	p := e.Post(bruno, sid, newPost("offer", "lessons", "Chitarra"))
	title, cat := "Chitarra e ukulele", "other"
	_, err := e.Posts.Update(e.Ctx, anna, p.ID, posts.Changes{Title: &title})
	testutil.WantCode(t, err, "not_author")
	bad := "plumbing"
	_, err = e.Posts.Update(e.Ctx, bruno, p.ID, posts.Changes{Category: &bad})
	testutil.WantField(t, err, "category", "invalid")
	up, err := e.Posts.Update(e.Ctx, bruno, p.ID, posts.Changes{Title: &title, Category: &cat})
	if err != nil || up.Title != title || up.Category != cat {
		t.Fatalf("update = %+v, %v", up, err)
	}
	if got := e.feed(anna, sid, posts.Query{}); got[0] != title {
		t.Fatalf("feed shows %v", got)
	}
	created, updated := e.Published(events.PostCreated), e.Published(events.PostUpdated)
	if len(created) != 1 || len(updated) != 1 || created[0].SubjectID != bruno.UserID || updated[0].StreetID != sid {
		t.Fatalf("events: %d created, %d updated", len(created), len(updated))
	}
	if !slices.ContainsFunc(updated, func(ev events.Event) bool { return strings.Contains(string(ev.Payload), "ukulele") }) {
		t.Fatal("post.updated does not carry the new title")
	}
	if _, err := e.Posts.Close(e.Ctx, bruno, p.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.Posts.Update(e.Ctx, bruno, p.ID, posts.Changes{Title: &title})
	testutil.WantCode(t, err, "post_not_editable")
}

func TestRepliesPageAndRemovedRepliesHideTheirText(t *testing.T) {
	e := newEnv(t, posts.Options{})
	anna, bruno, carla := e.User("Anna"), e.User("Bruno"), e.User("Carla")
	sid := e.Street(anna, bruno, carla)
	p := e.Post(bruno, sid, newPost("request", "errands", "Spesa"))
	var ids []string
	for i := range 60 {
		ids = append(ids, e.Reply(carla, p.ID, fmt.Sprintf("r%d", i)).ID)
	}
	th, err := e.Posts.Get(e.Ctx, bruno, p.ID)
	if err != nil || len(th.Replies) != 50 || th.RepliesNextCursor == "" || th.ReplyCount != 60 {
		t.Fatalf("thread: %d replies, cursor %q, %v", len(th.Replies), th.RepliesNextCursor, err)
	}
	rest, next, err := e.Posts.Replies(e.Ctx, bruno, p.ID, th.RepliesNextCursor, 50)
	if err != nil || len(rest) != 10 || next != "" || rest[9].Body != "r59" {
		t.Fatalf("rest: %d, %q, %v", len(rest), next, err)
	}
	_, err = e.Posts.RemoveReply(e.Ctx, bruno, ids[0], "rude")
	testutil.WantCode(t, err, "not_admin")
	if _, err := e.Posts.RemoveReply(e.Ctx, anna, ids[0], "rude"); err != nil {
		t.Fatal(err)
	}
	if ev := e.Published(events.ReplyRemoved); len(ev) != 1 || ev[0].SubjectID != carla.UserID {
		t.Fatalf("reply.removed = %+v", ev)
	}
	seen := map[string]posts.Reply{}
	th, _ = e.Posts.Get(e.Ctx, bruno, p.ID)
	seen["bruno"] = th.Replies[0]
	th, _ = e.Posts.Get(e.Ctx, carla, p.ID)
	seen["carla"] = th.Replies[0]
	if r := seen["bruno"]; !r.Removed || r.Body != "" || r.RemovalReason != "" || th.ReplyCount != 59 {
		t.Fatalf("bruno sees %+v (count %d)", r, th.ReplyCount)
	}
	if r := seen["carla"]; !r.Removed || r.Body != "r0" || r.RemovalReason != "rude" {
		t.Fatalf("the reply's author sees %+v", r)
	}
	_, err = e.Posts.Accept(e.Ctx, bruno, p.ID, ids[0])
	testutil.WantField(t, err, "reply_id", "unknown")
}
