package api_test

import (
	"net/http"
	"testing"

	"civico/internal/testutil"
)

type shareInviteJSON struct {
	Code      string `json:"code"`
	URL       string `json:"url"`
	MaxUses   int    `json:"max_uses"`
	CreatedBy string `json:"created_by"`
}

type shareInviteList struct {
	Items []shareInviteJSON `json:"items"`
}

func inviteCodes(l shareInviteList) map[string]bool {
	out := map[string]bool{}
	for _, inv := range l.Items {
		out[inv.Code] = true
	}
	return out
}

// Who may make and see a street's invite links: its admins always; a
// member only once an admin lets members invite, and then only small ones
// and only their own; a member (or an admin) of another street never.
func TestMembersShareInviteLinksOnceAnAdminAllowsIt(t *testing.T) {
	s := testutil.Start(t)
	anna, bruno, carla := s.Register(t, "Anna"), s.Register(t, "Bruno"), s.Register(t, "Carla")
	dora, elio := s.Register(t, "Dora"), s.Register(t, "Elio")
	a := s.StreetWithMembers(t, anna, "Via Fondazza", bruno, carla)
	b := s.StreetWithMembers(t, dora, "Via Saragozza", elio)
	base := "/streets/" + a

	var st struct {
		MembersInvite *bool `json:"members_invite"`
	}
	s.Do(t, "GET", base, nil, bruno.Token).Expect(t, http.StatusOK).JSON(t, &st)
	if st.MembersInvite == nil || *st.MembersInvite {
		t.Fatalf("a new street's members_invite is %v, want false", st.MembersInvite)
	}
	// Before an admin allows it, a member is no admin.
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"POST", base + "/invites", nil},
		{"GET", base + "/invites", nil},
		{"PATCH", base, map[string]bool{"members_invite": true}},
	} {
		s.Do(t, c.method, c.path, c.body, bruno.Token).ExpectError(t, http.StatusForbidden, "not_admin")
	}

	s.Do(t, "PATCH", base, map[string]bool{"members_invite": true}, anna.Token).Expect(t, http.StatusOK).JSON(t, &st)
	if st.MembersInvite == nil || !*st.MembersInvite {
		t.Fatalf("members_invite after the admin's change: %v", st.MembersInvite)
	}
	s.Do(t, "PATCH", "/streets/"+b, map[string]bool{"members_invite": true}, dora.Token).Expect(t, http.StatusOK)

	var mine, admins shareInviteJSON
	s.Do(t, "POST", base+"/invites", nil, bruno.Token).Expect(t, http.StatusCreated).JSON(t, &mine)
	if mine.MaxUses != 10 || mine.CreatedBy != bruno.ID || mine.URL == "" {
		t.Fatalf("a member's invite: %+v", mine)
	}
	s.Do(t, "POST", base+"/invites", map[string]int{"max_uses": 100}, anna.Token).Expect(t, http.StatusCreated).JSON(t, &admins)
	for _, c := range []struct {
		body  map[string]int
		field string
	}{
		{map[string]int{"max_uses": 11}, "max_uses"},
		{map[string]int{"expires_in_hours": 73}, "expires_in_hours"},
	} {
		r := s.Do(t, "POST", base+"/invites", c.body, bruno.Token)
		if r.Status != http.StatusUnprocessableEntity || r.Fields()[c.field] != "out_of_range" {
			t.Errorf("a member's invite with %v: %d %s", c.body, r.Status, r.Body)
		}
	}

	var list shareInviteList
	s.Do(t, "GET", base+"/invites", nil, bruno.Token).Expect(t, http.StatusOK).JSON(t, &list)
	if len(list.Items) != 1 || list.Items[0].Code != mine.Code {
		t.Fatalf("Bruno lists %+v, want his own invite only", list.Items)
	}
	s.Do(t, "GET", base+"/invites", nil, carla.Token).Expect(t, http.StatusOK).JSON(t, &list)
	if len(list.Items) != 0 {
		t.Fatalf("Carla lists %+v, want none", list.Items)
	}
	s.Do(t, "GET", base+"/invites", nil, anna.Token).Expect(t, http.StatusOK).JSON(t, &list)
	if got := inviteCodes(list); !got[mine.Code] || !got[admins.Code] {
		t.Fatalf("the admin lists %+v, want every invite", list.Items)
	}
	// A member revokes only their own.
	s.Do(t, "DELETE", base+"/invites/"+admins.Code, nil, bruno.Token).ExpectError(t, http.StatusNotFound, "invite_not_found")
	s.Do(t, "DELETE", base+"/invites/"+mine.Code, nil, carla.Token).ExpectError(t, http.StatusNotFound, "invite_not_found")

	// Street B's member and admin never reach street A's invites, though
	// both streets let members invite.
	for _, u := range []*testutil.User{elio, dora} {
		s.Do(t, "POST", base+"/invites", nil, u.Token).ExpectError(t, http.StatusNotFound, "street_not_found")
		s.Do(t, "GET", base+"/invites", nil, u.Token).ExpectError(t, http.StatusNotFound, "street_not_found")
		s.Do(t, "DELETE", base+"/invites/"+mine.Code, nil, u.Token).ExpectError(t, http.StatusNotFound, "street_not_found")
		s.Do(t, "PATCH", base, map[string]bool{"members_invite": false}, u.Token).ExpectError(t, http.StatusNotFound, "street_not_found")
	}
	s.Do(t, "POST", "/streets/"+b+"/invites", nil, elio.Token).Expect(t, http.StatusCreated)

	// The member's link brings a neighbour in; once the admin turns the
	// choice off, it no longer does, and the member is no admin again.
	fabio, gina := s.Register(t, "Fabio"), s.Register(t, "Gina")
	s.Do(t, "POST", base+"/join", map[string]string{"invite_code": mine.Code}, fabio.Token).Expect(t, http.StatusOK)
	s.Do(t, "PATCH", base, map[string]bool{"members_invite": false}, anna.Token).Expect(t, http.StatusOK)
	r := s.Do(t, "POST", base+"/join", map[string]string{"invite_code": mine.Code}, gina.Token)
	if r.Status != http.StatusUnprocessableEntity || r.Fields()["invite_code"] != "invalid" {
		t.Fatalf("a member's link once members may no longer invite: %d %s", r.Status, r.Body)
	}
	s.Do(t, "POST", base+"/invites", nil, bruno.Token).ExpectError(t, http.StatusForbidden, "not_admin")
	s.Do(t, "GET", base+"/invites", nil, bruno.Token).ExpectError(t, http.StatusForbidden, "not_admin")
}

// The street's public card answers signed out: what an invite link shows
// to someone who has no account yet, and nothing more.
func TestStreetPublicCardSignedOut(t *testing.T) {
	s := testutil.Start(t)
	anna, bruno := s.Register(t, "Anna"), s.Register(t, "Bruno")
	sid := s.StreetWithMembers(t, anna, "Via Fondazza", bruno)
	// Out of the directory, it still has its card: the link is how one finds it.
	s.Do(t, "PATCH", "/streets/"+sid, map[string]bool{"listed": false}, anna.Token).Expect(t, http.StatusOK)

	var card map[string]any
	s.Do(t, "GET", "/streets/"+sid+"/public", nil, "").Expect(t, http.StatusOK).JSON(t, &card)
	if card["name"] != "Via Fondazza" || card["city"] != "Bologna" || card["member_count"] != float64(2) || len(card) != 6 {
		t.Fatalf("public card %v: want only id, slug, name, city, description, member_count", card)
	}
	for _, bad := range []string{"0123456789abcdef01234567", "nope"} {
		s.Do(t, "GET", "/streets/"+bad+"/public", nil, "").ExpectError(t, http.StatusNotFound, "street_not_found")
	}
}

// A street's members see which Portinaio desks it is linked with (the
// active links only, to open their skills directory); the admins see the
// requests too; anyone else nothing.
func TestResidentsSeeTheirStreetsDesks(t *testing.T) {
	s := testutil.Start(t)
	anna, bruno, coord, other := s.Register(t, "Anna"), s.Register(t, "Bruno"), s.Register(t, "Cora"), s.Register(t, "Otto")
	sid := s.StreetWithMembers(t, anna, "Via Fondazza", bruno)
	linked := s.Association(t, coord, "Portinaio Fondazza", 500)
	asked := s.Association(t, coord, "Portinaio Santo Stefano", 500)
	s.Link(t, anna, coord, sid, linked)
	s.Do(t, "POST", "/streets/"+sid+"/links", map[string]string{"association_id": asked}, anna.Token).Expect(t, http.StatusOK)

	type links struct {
		Items []struct {
			AssociationID   string `json:"association_id"`
			AssociationName string `json:"association_name"`
			Status          string `json:"status"`
		} `json:"items"`
	}
	var l links
	s.Do(t, "GET", "/streets/"+sid+"/links", nil, bruno.Token).Expect(t, http.StatusOK).JSON(t, &l)
	if len(l.Items) != 1 || l.Items[0].AssociationID != linked || l.Items[0].Status != "active" || l.Items[0].AssociationName != "Portinaio Fondazza" {
		t.Fatalf("a member sees %+v, want the active link only", l.Items)
	}
	s.Do(t, "GET", "/streets/"+sid+"/links", nil, anna.Token).Expect(t, http.StatusOK).JSON(t, &l)
	if len(l.Items) != 2 {
		t.Fatalf("the admin sees %+v, want the link and the request", l.Items)
	}
	s.Do(t, "GET", "/streets/"+sid+"/links", nil, other.Token).ExpectError(t, http.StatusNotFound, "street_not_found")
	s.Do(t, "GET", "/associations/"+linked+"/skills", nil, bruno.Token).Expect(t, http.StatusOK)
}
