package api_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"civico/internal/testutil"
)

type profileView struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Initials    string   `json:"initials"`
	Bio         string   `json:"bio"`
	Skills      []string `json:"skills"`
	MemberSince string   `json:"member_since"`
}

type skillsPage struct {
	Items []struct {
		Skill   string `json:"skill"`
		Members []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"members"`
	} `json:"items"`
	NextCursor string `json:"next_cursor"`
}

func (p skillsPage) lines() []string {
	out := []string{}
	for _, it := range p.Items {
		names := []string{}
		for _, m := range it.Members {
			names = append(names, m.Name)
		}
		out = append(out, it.Skill+": "+strings.Join(names, ", "))
	}
	return out
}

// A member sets a profile with PATCH /me (GET /me and the export show it);
// the street's members read it through the street, with the skills only
// while she consents; the skills directory lists the consenting members'
// skills page by page; nobody reads a profile through a street they or
// she are not active members of; deleting the account takes it all away.
func TestProfilesAndSkillsDirectory(t *testing.T) {
	s := testutil.Start(t)
	anna, bruno, carla, dario := s.Register(t, "Anna Rossi"), s.Register(t, "Bruno"), s.Register(t, "Carla Verdi"), s.Register(t, "Dario")
	sid := s.StreetWithMembers(t, anna, "Via Fondazza", bruno, carla)
	other := s.StreetWithMembers(t, dario, "Via Petroni")

	var me struct {
		Bio         string   `json:"bio"`
		Skills      []string `json:"skills"`
		ShareSkills bool     `json:"share_skills"`
	}
	s.Do(t, "GET", "/me", nil, anna.Token).Expect(t, http.StatusOK).JSON(t, &me)
	if me.Bio != "" || me.Skills == nil || len(me.Skills) != 0 || me.ShareSkills {
		t.Fatalf("a new account's profile: %+v", me)
	}
	s.Do(t, "PATCH", "/me", map[string]any{"bio": " Maestra in pensione, ho un orto. ", "skills": []string{"Giardinaggio", " ripetizioni  di latino"},
		"share_skills": true}, anna.Token).Expect(t, http.StatusOK).JSON(t, &me)
	if me.Bio != "Maestra in pensione, ho un orto." || !slices.Equal(me.Skills, []string{"Giardinaggio", "ripetizioni di latino"}) || !me.ShareSkills {
		t.Fatalf("after PATCH /me: %+v", me)
	}
	s.Do(t, "PATCH", "/me", map[string]any{"skills": []string{"idraulica"}, "bio": "Idraulico."}, bruno.Token).Expect(t, http.StatusOK)
	s.Do(t, "PATCH", "/me", map[string]any{"skills": []string{"giardinaggio", "cucito"}, "share_skills": true}, carla.Token).Expect(t, http.StatusOK)

	// Bad input names its field and changes nothing.
	for _, c := range []struct {
		body         map[string]any
		field, probl string
	}{
		{map[string]any{"bio": strings.Repeat("a", 281)}, "bio", "too_long"},
		{map[string]any{"skills": strings.Split("a,b,c,d,e,f,g,h,i,j,k", ",")}, "skills", "too_many"},
		{map[string]any{"skills": []string{strings.Repeat("x", 41)}}, "skills", "too_long"},
		{map[string]any{"skills": []string{"Cucito", "cucito"}}, "skills", "duplicate"},
		{map[string]any{"skills": []string{""}}, "skills", "required"},
		{map[string]any{"skills": []any{1}}, "skills", "invalid_type"},
		{map[string]any{"skills": "cucito"}, "skills", "invalid_type"},
		{map[string]any{"share_skills": "yes"}, "share_skills", "invalid_type"},
	} {
		r := s.Do(t, "PATCH", "/me", c.body, anna.Token).ExpectError(t, http.StatusUnprocessableEntity, "validation_failed")
		if r.Fields()[c.field] != c.probl {
			t.Fatalf("%v: fields %v, want %s: %s", c.body, r.Fields(), c.field, c.probl)
		}
	}
	var export struct {
		Account struct {
			Bio         string   `json:"bio"`
			Skills      []string `json:"skills"`
			ShareSkills bool     `json:"share_skills"`
		} `json:"account"`
	}
	s.Do(t, "GET", "/me/export", nil, anna.Token).Expect(t, http.StatusOK).JSON(t, &export)
	if export.Account.Bio != me.Bio || !slices.Equal(export.Account.Skills, me.Skills) || !export.Account.ShareSkills {
		t.Fatalf("export: %+v", export.Account)
	}

	profile := "/streets/" + sid + "/members/" + anna.ID + "/profile"
	var p profileView
	r := s.Do(t, "GET", profile, nil, bruno.Token).Expect(t, http.StatusOK)
	r.JSON(t, &p)
	if p.ID != anna.ID || p.Name != "Anna Rossi" || p.Initials != "AR" || p.Bio != me.Bio || !slices.Equal(p.Skills, me.Skills) || p.MemberSince == "" {
		t.Fatalf("Anna's profile: %+v", p)
	}
	if strings.Contains(string(r.Body), "@") || strings.Contains(string(r.Body), "email") {
		t.Fatalf("a profile shows an email: %s", r.Body)
	}
	p = profileView{}
	s.Do(t, "GET", "/streets/"+sid+"/members/"+bruno.ID+"/profile", nil, anna.Token).Expect(t, http.StatusOK).JSON(t, &p)
	if p.Bio != "Idraulico." || p.Skills != nil {
		t.Fatalf("without consent the skills show: %+v", p)
	}

	// Only through a street both are active members of.
	s.Do(t, "GET", profile, nil, dario.Token).ExpectError(t, http.StatusNotFound, "street_not_found")
	s.Do(t, "GET", "/streets/"+other+"/members/"+anna.ID+"/profile", nil, dario.Token).ExpectError(t, http.StatusNotFound, "member_not_found")
	s.Do(t, "GET", "/streets/"+other+"/members/"+dario.ID+"/profile", nil, anna.Token).ExpectError(t, http.StatusNotFound, "street_not_found")
	s.Do(t, "GET", "/streets/"+sid+"/members/nope/profile", nil, anna.Token).ExpectError(t, http.StatusNotFound, "member_not_found")
	s.Do(t, "GET", profile, nil, "").Expect(t, http.StatusUnauthorized)

	var page skillsPage
	s.Do(t, "GET", "/streets/"+sid+"/skills", nil, bruno.Token).Expect(t, http.StatusOK).JSON(t, &page)
	want := []string{"cucito: Carla Verdi", "Giardinaggio: Anna Rossi, Carla Verdi", "ripetizioni di latino: Anna Rossi"}
	if got := page.lines(); !slices.Equal(got, want) || page.NextCursor != "" {
		t.Fatalf("skills directory %q %q, want %q", got, page.NextCursor, want)
	}
	var first, second skillsPage
	s.Do(t, "GET", "/streets/"+sid+"/skills?limit=2", nil, bruno.Token).Expect(t, http.StatusOK).JSON(t, &first)
	s.Do(t, "GET", "/streets/"+sid+"/skills?limit=2&cursor="+first.NextCursor, nil, bruno.Token).Expect(t, http.StatusOK).JSON(t, &second)
	if got := append(first.lines(), second.lines()...); !slices.Equal(got, want) || first.NextCursor == "" || second.NextCursor != "" {
		t.Fatalf("two pages %q then %q", first.lines(), second.lines())
	}
	s.Do(t, "GET", "/streets/"+sid+"/skills?limit=0", nil, bruno.Token).ExpectError(t, http.StatusUnprocessableEntity, "validation_failed")
	s.Do(t, "GET", "/streets/"+sid+"/skills?cursor=forged", nil, bruno.Token).ExpectError(t, http.StatusBadRequest, "bad_cursor")
	s.Do(t, "GET", "/streets/"+other+"/skills?cursor="+first.NextCursor, nil, dario.Token).ExpectError(t, http.StatusBadRequest, "bad_cursor")
	s.Do(t, "GET", "/streets/"+sid+"/skills", nil, dario.Token).ExpectError(t, http.StatusNotFound, "street_not_found")

	// Consent withdrawn: gone from the profile and the directory at once.
	s.Do(t, "PATCH", "/me", map[string]any{"share_skills": false}, carla.Token).Expect(t, http.StatusOK)
	page = skillsPage{}
	s.Do(t, "GET", "/streets/"+sid+"/skills", nil, bruno.Token).Expect(t, http.StatusOK).JSON(t, &page)
	if got := page.lines(); !slices.Equal(got, []string{"Giardinaggio: Anna Rossi", "ripetizioni di latino: Anna Rossi"}) {
		t.Fatalf("after Carla withdrew: %q", got)
	}

	// A deleted account's profile is gone with it.
	s.Do(t, "DELETE", "/me", map[string]string{"password": anna.Password}, anna.Token).Expect(t, http.StatusNoContent)
	s.Do(t, "GET", profile, nil, bruno.Token).ExpectError(t, http.StatusNotFound, "member_not_found")
	page = skillsPage{}
	s.Do(t, "GET", "/streets/"+sid+"/skills", nil, bruno.Token).Expect(t, http.StatusOK).JSON(t, &page)
	if len(page.Items) != 0 {
		t.Fatalf("after Anna left: %q", page.lines())
	}
}
