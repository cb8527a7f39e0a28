package posts_test

import (
	"encoding/json"
	"strings"
	"testing"

	"civico/internal/auth"
	"civico/internal/events"
	"civico/internal/posts"
	"civico/internal/pseudonym"
)

// exchange has helper answer author's post, accepted and done.
func (e *env) exchange(author, helper auth.Principal, sid string, in posts.NewPost) posts.Post {
	e.t.Helper()
	p := e.Post(author, sid, in)
	r := e.Reply(helper, p.ID, "Ci sono io")
	if _, err := e.Posts.Accept(e.Ctx, author, p.ID, r.ID); err != nil {
		e.t.Fatal(err)
	}
	done, err := e.Posts.Done(e.Ctx, author, p.ID, "Grazie Carla!")
	if err != nil {
		e.t.Fatal(err)
	}
	return done
}

// wholeFeed reads every post of the street as u sees them.
func (e *env) wholeFeed(u auth.Principal, sid string) []posts.Post {
	e.t.Helper()
	var out []posts.Post
	q := posts.Query{Status: "open,matched,done,closed", Limit: 100}
	for range 100 {
		page, next, err := e.Posts.Feed(e.Ctx, u, sid, q)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, page...)
		if next == "" {
			return out
		}
		q.Cursor = next
	}
	e.t.Fatal("feed does not end")
	return nil
}

func TestExportListsPostsRepliesAndExchanges(t *testing.T) {
	e := newEnv(t, posts.Options{})
	anna, bruno, carla := e.User("Anna"), e.User("Bruno"), e.User("Carla")
	sid := e.Street(anna, bruno, carla)
	open := e.Post(bruno, sid, posts.NewPost{Kind: posts.KindRequest, Category: "lending", Title: "Cerco un trapano", Body: "Per sabato"})
	done := e.exchange(bruno, carla, sid, posts.NewPost{Kind: posts.KindRequest, Category: "repairs", Title: "Rubinetto", Body: "Perde"})
	offer := e.Post(carla, sid, posts.NewPost{Kind: posts.KindOffer, Category: "lessons", Title: "Ripetizioni", Body: "Matematica"})
	e.Reply(bruno, offer.ID, "Mio figlio ne avrebbe bisogno")

	v, err := e.Posts.Export(e.Ctx, bruno.UserID)
	if err != nil {
		t.Fatal(err)
	}
	data := v.(posts.AccountData)
	if len(data.Posts) != 2 || data.Posts[0].ID != open.ID || data.Posts[0].Body != "Per sabato" || data.Posts[0].Status != posts.StatusOpen ||
		data.Posts[1].ID != done.ID || data.Posts[1].Status != posts.StatusDone || data.Posts[1].DoneAt == nil || data.Posts[1].Thanks != "Grazie Carla!" {
		t.Fatalf("posts %+v", data.Posts)
	}
	if len(data.Replies) != 1 || data.Replies[0].PostID != offer.ID || data.Replies[0].Body != "Mio figlio ne avrebbe bisogno" ||
		data.Replies[0].Status != posts.ReplyVisible || data.Replies[0].CreatedAt.IsZero() {
		t.Fatalf("replies %+v", data.Replies)
	}
	if len(data.Exchanges) != 1 || data.Exchanges[0].PostID != done.ID || data.Exchanges[0].Category != "repairs" ||
		data.Exchanges[0].Role != "receiver" || data.Exchanges[0].OtherName != "Carla" || data.Exchanges[0].At.IsZero() {
		t.Fatalf("exchanges %+v", data.Exchanges)
	}
	if data.Limit != posts.MaxExport || len(data.Truncated) != 0 {
		t.Fatalf("limit %d truncated %v", data.Limit, data.Truncated)
	}
	// Carla's side of the same exchange.
	v, err = e.Posts.Export(e.Ctx, carla.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if ex := v.(posts.AccountData).Exchanges; len(ex) != 1 || ex[0].Role != "giver" || ex[0].OtherName != "Bruno" {
		t.Fatalf("Carla's exchanges %+v", ex)
	}
}

func TestEraseAnonymisesPostsInFeedAndEvents(t *testing.T) {
	e := newEnv(t, posts.Options{})
	anna, bruno, carla := e.User("Anna"), e.User("Bruno Cancellato"), e.User("Carla")
	sid := e.Street(anna, bruno, carla)
	open := e.Post(bruno, sid, posts.NewPost{Kind: posts.KindRequest, Category: "lending", Title: "Cerco un trapano", Body: "Chiamatemi al 333 1234567"})
	done := e.exchange(bruno, carla, sid, posts.NewPost{Kind: posts.KindRequest, Category: "repairs", Title: "Rubinetto", Body: "Perde in cucina"})
	offer := e.Post(carla, sid, posts.NewPost{Kind: posts.KindOffer, Category: "lessons", Title: "Ripetizioni", Body: "Matematica"})
	reply := e.Reply(bruno, offer.ID, "Mio figlio ne avrebbe bisogno")
	// Bruno's help to Carla: he is the matched one on her offer, not done yet.
	if _, err := e.Posts.Accept(e.Ctx, carla, offer.ID, reply.ID); err != nil {
		t.Fatal(err)
	}
	e.wholeFeed(carla, sid) // the window is loaded: memory must follow the erasure
	before := len(e.Published(events.PostUpdated))
	alias := pseudonym.With("k", bruno.UserID)

	if err := e.Posts.Erase(e.Ctx, bruno.UserID, alias); err != nil {
		t.Fatal(err)
	}

	offerStatus := posts.StatusMatched
	check := func(when string) {
		t.Helper()
		feed := e.wholeFeed(carla, sid)
		raw, _ := json.Marshal(feed)
		if strings.Contains(string(raw), "Bruno") || strings.Contains(string(raw), bruno.UserID) {
			t.Fatalf("%s: the feed still names Bruno: %s", when, raw)
		}
		got := map[string]posts.Post{}
		for _, p := range feed {
			got[p.ID] = p
		}
		if p := got[open.ID]; p.Status != posts.StatusClosed || p.CloseReason != posts.CloseAuthorDeleted || p.Body != "" ||
			p.Title != "Cerco un trapano" || !p.AuthorDeleted || p.AuthorName != "" || p.AuthorID != alias {
			t.Fatalf("%s: open post after erasure %+v", when, p)
		}
		if p := got[done.ID]; p.Status != posts.StatusDone || p.Body != "Perde in cucina" || p.Thanks != "Grazie Carla!" ||
			!p.AuthorDeleted || p.AuthorName != "" {
			t.Fatalf("%s: done post after erasure %+v", when, p)
		}
		if p := got[offer.ID]; p.AuthorName != "Carla" || p.AuthorDeleted || p.Status != offerStatus {
			t.Fatalf("%s: Carla's offer %+v", when, p)
		}
		th, err := e.Posts.Get(e.Ctx, carla, offer.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(th.Replies) != 1 || th.Replies[0].AuthorName != "" || !th.Replies[0].AuthorDeleted || th.Replies[0].AuthorID != alias ||
			th.Replies[0].Body != "Mio figlio ne avrebbe bisogno" {
			t.Fatalf("%s: reply after erasure %+v", when, th.Replies)
		}
	}
	check("from memory")

	// Sockets and open threads hear of every post that changed, without
	// the name.
	updated := e.Published(events.PostUpdated)[before:]
	seen := map[string]bool{}
	for _, ev := range updated {
		var d events.PostData
		if err := json.Unmarshal(ev.Payload, &d); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(ev.Payload), "Bruno") {
			t.Fatalf("post.updated names Bruno: %s", ev.Payload)
		}
		if d.ID != offer.ID && !d.AuthorDeleted {
			t.Fatalf("post.updated of Bruno's post without author_deleted: %s", ev.Payload)
		}
		seen[d.ID] = true
	}
	if !seen[open.ID] || !seen[done.ID] || !seen[offer.ID] {
		t.Fatalf("post.updated for %v, want Bruno's two posts and Carla's offer he answered", seen)
	}

	// Carla can still complete her offer: the exchange is with the alias.
	if _, err := e.Posts.Done(e.Ctx, carla, offer.ID, ""); err != nil {
		t.Fatal(err)
	}
	var exs []posts.Exchange
	if err := e.Posts.EachExchange(e.Ctx, sid, func(ex posts.Exchange) error { exs = append(exs, ex); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(exs) != 2 || exs[0].ReceiverID != alias || exs[0].GiverID != carla.UserID || exs[1].GiverID != carla.UserID || exs[1].ReceiverID != alias {
		t.Fatalf("exchanges %+v, want both between Carla and the alias", exs)
	}

	offerStatus = posts.StatusDone
	e.Restart()
	check("after restart")
	// Running it again changes nothing and fails on nothing.
	if err := e.Posts.Erase(e.Ctx, bruno.UserID, alias); err != nil {
		t.Fatal(err)
	}
	v, err := e.Posts.Export(e.Ctx, bruno.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if d := v.(posts.AccountData); len(d.Posts)+len(d.Replies)+len(d.Exchanges) != 0 {
		t.Fatalf("the erased account still owns %+v", d)
	}
}
