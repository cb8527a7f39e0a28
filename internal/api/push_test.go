package api_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"civico/internal/app"
	"civico/internal/clock"
	"civico/internal/config"
	"civico/internal/push"
	"civico/internal/pushservice"
	"civico/internal/testutil"
)

func payloadOf(t *testing.T, m pushservice.Message) push.Payload {
	t.Helper()
	var p push.Payload
	if err := m.Decode(&p); err != nil {
		t.Fatalf("payload %q: %v", m.Payload, err)
	}
	return p
}

// waitPushStats polls the outbox counters where finishing has no event.
func waitPushStats(t *testing.T, s *testutil.Server, ok func(push.Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok(s.App.Push.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("push stats never got there: %+v", s.App.Push.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The VAPID key is public, a base64url P-256 point, and survives restarts.
func TestPushVAPIDKeyIsPublicAndKept(t *testing.T) {
	s := testutil.Start(t)
	var out struct {
		Key string `json:"key"`
	}
	s.Do(t, "GET", "/push/vapid-public-key", nil, "").Expect(t, http.StatusOK).JSON(t, &out)
	raw, err := base64.RawURLEncoding.DecodeString(out.Key)
	if err != nil || len(raw) != 65 || raw[0] != 4 {
		t.Fatalf("key %q is not a base64url uncompressed P-256 point", out.Key)
	}
	s.Restart(t)
	var again struct {
		Key string `json:"key"`
	}
	s.Do(t, "GET", "/push/vapid-public-key", nil, "").Expect(t, http.StatusOK).JSON(t, &again)
	if again.Key != out.Key {
		t.Fatal("the VAPID key changed on restart: every device would stop getting pushes")
	}
}

// A new post reaches the other members' devices decrypted, in each one's
// language; the author's device gets nothing.
func TestPushNewPostReachesOtherMembers(t *testing.T) {
	s := testutil.Start(t)
	ps := s.PushService(t)
	admin, author, reader := s.Register(t, "Anna"), s.Register(t, "Bruno"), s.Register(t, "Carla")
	s.Do(t, "PATCH", "/me", map[string]string{"locale": "en"}, reader.Token).Expect(t, http.StatusOK)
	sid := s.StreetWithMembers(t, admin, "Via Saragozza", author, reader)
	adminDev, authorDev, readerDev := s.SubscribePush(t, admin, ps), s.SubscribePush(t, author, ps), s.SubscribePush(t, reader, ps)

	pid := s.CreatePost(t, author, sid, "request", "Mi presti una scala?")

	got := payloadOf(t, testutil.WaitPushes(t, ps, adminDev, 1)[0])
	want := push.Payload{Title: "Nuova richiesta · Via Saragozza", Body: "Bruno: Mi presti una scala? (Piccole riparazioni)", URL: "/posts/" + pid, Tag: "post-" + pid}
	if got != want {
		t.Fatalf("admin got %+v, want %+v", got, want)
	}
	m := testutil.WaitPushes(t, ps, readerDev, 1)[0]
	if p := payloadOf(t, m); p.Title != "New request · Via Saragozza" || p.Tag != "post-"+pid {
		t.Fatalf("reader got %+v", p)
	}
	if m.TTL <= 0 || m.Urgency != "normal" || m.BodyLen >= 3070 || !strings.HasPrefix(m.Subject, "mailto:") {
		t.Fatalf("push headers: %+v", m)
	}
	waitPushStats(t, s, func(st push.Stats) bool { return st.Sent == 2 })
	if st := s.App.Push.Stats(); st.Deliveries != 2 {
		t.Fatalf("%d deliveries, want 2: the author's device must not be one", st.Deliveries)
	}
	if n := len(ps.Attempts(authorDev.Token)); n != 0 {
		t.Fatalf("the author's own device got %d pushes", n)
	}
	if errs := ps.Errors(); len(errs) > 0 {
		t.Fatalf("the push service refused: %v", errs)
	}
}

// A reply tells the post's author; an approval the new member; a report
// the street's admins.
func TestPushReplyApprovalAndReport(t *testing.T) {
	s := testutil.Start(t)
	ps := s.PushService(t)
	admin, author, helper, newbie := s.Register(t, "Anna"), s.Register(t, "Bruno"), s.Register(t, "Carla"), s.Register(t, "Dario")
	sid := s.StreetWithMembers(t, admin, "Via del Pratello", author, helper)
	adminDev, authorDev, helperDev, newbieDev := s.SubscribePush(t, admin, ps), s.SubscribePush(t, author, ps), s.SubscribePush(t, helper, ps), s.SubscribePush(t, newbie, ps)

	pid := s.CreatePost(t, author, sid, "request", "Chi aggiusta una bici?")
	testutil.WaitPushes(t, ps, helperDev, 1)
	s.Reply(t, helper, pid, "Passo io stasera")
	p := payloadOf(t, testutil.WaitPushes(t, ps, authorDev, 1)[0])
	if p.Title != "Nuova risposta a «Chi aggiusta una bici?»" || p.Body != "Carla: Passo io stasera" || p.Tag != "post-"+pid {
		t.Fatalf("reply push %+v", p)
	}

	s.Do(t, "POST", "/streets/"+sid+"/join", map[string]string{"message": "Abito al 12"}, newbie.Token).Expect(t, http.StatusAccepted)
	s.Do(t, "POST", "/streets/"+sid+"/members/"+newbie.ID+"/approve", map[string]string{"reason": "vicino"}, admin.Token).Expect(t, http.StatusOK)
	p = payloadOf(t, testutil.WaitPushes(t, ps, newbieDev, 1)[0])
	if p.Title != "Benvenuto in Via del Pratello!" || p.URL != "/streets/"+sid {
		t.Fatalf("approval push %+v", p)
	}

	s.Do(t, "POST", "/reports", map[string]string{"target": "post", "id": pid, "reason": "spam"}, helper.Token).Expect(t, http.StatusCreated)
	msgs := testutil.WaitPushes(t, ps, adminDev, 2) // the post, then the report
	if p := payloadOf(t, msgs[1]); p.Title != "Nuova segnalazione · Via del Pratello" || !strings.Contains(p.Body, "spam") {
		t.Fatalf("report push %+v", p)
	}
}

// Subscriptions are validated, owned by their user, and leave with the
// device's logout or a DELETE.
func TestPushSubscriptionsAPI(t *testing.T) {
	s := testutil.Start(t)
	ps := s.PushService(t)
	u, other := s.Register(t, "Anna"), s.Register(t, "Bruno")
	sub, err := ps.NewSubscription()
	if err != nil {
		t.Fatal(err)
	}
	s.Do(t, "POST", "/push/subscriptions", sub.JSON(), "").ExpectError(t, http.StatusUnauthorized, "unauthorized")
	bad := []struct {
		name  string
		body  any
		field string
		code  string
	}{
		{"https only", map[string]any{"endpoint": "http://192.0.2.1/push/x", "keys": map[string]string{"p256dh": sub.P256dh, "auth": sub.Auth}}, "endpoint", "insecure"},
		{"short key", map[string]any{"endpoint": sub.Endpoint, "keys": map[string]string{"p256dh": sub.P256dh[:20], "auth": sub.Auth}}, "keys.p256dh", "invalid"},
		{"auth length", map[string]any{"endpoint": sub.Endpoint, "keys": map[string]string{"p256dh": sub.P256dh, "auth": sub.Auth + "AAAA"}}, "keys.auth", "invalid"},
		{"unknown field", map[string]any{"endpoint": sub.Endpoint, "keys": map[string]string{"p256dh": sub.P256dh, "auth": sub.Auth}, "user_id": other.ID}, "user_id", "unknown_field"},
	}
	for _, c := range bad {
		r := s.Do(t, "POST", "/push/subscriptions", c.body, u.Token).ExpectError(t, http.StatusUnprocessableEntity, "validation_failed")
		if r.Fields()[c.field] != c.code {
			t.Fatalf("%s: fields %v", c.name, r.Fields())
		}
	}
	s.Do(t, "POST", "/push/subscriptions", `{"endpoint":{"$gt":""}}`, u.Token).ExpectError(t, http.StatusUnprocessableEntity, "validation_failed")

	// What PushSubscription.toJSON() sends, expirationTime included.
	body := sub.JSON()
	body["expirationTime"] = nil
	s.Do(t, "POST", "/push/subscriptions", body, u.Token).Expect(t, http.StatusCreated)
	s.Do(t, "POST", "/push/subscriptions", body, u.Token).Expect(t, http.StatusOK)
	if devices := exportedDevices(t, s, u); len(devices) != 1 {
		t.Fatalf("%d devices after subscribing twice", len(devices))
	}
	// Another user cannot remove it; its owner can, twice harmlessly.
	s.Do(t, "DELETE", "/push/subscriptions", map[string]string{"endpoint": sub.Endpoint}, other.Token).Expect(t, http.StatusNoContent)
	if len(exportedDevices(t, s, u)) != 1 {
		t.Fatal("another user's DELETE removed the device")
	}
	s.Do(t, "DELETE", "/push/subscriptions", map[string]string{"endpoint": sub.Endpoint}, u.Token).Expect(t, http.StatusNoContent)
	s.Do(t, "DELETE", "/push/subscriptions", map[string]string{"endpoint": sub.Endpoint}, u.Token).Expect(t, http.StatusNoContent)
	if len(exportedDevices(t, s, u)) != 0 {
		t.Fatal("DELETE left the device")
	}

	// Logging out of a device (X-Push-Endpoint) unsubscribes it.
	dev := s.SubscribePush(t, u, ps)
	s.Do(t, "POST", "/auth/logout", map[string]string{"refresh_token": u.RefreshToken}, "", "X-Push-Endpoint", dev.Endpoint).Expect(t, http.StatusNoContent)
	if len(exportedDevices(t, s, u)) != 0 {
		t.Fatal("logout left the device subscribed")
	}
}

func exportedDevices(t *testing.T, s *testutil.Server, u *testutil.User) []push.Subscription {
	t.Helper()
	subs, err := s.App.Push.Subscriptions(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return subs
}

// Settings through the API: defaults, a valid change, a refused one that
// changes nothing.
func TestNotificationSettingsAPI(t *testing.T) {
	s := testutil.Start(t)
	u := s.Register(t, "Anna")
	s.Do(t, "GET", "/me/notifications", nil, "").ExpectError(t, http.StatusUnauthorized, "unauthorized")
	var got push.Settings
	s.Do(t, "GET", "/me/notifications", nil, u.Token).Expect(t, http.StatusOK).JSON(t, &got)
	if got.QuietHours != nil || got.TimeZone != "Europe/Rome" || !got.Defaults.Offers || len(got.Defaults.Categories) != 10 {
		t.Fatalf("defaults %+v", got)
	}
	sid := s.CreateStreet(t, u, "Via Zamboni")
	put := map[string]any{"quiet_hours": map[string]string{"start": "21:00", "end": "08:00"},
		"streets": []map[string]any{{"street_id": sid, "offers": false, "categories": []string{"repairs"}}}}
	s.Do(t, "PUT", "/me/notifications", put, u.Token).Expect(t, http.StatusOK)
	s.Do(t, "GET", "/me/notifications", nil, u.Token).Expect(t, http.StatusOK).JSON(t, &got)
	if got.QuietHours == nil || got.QuietHours.Start != "21:00" || len(got.Streets) != 1 || got.Streets[0].Offers ||
		!got.Streets[0].Requests || strings.Join(got.Streets[0].Categories, ",") != "repairs" {
		t.Fatalf("saved %+v", got)
	}
	r := s.Do(t, "PUT", "/me/notifications", map[string]any{"quiet_hours": map[string]string{"start": "25:00", "end": "08:00"},
		"streets": []map[string]any{{"street_id": "x"}}}, u.Token).ExpectError(t, http.StatusUnprocessableEntity, "validation_failed")
	if f := r.Fields(); f["quiet_hours.start"] != "invalid" || f["streets.0.street_id"] != "invalid" {
		t.Fatalf("fields %v", f)
	}
	s.Do(t, "PUT", "/me/notifications", map[string]any{"quiet": true}, u.Token).ExpectError(t, http.StatusUnprocessableEntity, "validation_failed")
	s.Do(t, "GET", "/me/notifications", nil, u.Token).Expect(t, http.StatusOK).JSON(t, &got)
	if got.QuietHours == nil || got.QuietHours.Start != "21:00" {
		t.Fatalf("a refused PUT changed the settings: %+v", got)
	}
}

// Quiet hours, set through the API, hold a push until they end in the
// recipient's time zone.
func TestPushQuietHoursHold(t *testing.T) {
	rome, _ := time.LoadLocation("Europe/Rome")
	fake := clock.NewFake(time.Date(2026, 11, 14, 22, 45, 0, 0, rome))
	s := testutil.Start(t, testutil.WithAppOptions(func(o *app.Options) { o.Clock = fake }))
	ps := s.PushService(t)
	admin, sleeper, author := s.Register(t, "Anna"), s.Register(t, "Bruno"), s.Register(t, "Carla")
	sid := s.StreetWithMembers(t, admin, "Via Mascarella", sleeper, author)
	adminDev, sleeperDev := s.SubscribePush(t, admin, ps), s.SubscribePush(t, sleeper, ps)
	s.Do(t, "PUT", "/me/notifications", map[string]any{"quiet_hours": map[string]string{"start": "22:00", "end": "07:00"}}, sleeper.Token).Expect(t, http.StatusOK)

	pid := s.CreatePost(t, author, sid, "offer", "Torta avanzata, chi la vuole?")
	testutil.WaitPushes(t, ps, adminDev, 1)
	waitPushStats(t, s, func(st push.Stats) bool { return st.Sent == 1 && st.Pending == 1 })
	if n := len(ps.Attempts(sleeperDev.Token)); n != 0 {
		t.Fatal("a push reached the sleeper during quiet hours")
	}
	fake.Set(time.Date(2026, 11, 15, 7, 0, 0, 0, rome))
	s.App.Push.Wake()
	if p := payloadOf(t, testutil.WaitPushes(t, ps, sleeperDev, 1)[0]); p.Tag != "post-"+pid {
		t.Fatalf("held push %+v", p)
	}
}

// 410 deletes the subscription; 429 and 500 are retried until accepted.
func TestPushGoneAndRetries(t *testing.T) {
	s := testutil.Start(t)
	ps := s.PushService(t)
	author, gone, busy, broken := s.Register(t, "Anna"), s.Register(t, "Bruno"), s.Register(t, "Carla"), s.Register(t, "Dario")
	sid := s.StreetWithMembers(t, author, "Via Petroni", gone, busy, broken)
	goneDev, busyDev, brokenDev := s.SubscribePush(t, gone, ps), s.SubscribePush(t, busy, ps), s.SubscribePush(t, broken, ps)
	ps.Queue(goneDev, pushservice.Gone)
	ps.Queue(busyDev, pushservice.TooMany(time.Second))
	ps.Queue(brokenDev, pushservice.Error500)

	s.CreatePost(t, author, sid, "request", "Chi ha un cacciavite?")
	testutil.WaitPushes(t, ps, busyDev, 1)
	testutil.WaitPushes(t, ps, brokenDev, 1)
	waitPushStats(t, s, func(st push.Stats) bool { return st.Gone == 1 && st.Sent == 2 })
	if len(exportedDevices(t, s, gone)) != 0 {
		t.Fatal("410 left the subscription")
	}
	if len(exportedDevices(t, s, busy)) != 1 || len(exportedDevices(t, s, broken)) != 1 {
		t.Fatal("a temporary error deleted a subscription")
	}
	if a, b := len(ps.Attempts(busyDev.Token)), len(ps.Attempts(brokenDev.Token)); a != 2 || b != 2 {
		t.Fatalf("attempts: 429 device %d, 500 device %d; want 2 each", a, b)
	}
	s.CreatePost(t, author, sid, "request", "E un martello?")
	testutil.WaitPushes(t, ps, busyDev, 2)
	if n := len(ps.Attempts(goneDev.Token)); n != 1 {
		t.Fatalf("the gone device was tried %d times", n)
	}
}

// A push service that hangs does not slow the API down.
func TestPushHangingServiceDoesNotSlowTheAPI(t *testing.T) {
	s := testutil.Start(t, testutil.WithConfig(func(c *config.Config) { c.PushWorkers = 2 }))
	ps := s.PushService(t)
	ps.Always(pushservice.Hang)
	author := s.Register(t, "Anna")
	var members []*testutil.User
	for _, n := range []string{"Bruno", "Carla", "Dario"} {
		members = append(members, s.Register(t, n))
	}
	sid := s.StreetWithMembers(t, author, "Via Belle Arti", members...)
	for _, m := range members {
		s.SubscribePush(t, m, ps)
	}
	s.CreatePost(t, author, sid, "request", "Prima")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ps.Wait(ctx, func(v pushservice.View) bool { return v.Hanging() == 2 }); err != nil {
		t.Fatal(err) // both workers stuck
	}
	s.Client.Timeout = 3 * time.Second // far below the 10 s send timeout
	for i := range 5 {
		s.CreatePost(t, author, sid, "request", "Ancora "+string(rune('A'+i)))
		s.Do(t, "GET", "/streets/"+sid+"/posts", nil, members[0].Token).Expect(t, http.StatusOK)
	}
	if ps.Hanging() != 2 {
		t.Fatal("the sends stopped hanging: the test proved nothing")
	}
}

// A restart in the middle of a fan-out delivers what was left, and what
// the push service had accepted is not sent again.
func TestPushRestartMidQueueDeliversOnce(t *testing.T) {
	s := testutil.Start(t, testutil.WithConfig(func(c *config.Config) { c.PushWorkers = 2 }))
	ps := s.PushService(t)
	author := s.Register(t, "Anna")
	var members []*testutil.User
	for _, n := range []string{"B", "C", "D", "E", "F", "G", "H", "I"} {
		members = append(members, s.Register(t, n))
	}
	sid := s.StreetWithMembers(t, author, "Via San Vitale", members...)
	devs := make([]*pushservice.Subscription, len(members))
	for i, m := range members {
		devs[i] = s.SubscribePush(t, m, ps)
	}
	const accepted = 3
	ps.SetBehaviour(func(r pushservice.Request) pushservice.Answer {
		if r.N <= accepted {
			return pushservice.Created
		}
		return pushservice.Hang
	})
	s.CreatePost(t, author, sid, "offer", "Basilico in regalo")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ps.Wait(ctx, func(v pushservice.View) bool { return v.Messages("") == accepted && v.Hanging() == 2 }); err != nil {
		t.Fatal(err)
	}
	ps.SetBehaviour(nil)
	s.Restart(t) // the hanging sends are abandoned by the shutdown
	ps.Release()
	testutil.WaitPushes(t, ps, nil, len(members))
	waitPushStats(t, s, func(st push.Stats) bool { return st.Pending == 0 })
	for i, d := range devs {
		if n := len(ps.Messages(d.Token)); n != 1 {
			t.Fatalf("member %d got %d pushes, want exactly 1", i, n)
		}
	}
}
