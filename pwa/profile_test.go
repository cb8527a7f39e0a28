package pwa_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestProfileSkillsDirectory: Anna writes her profile on the account
// screen (a presentation, skills added as chips, one removed again) and
// saves it without ticking the consent: her skills stay hers, the street's
// "who can do what" does not list them (nor Bruno's, who never consented).
// Once she consents, Carla finds Anna's skill in the street's directory,
// opens Anna's profile from her name there and from Anna's post, and sees
// her initials, presentation and skills, never her email.
func TestProfileSkillsDirectory(t *testing.T) {
	srv := start(t)
	annaU, brunoU, carlaU := srv.Register(t, "Anna Rossi"), srv.Register(t, "Bruno"), srv.Register(t, "Carla")
	sid := street(t, srv, annaU, "Via Fondazza", brunoU, carlaU)
	pid := post(t, srv, annaU, sid, "offer", "Offro aiuto con l'orto")
	srv.Do(t, "PATCH", "/me", map[string]any{"skills": []string{"Idraulica"}, "bio": "Idraulico in pensione."}, brunoU.Token).
		Expect(t, http.StatusOK)

	anna := newTab(t, srv, "anna")
	anna.signIn(annaU)
	anna.open("/account")
	anna.waitJS("profile form", `document.querySelector('#profile-form [name=skills]')`)
	var consent bool
	anna.eval(`document.querySelector('#profile-form [name=share_skills]').checked`, &consent)
	if consent {
		t.Fatal("the consent to show my skills is ticked before I chose it")
	}
	anna.fill(`#profile-form [name=bio]`, "Maestra in pensione, ho un orto in via Fondazza.")
	anna.fill(`#profile-form [name=skills]`, "Giardinaggio")
	anna.click(`#skill-add`)
	anna.waitJS("first chip", `document.querySelector('#skill-chips .chip[data-skill="Giardinaggio"]')`)
	anna.fill(`#profile-form [name=skills]`, "Cucito")
	anna.do("enter adds the skill", chromedp.KeyEvent(kb.Enter))
	anna.waitJS("second chip", `document.querySelector('#skill-chips .chip[data-skill="Cucito"]')`)
	// The same skill again, case aside, is refused next to the field.
	anna.fill(`#profile-form [name=skills]`, "giardinaggio")
	anna.click(`#skill-add`)
	anna.waitJS("duplicate refused", `document.querySelector('#profile-form [name=skills]').getAttribute('aria-invalid') === 'true'`)
	anna.fill(`#profile-form [name=skills]`, "Ripetizioni di latino")
	anna.click(`#skill-add`)
	anna.waitJS("third chip", `document.querySelector('#skill-chips .chip[data-skill="Ripetizioni di latino"]')`)
	anna.click(`#skill-chips .chip[data-skill="Cucito"] .chip-remove`)
	anna.waitJS("chip removed, focus kept", `!document.querySelector('#skill-chips .chip[data-skill="Cucito"]') &&
	  document.activeElement && document.activeElement.classList.contains('chip-remove')`)
	anna.screen("account-profile")
	var me struct {
		Bio         string   `json:"bio"`
		Skills      []string `json:"skills"`
		ShareSkills bool     `json:"share_skills"`
	}
	// Enter in the skill's field added a chip and saved nothing.
	srv.Do(t, "GET", "/me", nil, annaU.Token).Expect(t, http.StatusOK).JSON(t, &me)
	if me.Bio != "" || len(me.Skills) != 0 {
		t.Fatalf("the profile was saved before Save was pressed: %+v", me)
	}
	save := func() {
		t.Helper()
		anna.eval(`document.getElementById('profile-said').textContent = ''`, nil)
		anna.click(`#profile-form button[type=submit]`)
		anna.waitJS("profile saved", `document.getElementById('profile-said').textContent !== ''`)
	}
	save()
	srv.Do(t, "GET", "/me", nil, annaU.Token).Expect(t, http.StatusOK).JSON(t, &me)
	if me.Bio != "Maestra in pensione, ho un orto in via Fondazza." || !slices.Equal(me.Skills, []string{"Giardinaggio", "Ripetizioni di latino"}) || me.ShareSkills {
		t.Fatalf("saved profile %+v", me)
	}

	// Without consent, nobody's skills are listed.
	carla := newTab(t, srv, "carla")
	carla.signIn(carlaU)
	carla.open("/streets/" + sid)
	carla.click(`#neighbours-link`)
	carla.waitPath("/streets/" + sid + "/neighbours")
	carla.waitJS("directory drawn", `document.getElementById('skills-directory').getAttribute('aria-busy') === 'false'`)
	if n := carla.count(`#skills-directory .skill-line`); n != 0 {
		t.Fatalf("without consent the directory lists %d skills", n)
	}
	carla.waitJS("empty directory", `document.querySelector('main .state.empty')`)

	// With it, Anna's skills are there, next to her name.
	anna.click(`#profile-form [name=share_skills]`)
	save()
	carla.open("/streets/" + sid + "/neighbours")
	line := `#skills-directory .skill-line[data-skill="Giardinaggio"]`
	carla.waitJS("Anna's skill listed", `document.querySelector('`+line+` a.member-name[data-user-id="`+annaU.ID+`"]')`)
	var skills []string
	carla.eval(`[...document.querySelectorAll('#skills-directory .skill-line')].map((e) => e.dataset.skill)`, &skills)
	if !slices.Equal(skills, []string{"Giardinaggio", "Ripetizioni di latino"}) {
		t.Errorf("the directory lists %q", skills)
	}
	carla.screen("skills-directory")

	carla.click(line + ` a.member-name`)
	carla.waitPath("/streets/" + sid + "/members/" + annaU.ID)
	checkProfile := func() {
		t.Helper()
		carla.waitText("main h1", "Anna Rossi")
		carla.waitText("#member-bio", "Maestra in pensione")
		var shown struct {
			Initials string   `json:"initials"`
			Skills   []string `json:"skills"`
			Text     string   `json:"text"`
		}
		carla.eval(`({ initials: document.querySelector('#member-profile .avatar').textContent,
		  skills: [...document.querySelectorAll('#member-skills .chip')].map((e) => e.textContent),
		  text: document.querySelector('main').innerText })`, &shown)
		if shown.Initials != "AR" || !slices.Equal(shown.Skills, []string{"Giardinaggio", "Ripetizioni di latino"}) {
			t.Errorf("Anna's profile shows %q and %q", shown.Initials, shown.Skills)
		}
		if strings.Contains(shown.Text, "@") || strings.Contains(shown.Text, annaU.Email) {
			t.Errorf("Anna's profile shows her email: %s", shown.Text)
		}
	}
	checkProfile()
	carla.screen("member-profile")

	// Her name on her post opens the same profile, with her avatar.
	carla.open("/posts/" + pid)
	author := fmt.Sprintf(`main .meta a.member-name[data-user-id=%q]`, annaU.ID)
	carla.waitJS("author's name", `document.querySelector('`+author+` .avatar')`)
	carla.click(author)
	carla.waitPath("/streets/" + sid + "/members/" + annaU.ID)
	checkProfile()

	// Bruno's profile: his presentation, and no skills without his consent.
	carla.open("/streets/" + sid + "/members/" + brunoU.ID)
	carla.waitText("#member-bio", "Idraulico in pensione.")
	if n := carla.count(`#member-skills`); n != 0 {
		t.Errorf("Bruno never consented, yet his profile lists skills")
	}
}
