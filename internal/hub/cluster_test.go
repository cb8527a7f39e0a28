package hub_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"civico/internal/bus"
	"civico/internal/events"
	"civico/internal/hub"
	"civico/internal/store"
	"civico/internal/testutil"
)

// cluster is two server processes on one database and one NATS server:
// each its own bus connection, event log and hub, with its own memory.
type cluster struct {
	a, b *harness
}

func newCluster(t *testing.T, opts hub.Options) cluster {
	t.Helper()
	st, err := store.Open(context.Background(), store.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	if err := st.EnsureIndexes(context.Background(), events.Indexes()...); err != nil {
		t.Fatal(err)
	}
	n := testutil.StartNATS(t)
	process := func() *harness {
		b, err := bus.Start(context.Background(), bus.Options{URL: n.URL})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.Close)
		// Shared: the two logs stand in for two processes on MongoDB.
		return newHarnessOn(t, st, opts, events.Options{Wire: b, Shared: true})
	}
	return cluster{a: process(), b: process()}
}

// join makes user an active member as both processes read it (the
// database, in the server).
func (c cluster) join(street, user string, admin bool) {
	c.a.join(street, user, admin)
	c.b.join(street, user, admin)
}

func (c cluster) leave(street, user string) {
	for _, h := range []*harness{c.a, c.b} {
		h.mu.Lock()
		delete(h.members, street+"/"+user)
		h.mu.Unlock()
	}
}

// Sockets on either process get every event of their street, published
// through either process at once, in order, once each; a socket resuming
// on the other process misses nothing.
func TestClusterEventsReachSocketsOfEveryProcessInOrder(t *testing.T) {
	c := newCluster(t, hub.Options{ReplayPage: 7})
	c.join("s", "ann", false)
	c.join("s", "bob", false)
	ann := c.a.dial(t, "s", "ann", "")
	bob := c.b.dial(t, "s", "bob", "")
	eventually(t, "a socket on each process", func() bool { return c.a.hub.Stats().Conns == 1 && c.b.hub.Stats().Conns == 1 })

	first := c.a.publish(t, "s", 10)
	const each = 40
	var wg sync.WaitGroup
	for _, h := range []*harness{c.a, c.b, c.a, c.b} {
		wg.Go(func() { h.publish(t, "s", each) })
	}
	// A client that had 10 reconnects to B meanwhile.
	late := c.b.dial(t, "s", "ann", "since=10")
	wg.Wait()
	all := seqs(1, int64(len(first)+4*each))
	ann.expect(t, "s", all)
	bob.expect(t, "s", all)
	late.expect(t, "s", all[10:])
	mark := c.a.publish(t, "s", 1)
	for _, cl := range []*client{ann, bob, late} {
		cl.expect(t, "s", mark)
	}
}

// A ban made on A closes the member's sockets on B, refuses a socket whose
// handshake on B raced it, and stops B's frames to them.
func TestClusterBanClosesSocketsOnEveryProcess(t *testing.T) {
	c := newCluster(t, hub.Options{})
	c.join("s", "troll", false)
	c.join("s", "ann", false)
	troll := c.b.dial(t, "s", "troll", "")
	ann := c.b.dial(t, "s", "ann", "")
	eventually(t, "two sockets on B", func() bool { return c.b.hub.Stats().Conns == 2 })
	racing, err := c.b.hub.Authorize(context.Background(), "s", "troll")
	if err != nil {
		t.Fatal(err)
	}
	c.b.mu.Lock()
	c.b.tickets["racing"] = racing
	c.b.mu.Unlock()

	c.leave("s", "troll")
	ban, err := c.a.log.Publish(context.Background(), events.Event{Type: events.MemberBanned, StreetID: "s",
		SubjectID: "troll", Data: events.MemberData{UserID: "troll", Status: "banned"}})
	if err != nil {
		t.Fatal(err)
	}
	if code := troll.closeCode(t); code != hub.CloseRemoved {
		t.Fatalf("banned member's socket on B closed with %d, want %d", code, hub.CloseRemoved)
	}
	ann.expect(t, "s", []int64{ban.Seq})
	if code := c.b.dialTicket(t, "racing").closeCode(t); code != hub.CloseRemoved {
		t.Fatalf("a handshake on B racing the ban closed with %d, want %d", code, hub.CloseRemoved)
	}
	if _, res, err := dialer().Dial(c.b.url("s", "troll", ""), nil); err == nil || res == nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("banned member reconnected on B: %v", err)
	}
}

// A demotion made on A stops the admins' frames to that member's sockets
// on B, including one whose handshake on B raced it.
func TestClusterDemotionStopsAdminFramesOnEveryProcess(t *testing.T) {
	c := newCluster(t, hub.Options{})
	c.join("s", "carla", true)
	open := c.b.dial(t, "s", "carla", "")
	eventually(t, "a socket on B", func() bool { return c.b.hub.Stats().Conns == 1 })
	racing, err := c.b.hub.Authorize(context.Background(), "s", "carla")
	if err != nil || !racing.Admin {
		t.Fatalf("ticket %+v, %v", racing, err)
	}
	c.b.mu.Lock()
	c.b.tickets["racing"] = racing
	c.b.mu.Unlock()

	c.join("s", "carla", false)
	seen := c.b.hub.Stats().Events
	role, err := c.a.log.Publish(context.Background(), events.Event{Type: events.MemberRole, StreetID: "s", SubjectID: "carla",
		Data: events.MemberData{UserID: "carla", Role: "member", Status: "active"}})
	if err != nil {
		t.Fatal(err)
	}
	open.expect(t, "s", []int64{role.Seq})
	eventually(t, "B's hub to see the demotion", func() bool { return c.b.hub.Stats().Events > seen })
	raced := c.b.dialTicket(t, "racing")
	eventually(t, "the raced socket on B", func() bool { return c.b.hub.Stats().Conns == 2 })

	if _, err := c.a.log.Publish(context.Background(), events.Event{Type: events.ReportCreated, StreetID: "s",
		Audience: events.Admins, Data: events.ReportData{ID: "r1", Reason: "spam"}}); err != nil {
		t.Fatal(err)
	}
	post := c.a.publish(t, "s", 1)
	open.expect(t, "s", post) // the report was skipped
	raced.expect(t, "s", post)
}

// After an account is deleted on A, a replay on B names the person
// nowhere, though B's hub had encoded their events for its live sockets.
func TestClusterForgetLeavesNoNameInReplaysOnEveryProcess(t *testing.T) {
	c := newCluster(t, hub.Options{})
	c.join("s", "bob", false)
	bob := c.b.dial(t, "s", "bob", "")
	eventually(t, "a socket on B", func() bool { return c.b.hub.Stats().Conns == 1 })
	const anna, alias = "aaaaaaaaaaaaaaaaaaaaaaaa", "deleted-1"
	var ids []int64
	for i, e := range []events.Event{
		{Type: events.MemberJoined, SubjectID: anna, ActorID: anna, Data: events.MemberData{UserID: anna, Name: "Anna Segreta", Status: "active"}},
		{Type: events.PostCreated, SubjectID: anna, ActorID: anna, Data: events.PostData{ID: "p1", Title: "Trapano", Body: "Chiamatemi al 333",
			AuthorID: anna, AuthorName: "Anna Segreta"}},
	} {
		e.StreetID = "s"
		pub, err := c.a.log.Publish(context.Background(), e)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		ids = append(ids, pub.Seq)
	}
	bob.expect(t, "s", ids) // B's hub now holds their frames

	sids, err := c.a.log.Forget(context.Background(), anna, alias)
	if err != nil {
		t.Fatal(err)
	}
	c.a.hub.Uncache(sids...) // what the server does on A; B hears nothing
	replay := c.b.dial(t, "s", "bob", "since=0")
	for _, want := range ids {
		f := replay.next(t)
		if f.seq(t) != want {
			t.Fatalf("replay gave %s, want %d", f.ID, want)
		}
		if d := string(f.Data); strings.Contains(d, "Anna") || strings.Contains(d, "333") || strings.Contains(d, anna) {
			t.Fatalf("replay on B still names Anna: %s", d)
		}
	}
}

// dialTicket opens a socket with a ticket issued before.
func (h *harness) dialTicket(t *testing.T, id string) *client {
	t.Helper()
	ws, _, err := dialer().Dial(fmt.Sprintf("ws://%s/ws?ticket=%s", h.addr, id), nil)
	if err != nil {
		t.Fatal(err)
	}
	return read(t, ws)
}

// One process on the embedded engine with its embedded bus, as `go run
// ./server` runs: events go out on the wire before they are persisted and
// reach this process's sockets at once, in order, with resume intact.
func TestWSOneProcessWithTheWire(t *testing.T) {
	st, err := store.Open(context.Background(), store.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close(context.Background()) })
	if err := st.EnsureIndexes(context.Background(), events.Indexes()...); err != nil {
		t.Fatal(err)
	}
	b, err := bus.Start(context.Background(), bus.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	h := newHarnessOn(t, st, hub.Options{ReplayPage: 7}, events.Options{Wire: b, Memory: 16})
	h.join("s", "ann", false)
	live := h.dial(t, "s", "ann", "")
	eventually(t, "a socket", func() bool { return h.hub.Stats().Conns == 1 })
	first := h.publish(t, "s", 40)
	live.expect(t, "s", first)
	more := make(chan []int64, 1)
	go func() { more <- h.publish(t, "s", 30) }()
	resumed := h.dial(t, "s", "ann", "since=5")
	ids := <-more
	live.expect(t, "s", ids)
	resumed.expect(t, "s", seqs(6, ids[len(ids)-1]))
}
