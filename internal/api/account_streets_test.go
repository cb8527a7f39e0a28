package api_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"civico/internal/testutil"
)

// A neighbour with a street, posts, replies, an exchange and reports
// exports all of it, deletes the account, and the street carries on: a new
// admin, the posts anonymised, and the person's name and email nowhere in
// what the others see.
func TestStreetDataExportedThenAnonymisedOnDelete(t *testing.T) {
	s := testutil.Start(t)
	anna := s.Register(t, "Annabella Cancellanda")
	bruno, carla, dario := s.Register(t, "Bruno"), s.Register(t, "Carla"), s.Register(t, "Dario")
	sid := s.StreetWithMembers(t, anna, "Via dell'Export", bruno, carla, dario)

	// Anna's open request, and a request Bruno helped with (an exchange).
	open := s.Request(t, anna, sid, "lending", "Cerco un trapano")
	done := s.Request(t, anna, sid, "repairs", "Rubinetto che perde")
	s.Accept(t, anna, done, s.Reply(t, bruno, done, "Passo stasera"))
	s.Done(t, anna, done)
	// Anna answers Carla's offer, reports a post of Dario's and bans him;
	// Carla reports Anna.
	offer := s.CreatePost(t, carla, sid, "offer", "Ripetizioni di latino")
	s.Reply(t, anna, offer, "Mia figlia ne avrebbe bisogno")
	spam := s.CreatePost(t, dario, sid, "offer", "Compro oro")
	s.Do(t, "POST", "/reports", map[string]string{"target": "post", "id": spam, "reason": "pubblicità"}, anna.Token).Expect(t, 201)
	s.Do(t, "POST", "/reports", map[string]string{"target": "user", "id": anna.ID, "street_id": sid, "reason": "maleducata"}, carla.Token).Expect(t, 201)
	s.Do(t, "POST", "/streets/"+sid+"/members/"+dario.ID+"/ban", map[string]string{"reason": "spam"}, anna.Token).Expect(t, 200)

	var export struct {
		Streets struct {
			Memberships []struct {
				StreetID   string `json:"street_id"`
				StreetName string `json:"street_name"`
				Role       string
				Status     string
				JoinedAt   *time.Time `json:"joined_at"`
			} `json:"memberships"`
		} `json:"streets"`
		Posts struct {
			Posts []struct {
				ID, Title, Body, Status, Kind, Category string
				CreatedAt                               time.Time  `json:"created_at"`
				DoneAt                                  *time.Time `json:"done_at"`
			} `json:"posts"`
			Replies []struct {
				PostID string `json:"post_id"`
				Body   string
				Status string
			} `json:"replies"`
			Exchanges []struct {
				PostID    string `json:"post_id"`
				Category  string
				Role      string
				OtherName string    `json:"other_name"`
				At        time.Time `json:"at"`
			} `json:"exchanges"`
			Limit     int      `json:"limit"`
			Truncated []string `json:"truncated"`
		} `json:"posts"`
		Reports struct {
			Reports []struct {
				Target   string
				TargetID string `json:"target_id"`
				Reason   string
				Status   string
			} `json:"reports"`
		} `json:"reports"`
	}
	s.Do(t, "GET", "/me/export", nil, anna.Token).Expect(t, 200).JSON(t, &export)
	if m := export.Streets.Memberships; len(m) != 1 || m[0].StreetID != sid || m[0].StreetName != "Via dell'Export" ||
		m[0].Role != "admin" || m[0].Status != "active" || m[0].JoinedAt == nil {
		t.Fatalf("exported memberships %+v", m)
	}
	if p := export.Posts.Posts; len(p) != 2 || p[0].ID != open || p[0].Title != "Cerco un trapano" || p[0].Status != "open" ||
		p[0].Body != "Body of Cerco un trapano" || p[0].CreatedAt.IsZero() || p[1].ID != done || p[1].Status != "done" || p[1].DoneAt == nil {
		t.Fatalf("exported posts %+v", p)
	}
	if r := export.Posts.Replies; len(r) != 1 || r[0].PostID != offer || r[0].Body != "Mia figlia ne avrebbe bisogno" || r[0].Status != "visible" {
		t.Fatalf("exported replies %+v", r)
	}
	if x := export.Posts.Exchanges; len(x) != 1 || x[0].PostID != done || x[0].Category != "repairs" || x[0].Role != "receiver" ||
		x[0].OtherName != "Bruno" || x[0].At.IsZero() {
		t.Fatalf("exported exchanges %+v", x)
	}
	if export.Posts.Limit != 10000 || len(export.Posts.Truncated) != 0 {
		t.Fatalf("export limit %d, truncated %v", export.Posts.Limit, export.Posts.Truncated)
	}
	if r := export.Reports.Reports; len(r) != 1 || r[0].Target != "post" || r[0].TargetID != spam || r[0].Reason != "pubblicità" || r[0].Status != "open" {
		t.Fatalf("exported reports %+v", r)
	}

	live := s.ConnectWS(t, carla, sid, "")
	s.Do(t, "DELETE", "/me", map[string]string{"password": anna.Password}, anna.Token).Expect(t, 204)

	// Nothing Bruno (now the admin) or Carla reads names Anna.
	leaks := func(what, body string) {
		t.Helper()
		for _, secret := range []string{anna.Name, "Annabella", anna.Email, anna.ID} {
			if strings.Contains(body, secret) {
				t.Fatalf("%s still holds %q: %s", what, secret, body)
			}
		}
	}
	var street struct {
		MemberCount int `json:"member_count"`
		Membership  struct{ Role string }
	}
	s.Do(t, "GET", "/streets/"+sid, nil, bruno.Token).Expect(t, 200).JSON(t, &street)
	if street.Membership.Role != "admin" || street.MemberCount != 2 {
		t.Fatalf("after the deletion, street %+v: Bruno (joined first) should be admin, with Carla", street)
	}
	var feed struct {
		Items []struct {
			ID, Title, Body, Status string
			AuthorID                string `json:"author_id"`
			AuthorName              string `json:"author_name"`
			AuthorDeleted           bool   `json:"author_deleted"`
			CloseReason             string `json:"close_reason"`
		} `json:"items"`
	}
	r := s.Do(t, "GET", "/streets/"+sid+"/posts?status=open,matched,done,closed&limit=100", nil, carla.Token).Expect(t, 200)
	leaks("the feed", string(r.Body))
	r.JSON(t, &feed)
	found := 0
	for _, p := range feed.Items {
		switch p.ID {
		case open:
			found++
			if p.Status != "closed" || p.CloseReason != "author_deleted" || p.Body != "" || !p.AuthorDeleted || p.AuthorName != "" || p.AuthorID == "" {
				t.Fatalf("Anna's open request after the deletion: %+v", p)
			}
		case done:
			found++
			if p.Status != "done" || p.Body != "Body of Rubinetto che perde" || !p.AuthorDeleted || p.AuthorName != "" {
				t.Fatalf("Anna's done request after the deletion: %+v", p)
			}
		}
	}
	if found != 2 {
		t.Fatalf("Anna's posts left the feed: %+v", feed.Items)
	}
	var thread struct {
		Replies []struct {
			Body          string
			AuthorName    string `json:"author_name"`
			AuthorDeleted bool   `json:"author_deleted"`
		} `json:"replies"`
	}
	r = s.Do(t, "GET", "/posts/"+offer, nil, carla.Token).Expect(t, 200)
	leaks("Carla's thread", string(r.Body))
	r.JSON(t, &thread)
	if len(thread.Replies) != 1 || !thread.Replies[0].AuthorDeleted || thread.Replies[0].Body != "Mia figlia ne avrebbe bisogno" {
		t.Fatalf("Anna's reply after the deletion: %+v", thread.Replies)
	}
	for _, status := range []string{"active", "pending", "banned"} {
		leaks("the "+status+" members", string(s.Do(t, "GET", "/streets/"+sid+"/members?status="+status, nil, bruno.Token).Expect(t, 200).Body))
	}
	var audit struct {
		Items []struct {
			Action, Reason, Detail string
			ActorID                string `json:"actor_id"`
			TargetID               string `json:"target_id"`
		} `json:"items"`
	}
	r = s.Do(t, "GET", "/streets/"+sid+"/audit?limit=100", nil, bruno.Token).Expect(t, 200)
	leaks("the audit log", string(r.Body))
	r.JSON(t, &audit)
	promoted, banned := false, false
	for _, a := range audit.Items {
		promoted = promoted || (a.Action == "member.role" && a.TargetID == bruno.ID && a.Detail == "admin" && a.Reason == "account_deleted")
		banned = banned || (a.Action == "member.ban" && a.TargetID == dario.ID && a.ActorID != "")
	}
	if !promoted || !banned {
		t.Fatalf("audit log after the deletion (want Bruno's promotion and Anna's ban of Dario, unnamed): %+v", audit.Items)
	}
	// Carla's open socket heard that Anna's request closed, with no name.
	for {
		f := live.NextOf(t, "post.updated")
		var d struct {
			ID            string `json:"id"`
			AuthorDeleted bool   `json:"author_deleted"`
		}
		if err := json.Unmarshal(f.Data, &d); err != nil {
			t.Fatal(err)
		}
		if d.ID == open {
			leaks("the live post.updated", string(f.Data))
			if !d.AuthorDeleted {
				t.Fatalf("post.updated without author_deleted: %s", f.Data)
			}
			break
		}
	}
	// A client resuming from the start replays nothing that names her.
	marker := s.CreatePost(t, carla, sid, "offer", "Fine del replay")
	replay := s.ConnectWS(t, carla, sid, "0")
	for {
		f := replay.Next(t)
		leaks("the replayed "+f.Type, string(f.Data))
		if f.Type == "post.created" && strings.Contains(string(f.Data), marker) {
			break
		}
	}
	for _, status := range []string{"open", "resolved"} {
		leaks("the "+status+" reports", string(s.Do(t, "GET", "/streets/"+sid+"/reports?status="+status, nil, bruno.Token).Expect(t, 200).Body))
	}
	var reports struct {
		Items []struct{ Target, Status, Action, Resolution string } `json:"items"`
	}
	s.Do(t, "GET", "/streets/"+sid+"/reports?status=resolved", nil, bruno.Token).Expect(t, 200).JSON(t, &reports)
	if len(reports.Items) != 1 || reports.Items[0].Target != "user" || reports.Items[0].Action != "dismiss" || reports.Items[0].Resolution != "account_deleted" {
		t.Fatalf("Carla's report on Anna should be dismissed: %+v", reports.Items)
	}
}
