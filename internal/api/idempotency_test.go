package api_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"civico/internal/testutil"
)

// idObject is the id of a post or a reply as answered.
type idObject struct {
	ID string `json:"id"`
}

// The PWA's outbox sends a post written offline with an Idempotency-Key and
// sends it again with the same key until it gets an answer. The first
// request makes the post (201); every retry gets the same post back (200,
// Idempotent-Replayed), also concurrently and after a restart; the street
// sees one post. The same key for another post is a conflict; a malformed
// key is refused and changes nothing.
func TestIdempotencyKeyOnPosts(t *testing.T) {
	s := testutil.Start(t)
	anna, bruno := s.Register(t, "Anna"), s.Register(t, "Bruno")
	sid := s.StreetWithMembers(t, anna, "Via Idempotente", bruno)
	path := "/streets/" + sid + "/posts"
	body := map[string]string{"kind": "request", "category": "repairs", "title": "Trapano", "body": "Qualcuno me lo presta?"}
	key := "0b6a9c1e-3f7d-4a52-9e0b-6c1d2f3a4b5c" // what crypto.randomUUID gives

	var first, again idObject
	r := s.Do(t, "POST", path, body, anna.Token, "Idempotency-Key", key).Expect(t, http.StatusCreated)
	r.JSON(t, &first)
	if r.Header.Get("Idempotent-Replayed") != "" {
		t.Fatal("a new post says it is replayed")
	}
	r = s.Do(t, "POST", path, body, anna.Token, "Idempotency-Key", key).Expect(t, http.StatusOK)
	r.JSON(t, &again)
	if again.ID != first.ID || r.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry answered %s (%q), want %s replayed", again.ID, r.Header.Get("Idempotent-Replayed"), first.ID)
	}

	// Ten retries at once (a flaky connection, two tabs): one post.
	key2 := "concurrent-outbox-item"
	statuses := make([]int, 10)
	ids := make([]string, 10)
	var wg sync.WaitGroup
	for i := range statuses {
		wg.Go(func() {
			r := s.Do(t, "POST", path, map[string]string{"kind": "offer", "category": "lending", "title": "Scala", "body": "Ne ho una"},
				bruno.Token, "Idempotency-Key", key2)
			var p idObject
			if r.Status == http.StatusOK || r.Status == http.StatusCreated {
				r.JSON(t, &p)
			}
			statuses[i], ids[i] = r.Status, p.ID
		})
	}
	wg.Wait()
	created := 0
	for i := range statuses {
		if statuses[i] == http.StatusCreated {
			created++
		} else if statuses[i] != http.StatusOK {
			t.Fatalf("status %d", statuses[i])
		}
		if ids[i] != ids[0] {
			t.Fatalf("ids = %v", ids)
		}
	}
	if created != 1 {
		t.Fatalf("%d answers 201, want 1 (%v)", created, statuses)
	}

	// The same key for something else; another user's identical key is theirs.
	other := map[string]string{"kind": "request", "category": "repairs", "title": "Martello", "body": "Anche un martello"}
	s.Do(t, "POST", path, other, anna.Token, "Idempotency-Key", key).ExpectError(t, http.StatusConflict, "idempotency_conflict")
	s.Do(t, "POST", path, body, bruno.Token, "Idempotency-Key", key).Expect(t, http.StatusCreated)

	// Malformed keys.
	for _, bad := range []string{"short", strings.Repeat("k", 129), "chiave con spazi", "chiave-città"} {
		s.Do(t, "POST", path, other, anna.Token, "Idempotency-Key", bad).ExpectError(t, http.StatusBadRequest, "invalid_idempotency_key")
	}

	// No key: every request is a post, as before.
	s.Do(t, "POST", path, other, anna.Token).Expect(t, http.StatusCreated)
	s.Do(t, "POST", path, other, anna.Token).Expect(t, http.StatusCreated)

	feedLen := func() int {
		t.Helper()
		var feed struct {
			Items []idObject `json:"items"`
		}
		s.Do(t, "GET", path+"?limit=100", nil, anna.Token).Expect(t, http.StatusOK).JSON(t, &feed)
		return len(feed.Items)
	}
	// Trapano (Anna), Scala, Trapano (Bruno), two Martelli.
	if n := feedLen(); n != 5 {
		t.Fatalf("feed has %d posts, want 5", n)
	}

	// A retry after a restart still finds its post.
	s.Restart(t)
	s.Do(t, "POST", path, body, anna.Token, "Idempotency-Key", key).Expect(t, http.StatusOK).JSON(t, &again)
	if again.ID != first.ID {
		t.Fatalf("after restart: %s, want %s", again.ID, first.ID)
	}
	if n := feedLen(); n != 5 {
		t.Fatalf("feed has %d posts after the restart, want 5", n)
	}
}

// A reply sent from the outbox is written once, and its retry answers it
// even after the post was closed.
func TestIdempotencyKeyOnReplies(t *testing.T) {
	s := testutil.Start(t)
	anna, bruno := s.Register(t, "Anna"), s.Register(t, "Bruno")
	sid := s.StreetWithMembers(t, anna, "Via delle Risposte", bruno)
	pid := s.CreatePost(t, anna, sid, "request", "Serve un trapano")
	path := "/posts/" + pid + "/replies"
	key := "reply-outbox-key-1"
	var first, again idObject
	s.Do(t, "POST", path, map[string]string{"body": "Ce l'ho io"}, bruno.Token, "Idempotency-Key", key).
		Expect(t, http.StatusCreated).JSON(t, &first)
	r := s.Do(t, "POST", path, map[string]string{"body": "Ce l'ho io"}, bruno.Token, "Idempotency-Key", key).Expect(t, http.StatusOK)
	r.JSON(t, &again)
	if again.ID != first.ID || r.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry = %s, want %s", again.ID, first.ID)
	}
	s.Do(t, "POST", path, map[string]string{"body": "Altro testo"}, bruno.Token, "Idempotency-Key", key).
		ExpectError(t, http.StatusConflict, "idempotency_conflict")
	s.Do(t, "POST", path, map[string]string{"body": "Ce l'ho io"}, bruno.Token, "Idempotency-Key", "x").
		ExpectError(t, http.StatusBadRequest, "invalid_idempotency_key")

	s.Do(t, "POST", "/posts/"+pid+"/close", nil, anna.Token).Expect(t, http.StatusOK)
	s.Do(t, "POST", path, map[string]string{"body": "Ce l'ho io"}, bruno.Token, "Idempotency-Key", key).
		Expect(t, http.StatusOK).JSON(t, &again)
	if again.ID != first.ID {
		t.Fatalf("retry on the closed post = %s, want %s", again.ID, first.ID)
	}
	var thread struct {
		ReplyCount int        `json:"reply_count"`
		Replies    []idObject `json:"replies"`
	}
	s.Do(t, "GET", "/posts/"+pid, nil, anna.Token).Expect(t, http.StatusOK).JSON(t, &thread)
	if thread.ReplyCount != 1 || len(thread.Replies) != 1 || thread.Replies[0].ID != first.ID {
		t.Fatalf("thread = %+v, want the one reply %s", thread, first.ID)
	}
}

// The desk's assisted posts take the key too: a retried request makes one
// post and one line in the association's trail.
func TestIdempotencyKeyOnAssistedPosts(t *testing.T) {
	s := testutil.Start(t)
	coord, vol, anna := s.Register(t, "Carla"), s.Register(t, "Vera"), s.Register(t, "Anna")
	aid := s.Association(t, coord, "Portinaio Idempotente", 500)
	s.Volunteer(t, coord, aid, vol, "volunteer")
	m := s.Member(t, vol.Token, aid, map[string]any{"full_name": "Rina Bianchi"})
	sid := s.StreetWithMembers(t, anna, "Via della Portineria", vol)
	path := "/associations/" + aid + "/members/" + m.ID + "/posts"
	body := map[string]any{"street_id": sid, "kind": "request", "category": "company", "title": "Compagnia", "body": "Il giovedì"}
	key := "desk-post-key-0001"

	var first, again idObject
	s.Do(t, "POST", path, body, vol.Token, "Idempotency-Key", key).Expect(t, http.StatusCreated).JSON(t, &first)
	r := s.Do(t, "POST", path, body, vol.Token, "Idempotency-Key", key).Expect(t, http.StatusOK)
	r.JSON(t, &again)
	if again.ID != first.ID || r.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry = %s, want %s", again.ID, first.ID)
	}
	changed := map[string]any{"street_id": sid, "kind": "request", "category": "company", "title": "Compagnia", "body": "Il venerdì"}
	s.Do(t, "POST", path, changed, vol.Token, "Idempotency-Key", key).ExpectError(t, http.StatusConflict, "idempotency_conflict")
	s.Do(t, "POST", path, body, vol.Token, "Idempotency-Key", "bad key").ExpectError(t, http.StatusBadRequest, "invalid_idempotency_key")

	var feed struct {
		Items []idObject `json:"items"`
	}
	s.Do(t, "GET", "/streets/"+sid+"/posts", nil, anna.Token).Expect(t, http.StatusOK).JSON(t, &feed)
	if len(feed.Items) != 1 || feed.Items[0].ID != first.ID {
		t.Fatalf("feed = %+v, want the one post %s", feed.Items, first.ID)
	}
	var audit struct {
		Items []struct {
			Action string `json:"action"`
		} `json:"items"`
	}
	s.Do(t, "GET", "/associations/"+aid+"/audit", nil, coord.Token).Expect(t, http.StatusOK).JSON(t, &audit)
	n := 0
	for _, it := range audit.Items {
		if it.Action == "post.on_behalf" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d post.on_behalf lines in the trail, want 1", n)
	}
}
