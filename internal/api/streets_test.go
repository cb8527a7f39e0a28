package api_test

import (
	"strings"
	"testing"

	"civico/internal/testutil"
)

type memberJSON struct {
	UserID string `json:"user_id"`
	Name   string `json:"name"`
	Role   string `json:"role"`
	Status string `json:"status"`
}

func TestStreetLifecycleAndRoleChecks(t *testing.T) {
	s := testutil.Start(t)
	anna, bruno, carla := s.Register(t, "Anna"), s.Register(t, "Bruno"), s.Register(t, "Carla")
	sid := s.CreateStreet(t, anna, "Via Zamboni")
	base := "/streets/" + sid

	// The public card and the directory, for anyone signed in.
	var card struct {
		Name        string      `json:"name"`
		MemberCount int         `json:"member_count"`
		Membership  *memberJSON `json:"membership"`
	}
	s.Do(t, "GET", base, nil, bruno.Token).Expect(t, 200).JSON(t, &card)
	if card.Name != "Via Zamboni" || card.MemberCount != 1 || card.Membership != nil {
		t.Fatalf("card = %+v", card)
	}
	var dir struct {
		Items []map[string]any `json:"items"`
	}
	s.Do(t, "GET", "/streets?q=zamb&city=Bologna", nil, bruno.Token).Expect(t, 200).JSON(t, &dir)
	if len(dir.Items) != 1 || len(dir.Items[0]) != 6 || dir.Items[0]["member_count"].(float64) != 1 || dir.Items[0]["slug"] != "via-zamboni-bologna" {
		t.Fatalf("directory = %+v (only id, slug, name, city, description, member_count)", dir.Items)
	}
	s.Do(t, "GET", "/streets", nil, "").Expect(t, 200) // the directory is public (showcase_test.go)

	// Asking to join, and an admin's decision.
	var m memberJSON
	s.Do(t, "POST", base+"/join", map[string]string{"message": "abito al 3"}, bruno.Token).Expect(t, 202).JSON(t, &m)
	if m.Status != "pending" {
		t.Fatalf("join = %+v", m)
	}
	s.Do(t, "GET", base+"/members", nil, bruno.Token).ExpectError(t, 404, "street_not_found")
	s.Do(t, "POST", base+"/members/"+bruno.ID+"/approve", nil, anna.Token).Expect(t, 200).JSON(t, &m)
	if m.Status != "active" {
		t.Fatalf("approve = %+v", m)
	}
	s.Do(t, "POST", base+"/members/"+bruno.ID+"/approve", nil, anna.Token).ExpectError(t, 409, "not_pending")
	// Members are not admins.
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"POST", base + "/invites", nil}, {"GET", base + "/invites", nil}, {"GET", base + "/audit", nil},
		{"GET", base + "/members?status=pending", nil}, {"POST", base + "/members/" + anna.ID + "/ban", map[string]string{"reason": "x"}},
		{"PUT", base + "/members/" + anna.ID + "/role", map[string]string{"role": "member"}},
	} {
		s.Do(t, c.method, c.path, c.body, bruno.Token).ExpectError(t, 403, "not_admin")
	}

	// An invite joins at once.
	var inv struct {
		Code      string `json:"code"`
		URL       string `json:"url"`
		ExpiresAt string `json:"expires_at"`
		MaxUses   int    `json:"max_uses"`
	}
	s.Do(t, "POST", base+"/invites", map[string]int{"max_uses": 1, "expires_in_hours": 24}, anna.Token).Expect(t, 201).JSON(t, &inv)
	if inv.Code == "" || !strings.Contains(inv.URL, inv.Code) || inv.ExpiresAt == "" || inv.MaxUses != 1 {
		t.Fatalf("invite = %+v", inv)
	}
	s.Do(t, "POST", base+"/join", map[string]string{"invite_code": inv.Code}, carla.Token).Expect(t, 200).JSON(t, &m)
	if m.Status != "active" {
		t.Fatalf("invite join = %+v", m)
	}
	dan := s.Register(t, "Dan")
	r := s.Do(t, "POST", base+"/join", map[string]string{"invite_code": inv.Code}, dan.Token)
	if r.Status != 422 || r.Fields()["invite_code"] != "expired" {
		t.Fatalf("used-up invite: %d %s", r.Status, r.Body)
	}
	s.Do(t, "POST", base+"/invites", map[string]int{"max_uses": -1}, anna.Token).ExpectError(t, 422, "validation_failed")
	s.Do(t, "POST", base+"/invites", map[string]any{"max_uses": 1, "admin": true}, anna.Token).ExpectError(t, 422, "validation_failed")

	// Bans need a reason; the last admin stays.
	r = s.Do(t, "POST", base+"/members/"+carla.ID+"/ban", map[string]string{}, anna.Token)
	if r.Status != 422 || r.Fields()["reason"] != "required" {
		t.Fatalf("ban without reason: %d %s", r.Status, r.Body)
	}
	s.Do(t, "POST", base+"/members/"+carla.ID+"/ban", map[string]string{"reason": "spam"}, anna.Token).Expect(t, 200)
	s.Do(t, "GET", base+"/posts", nil, carla.Token).ExpectError(t, 404, "street_not_found")
	s.Do(t, "POST", base+"/join", nil, carla.Token).ExpectError(t, 403, "banned")
	s.Do(t, "POST", base+"/members/"+carla.ID+"/unban", nil, anna.Token).Expect(t, 200)
	s.Do(t, "DELETE", base+"/members/me", nil, anna.Token).ExpectError(t, 409, "last_admin")
	s.Do(t, "PUT", base+"/members/"+anna.ID+"/role", map[string]string{"role": "member"}, anna.Token).ExpectError(t, 409, "last_admin")
	s.Do(t, "PUT", base+"/members/"+bruno.ID+"/role", map[string]string{"role": "king"}, anna.Token).ExpectError(t, 422, "validation_failed")
	s.Do(t, "PUT", base+"/members/"+bruno.ID+"/role", map[string]string{"role": "admin"}, anna.Token).Expect(t, 200)
	s.Do(t, "DELETE", base+"/members/me", nil, anna.Token).Expect(t, 204)

	// The audit log, for admins, paginated.
	var audit struct {
		Items []struct {
			Action, Reason, ActorName string
		} `json:"items"`
		NextCursor string `json:"next_cursor"`
	}
	s.Do(t, "GET", base+"/audit?limit=2", nil, bruno.Token).Expect(t, 200).JSON(t, &audit)
	if len(audit.Items) != 2 || audit.NextCursor == "" || audit.Items[0].Action != "member.role" {
		t.Fatalf("audit = %+v", audit)
	}
	s.Do(t, "GET", base+"/audit?cursor="+audit.NextCursor+"x", nil, bruno.Token).ExpectError(t, 400, "bad_cursor")
	s.Do(t, "GET", base+"/audit?limit=500", nil, bruno.Token).ExpectError(t, 422, "validation_failed")

	// GET /me shows the streets with role and status.
	var me struct {
		Memberships struct {
			Streets []struct{ StreetID, Name, Role, Status string } `json:"streets"`
		} `json:"memberships"`
	}
	s.Do(t, "GET", "/me", nil, bruno.Token).Expect(t, 200).JSON(t, &me)
	if len(me.Memberships.Streets) != 1 || me.Memberships.Streets[0].Role != "admin" || me.Memberships.Streets[0].Status != "active" {
		t.Fatalf("me = %+v", me.Memberships)
	}
}

func TestStreetIDsAreValidated(t *testing.T) {
	s := testutil.Start(t)
	anna := s.Register(t, "Anna")
	sid := s.CreateStreet(t, anna, "Via Zamboni")
	for _, path := range []string{"/streets/nope", "/streets/0123456789abcdef01234567", "/streets/" + sid + "%24ne"} {
		s.Do(t, "GET", path, nil, anna.Token).ExpectError(t, 404, "street_not_found")
	}
	s.Do(t, "POST", "/streets/"+sid+"/members/nope/ban", map[string]string{"reason": "x"}, anna.Token).ExpectError(t, 404, "member_not_found")
	s.Do(t, "POST", "/streets", `{"name":{"$gt":""},"city":"x"}`, anna.Token).ExpectError(t, 422, "validation_failed")
	s.Do(t, "POST", "/streets", `{"name":"Via Roma","city":"Roma"`, anna.Token).ExpectError(t, 400, "bad_json")
	r := s.Do(t, "POST", "/streets", map[string]string{"name": "", "city": ""}, anna.Token)
	if r.Status != 422 || r.Fields()["name"] != "required" || r.Fields()["city"] != "required" {
		t.Fatalf("empty street: %d %s", r.Status, r.Body)
	}
}

// Street and post responses carry display names, never an email.
func TestStreetAndPostResponsesHoldNoEmails(t *testing.T) {
	s := testutil.Start(t)
	anna, bruno := s.Register(t, "Anna"), s.Register(t, "Bruno")
	sid := s.StreetWithMembers(t, anna, "Via Zamboni", bruno)
	carla := s.Register(t, "Carla")
	s.Do(t, "POST", "/streets/"+sid+"/join", map[string]string{"message": "ciao"}, carla.Token).Expect(t, 202)
	pid := s.CreatePost(t, bruno, sid, "request", "Trapano")
	rid := s.Reply(t, anna, pid, "ce l'ho")
	var rep struct{ ID string }
	s.Do(t, "POST", "/reports", map[string]string{"target": "reply", "id": rid, "reason": "test"}, bruno.Token).Expect(t, 201).JSON(t, &rep)
	for _, path := range []string{
		"/streets", "/streets/" + sid, "/streets/" + sid + "/members", "/streets/" + sid + "/members?status=pending",
		"/streets/" + sid + "/audit", "/streets/" + sid + "/posts", "/posts/" + pid, "/posts/" + pid + "/replies",
		"/streets/" + sid + "/reports", "/streets/" + sid + "/invites",
	} {
		r := s.Do(t, "GET", path, nil, anna.Token).Expect(t, 200)
		if strings.Contains(string(r.Body), "@example.org") {
			t.Errorf("%s shows an email: %s", path, r.Body)
		}
	}
}
