package conversations_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"civico/internal/auth"
	"civico/internal/conversations"
	"civico/internal/events"
	"civico/internal/fault"
	"civico/internal/mail"
	"civico/internal/moderation"
	"civico/internal/posts"
	"civico/internal/testutil"

	"go.mongodb.org/mongo-driver/v2/bson"
)

var ctx = context.Background()

// online is who has their own channel open.
type online struct {
	mu    sync.Mutex
	users map[string]bool
}

func (o *online) Online(_ context.Context, userID string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.users[userID]
}

func (o *online) set(userID string, on bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.users[userID] = on
}

type env struct {
	*testutil.Services
	notes  *testutil.Notes
	online *online
	svc    *conversations.Service
}

func setup(t *testing.T, opts conversations.Options) *env {
	t.Helper()
	e := &env{Services: testutil.NewServices(t, posts.Options{}), notes: &testutil.Notes{}, online: &online{users: map[string]bool{}}}
	svc, err := conversations.New(ctx, e.Store, e.Clock, conversations.Deps{Streets: e.Streets, Accounts: e.Auth, Posts: e.Posts,
		Channels: e.Log, Notifier: e.notes, Presence: e.online}, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	e.Moderation.UseMessages(svc)
	return e
}

func (e *env) start(t *testing.T, from, to auth.Principal, sid, body string) (conversations.Conversation, conversations.Message) {
	t.Helper()
	c, m, err := e.svc.Start(ctx, from, conversations.NewConversation{UserID: to.UserID, StreetID: sid, Body: body})
	if err != nil {
		t.Fatal(err)
	}
	return c, m
}

func (e *env) send(t *testing.T, from auth.Principal, cid, body string) conversations.Message {
	t.Helper()
	m, err := e.svc.Send(ctx, from, cid, body)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (e *env) bodies(t *testing.T, who auth.Principal, cid string) string {
	t.Helper()
	ms, _, err := e.svc.Messages(ctx, who, cid, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var b []string
	for i := len(ms) - 1; i >= 0; i-- {
		b = append(b, ms[i].Body)
	}
	return strings.Join(b, "|")
}

func TestOnlyTheTwoReadAConversation(t *testing.T) {
	e := setup(t, conversations.Options{})
	admin, anna, bruno, carla := e.User("Admin"), e.User("Anna"), e.User("Bruno"), e.User("Carla")
	sid := e.Street(admin, anna, bruno, carla)
	p := e.Post(bruno, sid, posts.NewPost{Kind: posts.KindOffer, Category: "repairs", Title: "Presto il trapano", Body: "Trapano a percussione, chiedete pure"})

	c, m, err := e.svc.Start(ctx, anna, conversations.NewConversation{UserID: bruno.UserID, StreetID: sid, PostID: p.ID, Body: "Ciao, abito al 12"})
	if err != nil {
		t.Fatalf("%v %+v", err, err)
	}
	if c.With.Name != "Bruno" || c.PostTitle != "Presto il trapano" || !c.Open || c.Unread != 0 || !m.Mine {
		t.Fatalf("started: %+v %+v", c, m)
	}
	for _, who := range []auth.Principal{admin, carla} {
		_, err := e.svc.Get(ctx, who, c.ID)
		testutil.WantCode(t, err, "conversation_not_found")
		_, _, err = e.svc.Messages(ctx, who, c.ID, "", 10)
		testutil.WantCode(t, err, "conversation_not_found")
		_, err = e.svc.Send(ctx, who, c.ID, "intruso")
		testutil.WantCode(t, err, "conversation_not_found")
		testutil.WantCode(t, e.svc.Read(ctx, who, c.ID), "conversation_not_found")
		in, err := e.svc.List(ctx, who, "", 10)
		if err != nil || len(in.Items) != 0 {
			t.Fatalf("%s's inbox: %+v %v", who.UserID, in, err)
		}
	}

	// Bruno sees it unread, answers; the second start reuses it.
	in, err := e.svc.List(ctx, bruno, "", 10)
	if err != nil || len(in.Items) != 1 || in.Items[0].Unread != 1 || in.UnreadTotal != 1 || in.Items[0].With.Name != "Anna" ||
		in.Items[0].LastMessage == nil || in.Items[0].LastMessage.Body != "Ciao, abito al 12" || in.Items[0].LastMessage.Mine {
		t.Fatalf("Bruno's inbox: %+v %v", in, err)
	}
	e.send(t, bruno, c.ID, "Passa alle 18")
	again, _ := e.start(t, anna, bruno, sid, "Arrivo!")
	if again.ID != c.ID {
		t.Fatalf("a second start opened %s, not %s", again.ID, c.ID)
	}
	if got := e.bodies(t, bruno, c.ID); got != "Ciao, abito al 12|Passa alle 18|Arrivo!" {
		t.Fatalf("messages: %s", got)
	}
	in, _ = e.svc.List(ctx, bruno, "", 10)
	if in.Items[0].Unread != 2 {
		t.Fatalf("Bruno's unread after two of Anna's: %+v", in.Items[0])
	}
	if err := e.svc.Read(ctx, bruno, c.ID); err != nil {
		t.Fatal(err)
	}
	in, _ = e.svc.List(ctx, bruno, "", 10)
	if in.Items[0].Unread != 0 || in.UnreadTotal != 0 {
		t.Fatalf("Bruno's unread after reading: %+v", in)
	}

	// Each message went out on both people's own channels, and nowhere else.
	for _, ev := range e.Published(conversations.MessageCreated) {
		owner, ok := events.IsPersonal(ev.StreetID)
		if !ok || (owner != anna.UserID && owner != bruno.UserID) {
			t.Fatalf("a message frame went to %q", ev.StreetID)
		}
	}
	if n := len(e.Published(conversations.MessageCreated)); n != 6 {
		t.Fatalf("%d message frames, want 2 per message", n)
	}
}

func TestPushOnlyToWhoIsNotConnected(t *testing.T) {
	e := setup(t, conversations.Options{})
	admin, anna, bruno := e.User("Admin"), e.User("Anna"), e.User("Bruno")
	sid := e.Street(admin, anna, bruno)
	e.online.set(bruno.UserID, true)
	c, _ := e.start(t, anna, bruno, sid, "Sei in casa?")
	if n := len(e.notes.To(bruno.UserID, "")); n != 0 {
		t.Fatalf("%d pushes to a connected Bruno", n)
	}
	e.online.set(bruno.UserID, false)
	m := e.send(t, anna, c.ID, "Ti lascio il pacco dal portiere")
	got := e.notes.To(bruno.UserID, "")
	if len(got) != 1 || got[0].Texts["it"].Title != "Messaggio da Anna" || got[0].Texts["en"].Body != m.Body ||
		got[0].URL != "/conversations/"+c.ID || got[0].Tag != "conversation-"+c.ID {
		t.Fatalf("pushes to Bruno: %+v", got)
	}
	if n := len(e.notes.To(anna.UserID, "")); n != 0 {
		t.Fatalf("%d pushes to the author", n)
	}
}

func TestBlockIsSilentBothWays(t *testing.T) {
	e := setup(t, conversations.Options{})
	admin, anna, bruno := e.User("Admin"), e.User("Anna"), e.User("Bruno")
	sid := e.Street(admin, anna, bruno)
	c, _ := e.start(t, anna, bruno, sid, "Ciao")
	if err := e.svc.Block(ctx, bruno, anna.UserID); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.Block(ctx, bruno, anna.UserID); err != nil { // twice is once
		t.Fatal(err)
	}
	// Anna is not told: her message is accepted, and only she sees it.
	e.send(t, anna, c.ID, "Mi rispondi?")
	if got := e.bodies(t, anna, c.ID); got != "Ciao|Mi rispondi?" {
		t.Fatalf("Anna's copy: %s", got)
	}
	if got := e.bodies(t, bruno, c.ID); got != "Ciao" {
		t.Fatalf("Bruno sees a blocked message: %s", got)
	}
	if n := len(e.notes.To(bruno.UserID, "")); n != 1 {
		t.Fatalf("%d pushes to Bruno, want only the first message's", n)
	}
	got, err := e.svc.Get(ctx, bruno, c.ID)
	if err != nil || !got.Blocked || got.Unread != 1 || got.LastMessage.Body != "Ciao" {
		t.Fatalf("Bruno's view: %+v %v", got, err)
	}
	if a, _ := e.svc.Get(ctx, anna, c.ID); a.Blocked {
		t.Fatal("Anna is told she is blocked")
	}
	// Bruno cannot write while he blocks her.
	_, err = e.svc.Send(ctx, bruno, c.ID, "ok")
	testutil.WantCode(t, err, "you_blocked")
	l, err := e.svc.Blocks(ctx, bruno)
	if err != nil || len(l) != 1 || l[0].Name != "Anna" {
		t.Fatalf("Bruno's blocks: %+v %v", l, err)
	}
	if err := e.svc.Unblock(ctx, bruno, anna.UserID); err != nil {
		t.Fatal(err)
	}
	e.send(t, bruno, c.ID, "Scusa, eccomi")
	if got := e.bodies(t, anna, c.ID); got != "Ciao|Mi rispondi?|Scusa, eccomi" {
		t.Fatalf("after unblocking: %s", got)
	}
	testutil.WantCode(t, e.svc.Block(ctx, bruno, bruno.UserID), "user_not_found")
}

// A block list holds MaxBlocks members at most, also when blocks are made
// at once; blocking again someone already on a full list is still fine.
func TestBlockListStaysBoundedUnderConcurrentBlocks(t *testing.T) {
	const tries = 8
	e := setup(t, conversations.Options{})
	anna := e.User("Anna")
	others := make([]auth.Principal, tries)
	for i := range others {
		others[i] = e.User("B" + strconv.Itoa(i))
	}
	filler := make([]string, conversations.MaxBlocks-1)
	for i := range filler {
		filler[i] = bson.NewObjectID().Hex()
	}
	if _, err := e.Store.Collection("blocks").InsertOne(ctx, bson.M{"_id": anna.UserID, "users": filler}); err != nil {
		t.Fatal(err)
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		blocked []auth.Principal
	)
	for _, o := range others {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := e.svc.Block(ctx, anna, o.UserID)
			if err != nil {
				if fe, ok := fault.As(err); !ok || fe.Code != "too_many_blocks" {
					t.Errorf("block: %v", err)
				}
				return
			}
			mu.Lock()
			blocked = append(blocked, o)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(blocked) != 1 {
		t.Fatalf("%d blocks made at once onto a list with room for one", len(blocked))
	}
	var d struct {
		Users []string `bson:"users"`
	}
	if err := e.Store.Collection("blocks").FindOne(ctx, bson.M{"_id": anna.UserID}, &d); err != nil || len(d.Users) != conversations.MaxBlocks {
		t.Fatalf("the list holds %d, %v; want %d", len(d.Users), err, conversations.MaxBlocks)
	}
	if err := e.svc.Block(ctx, anna, blocked[0].UserID); err != nil {
		t.Fatalf("blocking again someone on the full list: %v", err)
	}
}

func TestReportCarriesOneMessage(t *testing.T) {
	e := setup(t, conversations.Options{})
	admin, anna, bruno, carla := e.User("Admin"), e.User("Anna"), e.User("Bruno"), e.User("Carla")
	sid := e.Street(admin, anna, bruno, carla)
	c, first := e.start(t, anna, bruno, sid, "Primo messaggio, innocuo")
	bad := e.send(t, anna, c.ID, "Messaggio offensivo")
	e.send(t, anna, c.ID, "Terzo messaggio")

	r, err := e.Moderation.Create(ctx, bruno, moderation.NewReport{Target: moderation.TargetMessage, ID: bad.ID, Reason: "offende"})
	if err != nil {
		t.Fatal(err)
	}
	if r.StreetID != sid || r.AuthorID != anna.UserID || r.MessageBody != "Messaggio offensivo" {
		t.Fatalf("report: %+v", r)
	}
	list, _, err := e.Moderation.List(ctx, admin, sid, "", "", 10)
	if err != nil || len(list) != 1 {
		t.Fatalf("admin's reports: %+v %v", list, err)
	}
	s := strings.Join([]string{list[0].MessageBody, list[0].TargetName, list[0].Reason}, " ")
	if strings.Contains(s, "Primo") || strings.Contains(s, "Terzo") {
		t.Fatalf("the report carries more than the one message: %+v", list[0])
	}
	// Nobody reports what is not theirs to see, nor their own message.
	for name, c := range map[string]struct {
		who auth.Principal
		id  string
	}{"a stranger": {carla, first.ID}, "the author": {anna, bad.ID}, "no such message": {bruno, "64b7f0c2a1e4c3b2a1f0e9d8"}} {
		_, err := e.Moderation.Create(ctx, c.who, moderation.NewReport{Target: moderation.TargetMessage, ID: c.id, Reason: "x"})
		if err == nil {
			t.Errorf("%s could report the message", name)
		}
	}
	// The admin may ban for it, not "remove" a private message.
	_, err = e.Moderation.Resolve(ctx, admin, r.ID, moderation.ActionRemove, "no")
	testutil.WantField(t, err, "action", "invalid")
}

func TestNoSharedStreetNoMessages(t *testing.T) {
	e := setup(t, conversations.Options{})
	admin, anna, bruno, dario := e.User("Admin"), e.User("Anna"), e.User("Bruno"), e.User("Dario")
	sid := e.Street(admin, anna, bruno)
	other := e.Street(admin, dario)
	// Dario lives in another street: Anna cannot write to him through hers,
	// nor through his, which she does not belong to.
	_, _, err := e.svc.Start(ctx, anna, conversations.NewConversation{UserID: dario.UserID, StreetID: sid, Body: "Ciao"})
	testutil.WantCode(t, err, "user_not_found")
	_, _, err = e.svc.Start(ctx, anna, conversations.NewConversation{UserID: dario.UserID, StreetID: other, Body: "Ciao"})
	testutil.WantCode(t, err, "street_not_found")
	_, _, err = e.svc.Start(ctx, anna, conversations.NewConversation{UserID: anna.UserID, StreetID: sid, Body: "Ciao"})
	testutil.WantField(t, err, "user_id", "self")
	_, _, err = e.svc.Start(ctx, anna, conversations.NewConversation{UserID: bruno.UserID, StreetID: sid, Body: strings.Repeat("a", conversations.MaxBody+1)})
	testutil.WantField(t, err, "body", "too_long")

	// A second shared street keeps it open when Bruno leaves the first.
	c, _ := e.start(t, anna, bruno, sid, "Ciao Bruno")
	both := e.Street(admin, anna, bruno)
	if err := e.Streets.Leave(ctx, bruno, sid); err != nil {
		t.Fatal(err)
	}
	e.send(t, anna, c.ID, "Ci sentiamo nell'altra via")
	if err := e.Streets.Leave(ctx, bruno, both); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Send(ctx, anna, c.ID, "Ci sei?")
	testutil.WantCode(t, err, "conversation_closed")
	_, err = e.svc.Send(ctx, bruno, c.ID, "Sono andato via")
	testutil.WantCode(t, err, "conversation_closed")
	got, err := e.svc.Get(ctx, anna, c.ID)
	if err != nil || got.Open {
		t.Fatalf("closed conversation: %+v %v", got, err)
	}
	if b := e.bodies(t, bruno, c.ID); b != "Ciao Bruno|Ci sentiamo nell'altra via" {
		t.Fatalf("Bruno still reads the past: %s", b)
	}
}

func TestNewConversationsPerDayCountOnlyTheUnanswered(t *testing.T) {
	e := setup(t, conversations.Options{NewPerDay: 2})
	admin, anna := e.User("Admin"), e.User("Anna")
	b, c, d := e.User("B"), e.User("C"), e.User("D")
	sid := e.Street(admin, anna, b, c, d)
	cb, _ := e.start(t, anna, b, sid, "Ciao B")
	e.start(t, anna, c, sid, "Ciao C")
	_, _, err := e.svc.Start(ctx, anna, conversations.NewConversation{UserID: d.UserID, StreetID: sid, Body: "Ciao D"})
	testutil.WantCode(t, err, "too_many_conversations")
	// Writing again where she already wrote is not a new conversation.
	e.start(t, anna, b, sid, "Ancora io")
	// B answers: that one no longer counts.
	e.send(t, b, cb.ID, "Ciao Anna")
	e.start(t, anna, d, sid, "Ciao D")
	// A day later the count starts again.
	e.Clock.Advance(25 * time.Hour)
	e.start(t, anna, admin, sid, "Ciao admin")
}

// Starts at the same moment take one slot each: the limit holds exactly
// (counting the inbox, then creating, let several through).
func TestNewConversationsPerDayHoldUnderConcurrentStarts(t *testing.T) {
	const limit, tries = 3, 8
	e := setup(t, conversations.Options{NewPerDay: limit})
	admin, anna := e.User("Admin"), e.User("Anna")
	others := make([]auth.Principal, tries)
	all := []auth.Principal{anna}
	for i := range others {
		others[i] = e.User("N" + strconv.Itoa(i))
		all = append(all, others[i])
	}
	sid := e.Street(admin, all...)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		started int
	)
	for _, o := range others {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := e.svc.Start(ctx, anna, conversations.NewConversation{UserID: o.UserID, StreetID: sid, Body: "Ciao"})
			switch {
			case err == nil:
				mu.Lock()
				started++
				mu.Unlock()
			default:
				if fe, ok := fault.As(err); !ok || fe.Code != "too_many_conversations" {
					t.Errorf("start: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	if started != limit {
		t.Fatalf("%d conversations started at once, want the limit %d", started, limit)
	}
}

// Account deletion removes every start slot of the member, also those
// taken under a higher daily limit than the one in force now.
func TestDeletedAccountLeavesNoStartSlot(t *testing.T) {
	e := setup(t, conversations.Options{NewPerDay: 3})
	admin, anna, bruno, carla, dario := e.User("Admin"), e.User("Anna"), e.User("Bruno"), e.User("Carla"), e.User("Dario")
	sid := e.Street(admin, anna, bruno, carla, dario)
	for _, to := range []auth.Principal{bruno, carla, dario} {
		e.start(t, anna, to, sid, "Ciao")
	}
	lower, err := conversations.New(ctx, e.Store, e.Clock, conversations.Deps{Streets: e.Streets, Accounts: e.Auth, Posts: e.Posts,
		Channels: e.Log, Notifier: e.notes, Presence: e.online}, nil, conversations.Options{NewPerDay: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := lower.Erase(ctx, anna.UserID); err != nil {
		t.Fatal(err)
	}
	for k := range 3 {
		var d struct{}
		id := anna.UserID + "#" + strconv.Itoa(k)
		if err := e.Store.Collection("conversation_starts").FindOne(ctx, bson.M{"_id": id}, &d); err == nil {
			t.Errorf("start slot %s outlives the account", id)
		}
	}
}

func TestDeletedAccountLeavesAPseudonymousCopy(t *testing.T) {
	e := setup(t, conversations.Options{})
	admin, anna, bruno := e.User("Admin"), e.User("Anna"), e.User("Bruno")
	sid := e.Street(admin, anna, bruno)
	c, _ := e.start(t, anna, bruno, sid, "Ciao, sono Anna")
	e.send(t, bruno, c.ID, "Ciao Anna")

	exp, err := e.svc.Export(ctx, anna.UserID)
	if err != nil {
		t.Fatal(err)
	}
	if msgs := exp.(map[string]any)["messages"].([]conversations.ExportedMessage); len(msgs) != 1 || msgs[0].Body != "Ciao, sono Anna" {
		t.Fatalf("Anna's export: %+v", msgs)
	}
	if err := e.svc.Erase(ctx, anna.UserID); err != nil {
		t.Fatal(err)
	}
	if err := e.Auth.Delete(ctx, anna); err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.Get(ctx, bruno, c.ID)
	if err != nil || !got.With.Deleted || got.With.Name != "" || got.With.ID == anna.UserID || got.Open {
		t.Fatalf("Bruno's copy: %+v %v", got, err)
	}
	ms, _, err := e.svc.Messages(ctx, bruno, c.ID, "", 10)
	if err != nil || len(ms) != 2 || ms[1].Body != "Ciao, sono Anna" || ms[1].AuthorID == anna.UserID {
		t.Fatalf("Bruno's messages: %+v %v", ms, err)
	}
	_, err = e.svc.Get(ctx, anna, c.ID)
	testutil.WantCode(t, err, "conversation_not_found")
}

func TestMessagesPageNewestFirst(t *testing.T) {
	e := setup(t, conversations.Options{})
	admin, anna, bruno := e.User("Admin"), e.User("Anna"), e.User("Bruno")
	sid := e.Street(admin, anna, bruno)
	c, _ := e.start(t, anna, bruno, sid, "m0")
	for i := 1; i < 7; i++ {
		e.send(t, bruno, c.ID, "m"+string(rune('0'+i)))
	}
	var got []string
	cur := ""
	for pages := 0; ; pages++ {
		ms, next, err := e.svc.Messages(ctx, anna, c.ID, cur, 3)
		if err != nil || pages > 5 {
			t.Fatal(err, pages)
		}
		for _, m := range ms {
			got = append(got, m.Body)
		}
		if next == "" {
			break
		}
		cur = next
	}
	if s := strings.Join(got, ","); s != "m6,m5,m4,m3,m2,m1,m0" {
		t.Fatalf("pages: %s", s)
	}
	_, _, err := e.svc.Messages(ctx, anna, c.ID, "garbage", 3)
	testutil.WantCode(t, err, "bad_cursor")
}

// verified reads accounts as if every address were verified.
type verified struct{ *auth.Service }

func (v verified) Users(ctx context.Context, ids []string) (map[string]auth.Account, error) {
	m, err := v.Service.Users(ctx, ids)
	for k, a := range m {
		a.EmailVerified = true
		m[k] = a
	}
	return m, err
}

type mails struct {
	mu  sync.Mutex
	ids map[string]mail.Message
}

func (m *mails) Queue(_ context.Context, msg mail.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ids[msg.ID] = msg // the outbox sends one mail per id
	return nil
}

func (m *mails) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.ids)
}

// devices: nobody has a push device; no quiet hours.
type devices struct{}

func (devices) HasDevices(context.Context, string) (bool, error) { return false, nil }
func (devices) QuietUntil(_ context.Context, _ string, now time.Time) (time.Time, error) {
	return now, nil
}

// Whom no push reaches gets one mail per conversation until they read it.
func TestMailWhenNoPushReaches(t *testing.T) {
	e := setup(t, conversations.Options{PublicURL: "https://civico.example"})
	out := &mails{ids: map[string]mail.Message{}}
	svc, err := conversations.New(ctx, e.Store, e.Clock, conversations.Deps{Streets: e.Streets, Accounts: verified{e.Auth}, Posts: e.Posts,
		Channels: e.Log, Presence: e.online, Mail: out, Devices: devices{}}, nil, conversations.Options{PublicURL: "https://civico.example"})
	if err != nil {
		t.Fatal(err)
	}
	admin, anna, bruno := e.User("Admin"), e.User("Anna"), e.User("Bruno")
	sid := e.Street(admin, anna, bruno)
	c, _, err := svc.Start(ctx, anna, conversations.NewConversation{UserID: bruno.UserID, StreetID: sid, Body: "Ciao <b>Bruno</b>"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Send(ctx, anna, c.ID, "Ci sei?"); err != nil {
		t.Fatal(err)
	}
	if out.count() != 1 {
		t.Fatalf("%d mails for two unread messages, want 1", out.count())
	}
	for _, m := range out.ids {
		if m.Subject != "Messaggio da Anna" || !strings.Contains(m.Text, "https://civico.example/conversations/"+c.ID) || m.Kind != mail.KindNotice {
			t.Fatalf("mail: %+v", m)
		}
	}
	if err := svc.Read(ctx, bruno, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Send(ctx, anna, c.ID, "Allora?"); err != nil {
		t.Fatal(err)
	}
	if out.count() != 2 {
		t.Fatalf("%d mails after Bruno read and Anna wrote again, want 2", out.count())
	}
	// Connected, he gets no mail.
	e.online.set(bruno.UserID, true)
	if _, err := svc.Send(ctx, anna, c.ID, "Ah, ci sei"); err != nil {
		t.Fatal(err)
	}
	if err := svc.Read(ctx, bruno, c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Send(ctx, anna, c.ID, "Ok"); err != nil {
		t.Fatal(err)
	}
	if out.count() != 2 {
		t.Fatalf("%d mails to a connected Bruno", out.count())
	}
}
