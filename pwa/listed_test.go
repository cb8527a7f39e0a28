package pwa_test

import (
	"net/http"
	"testing"
)

// TestStreetUnlisted: Ada, admin of Via Fondazza, finds the "listed in the
// directory" switch in the street's settings and turns it off: the street
// leaves the public directory, and the switch stays off when she comes
// back. Turned on again, the street is listed again.
func TestStreetUnlisted(t *testing.T) {
	t.Parallel()
	srv := start(t)
	adaU := srv.Register(t, "Ada")
	sid := street(t, srv, adaU, "Via Fondazza")
	listed := func() (bool, bool) {
		var st struct {
			Listed bool `json:"listed"`
		}
		srv.Do(t, "GET", "/streets/"+sid, nil, adaU.Token).Expect(t, http.StatusOK).JSON(t, &st)
		var dir struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
		}
		srv.Do(t, "GET", "/streets?q=Fondazza", nil, "").Expect(t, http.StatusOK).JSON(t, &dir)
		found := false
		for _, s := range dir.Items {
			found = found || s.ID == sid
		}
		return st.Listed, found
	}
	if on, inDir := listed(); !on || !inDir {
		t.Fatalf("a new street: listed %v, in the directory %v; want both", on, inDir)
	}
	ada := newTab(t, srv, "ada")
	ada.signIn(adaU)
	ada.open("/streets/" + sid + "/admin/settings")
	ada.waitJS("switch on", `document.querySelector('#listed-section input[role=switch]:checked')`)
	ada.screen("admin-settings")
	ada.click(`#listed-section input[role=switch]`)
	ada.waitJS("saved off", `!document.querySelector('#listed-section input[role=switch]').checked && !document.querySelector('#listed-section input[role=switch]').disabled`)
	ada.waitText("#listed-state", "link")
	if on, inDir := listed(); on || inDir {
		t.Errorf("after the switch: listed %v, in the directory %v; want neither", on, inDir)
	}
	ada.open("/streets/" + sid + "/admin/settings")
	ada.waitJS("switch stays off", `document.querySelector('#listed-section input[role=switch]') && !document.querySelector('#listed-section input[role=switch]').checked`)
	ada.click(`#listed-section input[role=switch]`)
	ada.waitJS("saved on", `document.querySelector('#listed-section input[role=switch]').checked && !document.querySelector('#listed-section input[role=switch]').disabled`)
	if on, inDir := listed(); !on || !inDir {
		t.Errorf("switched back on: listed %v, in the directory %v; want both", on, inDir)
	}
}
