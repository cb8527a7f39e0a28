package pwa_test

import (
	"fmt"
	"net/http"
	"testing"

	"civico/internal/testutil"
)

// converse starts a private conversation from a to b through the API, with
// a first message, and returns its id.
func converse(t *testing.T, srv *testutil.Server, a, b *testutil.User, sid, body string) string {
	t.Helper()
	var res struct {
		Conversation struct {
			ID string `json:"id"`
		} `json:"conversation"`
	}
	srv.Do(t, "POST", "/conversations", map[string]string{"user_id": b.ID, "street_id": sid, "body": body}, a.Token).
		Expect(t, http.StatusCreated).JSON(t, &res)
	if res.Conversation.ID == "" {
		t.Fatalf("POST /conversations answered no conversation id")
	}
	return res.Conversation.ID
}

// openConversation opens conversation cid and waits until its messages are drawn.
func (tb *tab) openConversation(cid string) {
	tb.t.Helper()
	tb.open("/conversations/" + cid)
	tb.waitJS("conversation drawn", `document.querySelector('#conv-title') && document.querySelector('#messages')`)
}

// TestPrivateConversation: Anna writes privately to Bruno from his post
// (the post offers it to her, not to him; each reply offers it to its
// author's neighbours, never to the author). Bruno, with his inbox open in
// his own browser, sees the unread badge and the conversation arrive
// without reloading; he opens it (the badge goes: read), answers, and his
// reply box keeps the focus; Anna, on the conversation, sees his answer
// arrive live and announced. Writing again from the post lands on the same
// conversation.
func TestPrivateConversation(t *testing.T) {
	t.Parallel()
	srv := start(t)
	annaU, brunoU := srv.Register(t, "Anna"), srv.Register(t, "Bruno")
	sid := street(t, srv, annaU, "Via del Pratello", brunoU)
	pid := post(t, srv, brunoU, sid, "offer", "Presto la scala")
	srv.Reply(t, annaU, pid, "Mi servirebbe sabato!")
	anna, bruno := newTab(t, srv, "anna"), newTab(t, srv, "bruno")
	anna.signIn(annaU)
	bruno.signIn(brunoU)

	// Never to oneself: Bruno's own post offers him no "write privately",
	// Anna's reply on it does; Anna sees the opposite.
	bruno.open("/posts/" + pid)
	bruno.waitText("#replies .reply", "Mi servirebbe sabato")
	if n := bruno.count("#write-author"); n != 0 {
		t.Errorf("Bruno's own post offers him to write to himself (%d links)", n)
	}
	bruno.waitJS("write to the reply's author", fmt.Sprintf(`document.querySelector('#replies .write-private[data-user-id=%q]')`, annaU.ID))
	anna.open("/posts/" + pid)
	anna.waitText("#replies .reply", "Mi servirebbe sabato")
	if n := anna.count("#replies .write-private"); n != 0 {
		t.Errorf("Anna's own reply offers her to write to herself (%d links)", n)
	}
	anna.waitJS("write to the post's author", `document.querySelector('#write-author')`)
	anna.screen("post-write-privately")

	bruno.open("/conversations")
	bruno.waitJS("empty inbox", `document.querySelector('main .state.empty')`)
	bruno.waitLive()
	bruno.eval(`window.__sameDocument = true`, nil)

	anna.click("#write-author")
	anna.waitPath("/conversations/new")
	anna.waitText("main h1", "Bruno")
	anna.waitText("#compose-about", "Presto la scala")
	anna.screen("conversation-compose")
	anna.fill(`#conversation-form [name=body]`, "Ciao Bruno, mi presteresti la scala sabato?")
	anna.click(`#conversation-form button[type=submit]`)
	anna.waitJS("the conversation", `location.pathname.startsWith('/conversations/') && location.pathname !== '/conversations/new' && document.querySelector('#message-form')`)
	anna.waitText("#messages .message.mine", "mi presteresti la scala")
	cid := anna.path()[len("/conversations/"):]
	anna.waitLive()
	anna.eval(`window.__sameDocument = true`, nil)

	// Bruno's inbox: the badge on the menu and the conversation, live.
	const badge = `#nav a[href="/conversations"] .count`
	bruno.waitJS("unread badge", fmt.Sprintf(`document.querySelector(%q)?.textContent === '1'`, badge))
	bruno.waitText(fmt.Sprintf("#conversations [data-conversation-id=%q]", cid), "Anna")
	bruno.waitText("#conversations .conv-preview", "mi presteresti la scala")
	bruno.waitJS("its unread count", `document.querySelector('#conversations .conversation.unread .unread-count')`)
	var label string
	bruno.eval(`document.querySelector('#nav a[href="/conversations"]').getAttribute('aria-label')`, &label)
	if label != "Messaggi, 1 non letto" {
		t.Errorf("the inbox link is labelled %q, want it to say one message is unread", label)
	}
	var same bool
	bruno.eval(`window.__sameDocument === true`, &same)
	if !same {
		t.Fatal("Bruno's inbox reloaded to show the new conversation")
	}
	bruno.screen("conversations")

	bruno.click("#conversations .conv-link")
	bruno.waitJS("the conversation", `location.pathname === '/conversations/`+cid+`' && document.querySelector('#message-form')`)
	bruno.waitText("#messages .message.theirs", "mi presteresti la scala")
	bruno.waitText(".conv-post", "Presto la scala")
	bruno.waitJS("read: no badge", fmt.Sprintf(`!document.querySelector(%q)`, badge))
	bruno.waitLive()
	bruno.screen("conversation")
	bruno.fill(`#message-form [name=body]`, "Certo! Passa pure alle 10.")
	bruno.click(`#message-form button[type=submit]`)
	bruno.waitText("#messages .message.mine", "Passa pure alle 10")
	bruno.waitJS("focus stays in the emptied reply box", `document.activeElement === document.querySelector('#message-form textarea') && document.activeElement.value === ''`)
	bruno.waitText("#conv-live", "Messaggio inviato")

	// Anna sees it arrive, announced, without a reload; read as it came,
	// it leaves no badge.
	anna.waitText("#messages .message.theirs", "Passa pure alle 10")
	anna.waitText("#conv-live", "Nuovo messaggio da Bruno")
	anna.eval(`window.__sameDocument === true`, &same)
	if !same {
		t.Fatal("Anna's conversation reloaded to show Bruno's answer")
	}
	if n := anna.count(badge); n != 0 {
		t.Errorf("Anna has an unread badge for the message she is reading")
	}

	// Writing to Bruno again from his post: the same conversation.
	anna.open("/posts/" + pid)
	anna.click("#write-author")
	anna.waitPath("/conversations/new")
	anna.fill(`#conversation-form [name=body]`, "Ah, e anche un cacciavite?")
	anna.click(`#conversation-form button[type=submit]`)
	anna.waitJS("the same conversation", `location.pathname === '/conversations/`+cid+`' && document.querySelector('#message-form')`)
	anna.waitText("#messages .message.mine", "cacciavite")
	if n := anna.count("#messages .message"); n != 3 {
		t.Errorf("the conversation shows %d messages, want 3", n)
	}
}

// TestConversationNotices: a conversation with someone I blocked, or with
// someone I no longer share a street with, says so instead of offering the
// reply box. Anna blocks Bruno from the conversation (the notice takes the
// box's place and the focus), the block holds on a fresh visit, and
// unblocking him brings the box back with the focus in it; Carla left
// their street, so her conversation with Anna is closed.
func TestConversationNotices(t *testing.T) {
	t.Parallel()
	srv := start(t)
	annaU, brunoU, carlaU := srv.Register(t, "Anna"), srv.Register(t, "Bruno"), srv.Register(t, "Carla")
	sid := street(t, srv, annaU, "Via Fondazza", brunoU, carlaU)
	withBruno := converse(t, srv, brunoU, annaU, sid, "Ciao Anna, ti scrivo per la festa di via.")
	withCarla := converse(t, srv, carlaU, annaU, sid, "Ciao Anna, grazie per ieri!")
	srv.Do(t, "DELETE", "/streets/"+sid+"/members/me", nil, carlaU.Token).Expect(t, http.StatusNoContent)
	anna := newTab(t, srv, "anna")
	anna.signIn(annaU)

	// The street's members, as its admin sees them: each one but herself
	// can be written to privately.
	anna.open("/streets/" + sid + "/admin/members")
	anna.waitJS("Bruno's write link", fmt.Sprintf(`document.querySelector('[data-user-id=%q] .write-private')`, brunoU.ID))
	if n := anna.count(fmt.Sprintf(`[data-user-id=%q] .write-private`, annaU.ID)); n != 0 {
		t.Errorf("the members list offers Anna to write to herself")
	}
	anna.click(fmt.Sprintf(`[data-user-id=%q] .write-private`, brunoU.ID))
	anna.waitPath("/conversations/new")
	anna.waitText("main h1", "Bruno")

	anna.openConversation(withBruno)
	anna.waitJS("reply box", `document.querySelector('#message-form textarea')`)
	anna.clickFor("#block", "block dialog", `document.querySelector('dialog[open]')`)
	anna.click(`dialog[open] button[type=submit]`)
	anna.waitJS("notice focused", `document.activeElement === document.getElementById('conv-notice')`)
	anna.waitText("#conv-live", "Hai bloccato Bruno")

	for _, tc := range []struct {
		name, cid, notice string
		unblock           bool
	}{
		{"blocked", withBruno, "Hai bloccato Bruno", true},
		{"closed", withCarla, "non avete più una via in comune", false},
	} {
		anna.openConversation(tc.cid)
		anna.waitText("#conv-notice", tc.notice)
		if n := anna.count("#message-form, #conv-bottom textarea"); n != 0 {
			t.Errorf("%s: the conversation still offers a reply box", tc.name)
		}
		if got := anna.count("#unblock") == 1; got != tc.unblock {
			t.Errorf("%s: unblock offered %v, want %v", tc.name, got, tc.unblock)
		}
		if n := anna.count("#messages .message.theirs"); n != 1 {
			t.Errorf("%s: %d messages shown, want the one received (still readable)", tc.name, n)
		}
		anna.screen("conversation-" + tc.name)
	}

	anna.openConversation(withBruno)
	anna.click("#unblock")
	anna.waitJS("reply box back, focused", `document.activeElement === document.querySelector('#message-form textarea')`)
	if n := anna.count("#conv-notice"); n != 0 {
		t.Errorf("the blocked notice stays after unblocking")
	}
}

// TestConversationEarlierMessages: a long conversation opens on its latest
// page of messages, oldest at the top; "show earlier messages" brings the
// rest above them, in order, and puts the focus on the oldest.
func TestConversationEarlierMessages(t *testing.T) {
	t.Parallel()
	srv := start(t)
	annaU, brunoU := srv.Register(t, "Anna"), srv.Register(t, "Bruno")
	sid := street(t, srv, annaU, "Via Saragozza", brunoU)
	cid := converse(t, srv, brunoU, annaU, sid, "Messaggio 1")
	const total = 34
	for i := 2; i <= total; i++ {
		from := brunoU
		if i%2 == 0 {
			from = annaU
		}
		srv.Do(t, "POST", "/conversations/"+cid+"/messages", map[string]string{"body": fmt.Sprintf("Messaggio %d", i)}, from.Token).
			Expect(t, http.StatusCreated)
	}
	anna := newTab(t, srv, "anna")
	anna.signIn(annaU)
	anna.openConversation(cid)
	first := anna.count("#messages .message")
	if first >= total {
		t.Fatalf("the conversation opened on all %d messages at once", first)
	}
	anna.waitText("#messages .message:last-child .message-body", fmt.Sprintf("Messaggio %d", total))
	anna.click("#load-earlier")
	anna.waitJS("all messages", fmt.Sprintf(`document.querySelectorAll('#messages .message').length === %d`, total))
	var bodies []string
	anna.eval(`[...document.querySelectorAll('#messages .message-body')].map((e) => e.textContent)`, &bodies)
	for i, b := range bodies {
		if want := fmt.Sprintf("Messaggio %d", i+1); b != want {
			t.Fatalf("message %d reads %q, want %q (oldest at the top)", i, b, want)
		}
	}
	anna.waitJS("focus on the oldest", `document.activeElement === document.querySelector('#messages li')`)
	if n := anna.count("#load-earlier:not([hidden])"); n != 0 {
		t.Errorf("still offers earlier messages when there are none")
	}
}
