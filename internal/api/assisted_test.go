package api_test

import (
	"strings"
	"testing"

	"civico/internal/testutil"
)

// A volunteer who lives in a street posts there for a roster member with no
// smartphone: the street sees the post as the desk's, for that member (and
// none of the member's contacts); replies go to the volunteer; both audit
// trails keep who did it. Nobody else may post for the roster.
func TestAssistedPostingThroughTheDesk(t *testing.T) {
	s := testutil.Start(t)
	coord, vol, anna, outsider := s.Register(t, "Carla Coordinatrice"), s.Register(t, "Vera Volontaria"),
		s.Register(t, "Anna Rossi"), s.Register(t, "Otto Esterno")
	aid := s.Association(t, coord, "Portinaio Bolognina", 500)
	s.Volunteer(t, coord, aid, vol, "volunteer")
	m := s.Member(t, vol.Token, aid, map[string]any{"full_name": "Rina Bianchi", "phone": "333 7654321",
		"email": "rina@example.org"})
	sid := s.StreetWithMembers(t, anna, "Via Tibaldi", vol)
	path := "/associations/" + aid + "/members/" + m.ID + "/posts"
	body := map[string]any{"street_id": sid, "kind": "request", "category": "company",
		"title": "Compagnia per la signora Rina", "body": "Due chiacchiere il giovedì pomeriggio"}

	var post struct {
		ID         string `json:"id"`
		AuthorID   string `json:"author_id"`
		AuthorName string `json:"author_name"`
		OnBehalf   *struct {
			AssociationID string `json:"association_id"`
			MemberName    string `json:"member_name"`
		} `json:"on_behalf"`
	}
	r := s.Do(t, "POST", path, body, vol.Token).Expect(t, 201)
	r.JSON(t, &post)
	if post.AuthorID != vol.ID || post.OnBehalf == nil || post.OnBehalf.AssociationID != aid ||
		!strings.HasPrefix(post.OnBehalf.MemberName, "Rina") {
		t.Fatalf("assisted post = %+v", post)
	}

	// Anna sees it in her feed as made by the desk, with no contact of Rina's.
	feed := s.Do(t, "GET", "/streets/"+sid+"/posts", nil, anna.Token).Expect(t, 200)
	for _, secret := range []string{"333 7654321", "rina@example.org", "Bianchi"} {
		if strings.Contains(string(feed.Body), secret) {
			t.Errorf("the street's feed shows %q of the roster member", secret)
		}
	}
	if !strings.Contains(string(feed.Body), `"on_behalf"`) {
		t.Error("the feed does not say the post was made by the desk")
	}

	// Anna's reply goes to the volunteer, who accepts it and closes the loop.
	reply := s.Reply(t, anna, post.ID, "Passo io giovedì")
	s.Do(t, "POST", "/posts/"+post.ID+"/accept", map[string]string{"reply_id": reply}, vol.Token).Expect(t, 200)
	s.Do(t, "POST", "/posts/"+post.ID+"/done", map[string]string{"thanks": "Rina ringrazia"}, vol.Token).Expect(t, 200)

	// Both trails say who posted for whom.
	var audit struct {
		Items []struct {
			Action   string `json:"action"`
			ActorID  string `json:"actor_id"`
			MemberID string `json:"member_id"`
		} `json:"items"`
	}
	s.Do(t, "GET", "/associations/"+aid+"/audit", nil, coord.Token).Expect(t, 200).JSON(t, &audit)
	found := false
	for _, it := range audit.Items {
		found = found || (it.Action == "post.on_behalf" && it.ActorID == vol.ID && it.MemberID == m.ID)
	}
	if !found {
		t.Errorf("association audit has no post.on_behalf by the volunteer: %+v", audit.Items)
	}
	streetAudit := s.Do(t, "GET", "/streets/"+sid+"/audit", nil, anna.Token).Expect(t, 200)
	if !strings.Contains(string(streetAudit.Body), vol.ID) {
		t.Errorf("street audit does not name the volunteer: %s", streetAudit.Body)
	}

	// Refusals: the coordinator is staff but not a member of the street; an
	// outsider is not staff; bad input changes nothing.
	s.Do(t, "POST", path, body, coord.Token).ExpectError(t, 404, "street_not_found")
	s.Do(t, "POST", path, body, outsider.Token).ExpectError(t, 404, "association_not_found")
	bad := map[string]any{"street_id": sid, "kind": "request", "category": "astrology", "title": "x", "body": "y"}
	s.Do(t, "POST", path, bad, vol.Token).ExpectError(t, 422, "validation_failed")
	var list struct {
		Items []struct{ ID string } `json:"items"`
	}
	s.Do(t, "GET", "/streets/"+sid+"/posts", nil, anna.Token).Expect(t, 200).JSON(t, &list)
	if len(list.Items) != 1 {
		t.Fatalf("the street has %d posts, want only the assisted one", len(list.Items))
	}
}
