package pwa_test

import (
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"

	"civico/internal/locator"
	"civico/pwa"
)

// TestLocatorListsTranslated: the kinds of place and the target users come
// from one list, the locator's. The services screen offers exactly those,
// in that order (its filters and the volunteers' form are built from
// places.js), and each has a name in Italian and in English.
func TestLocatorListsTranslated(t *testing.T) {
	tr := translations(t)
	src, err := fs.ReadFile(pwa.FS(), "js/places.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, prefix string
		want         []string
	}{
		{"kinds", "place.kind.", locator.Kinds},
		{"targets", "place.target.", locator.Targets},
	} {
		m := regexp.MustCompile(`(?s)export const ` + c.name + ` = \[(.*?)\];`).FindSubmatch(src)
		if m == nil {
			t.Errorf("places.js has no `export const %s = [...]`", c.name)
			continue
		}
		var got []string
		for _, q := range regexp.MustCompile(`'([a-z_]+)'`).FindAllSubmatch(m[1], -1) {
			got = append(got, string(q[1]))
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("places.js %s = %q, want locator's %q", c.name, got, c.want)
		}
		for _, k := range c.want {
			for _, lang := range []string{"it", "en"} {
				if strings.TrimSpace(tr[lang][c.prefix+k]) == "" {
					t.Errorf("%s.json has no %s%s", lang, c.prefix, k)
				}
			}
		}
	}
}
