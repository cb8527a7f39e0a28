package labels_test

import (
	"encoding/json"
	"io/fs"
	"slices"
	"testing"

	"civico/internal/labels"
	"civico/internal/posts"
	"civico/pwa"
)

// Pushes, mails and the sheet on the door say what the app says: every
// label equals the PWA's, in each language, and every category and kind of
// posts has one.
func TestLabelsAreThePWAs(t *testing.T) {
	for _, locale := range labels.Locales() {
		t.Run(locale, func(t *testing.T) {
			raw, err := fs.ReadFile(pwa.FS(), "i18n/"+locale+".json")
			if err != nil {
				t.Fatal(err)
			}
			var app map[string]string
			if err := json.Unmarshal(raw, &app); err != nil {
				t.Fatal(err)
			}
			set := labels.Of(locale)
			for _, c := range posts.Categories {
				if _, ok := set.Category(c); !ok {
					t.Errorf("no label for category %s", c)
				}
			}
			for _, k := range []string{posts.KindRequest, posts.KindOffer} {
				if set.Kind(k) == k {
					t.Errorf("no label for kind %s", k)
				}
			}
			keys := set.Keys()
			names := make([]string, 0, len(keys))
			for k := range keys {
				names = append(names, k)
			}
			slices.Sort(names)
			for _, k := range names {
				if app[k] == "" || keys[k] != app[k] {
					t.Errorf("%s: server %q, pwa %q", k, keys[k], app[k])
				}
			}
		})
	}
}

func TestOfFallsBackToItalian(t *testing.T) {
	cases := []struct{ lang, want string }{
		{"en", "Small repairs"}, {"en-GB", "Small repairs"}, {" EN_us", "Small repairs"},
		{"it", "Piccole riparazioni"}, {"fr", "Piccole riparazioni"}, {"", "Piccole riparazioni"},
	}
	for _, c := range cases {
		if got := labels.Of(c.lang).CategoryOr("repairs"); got != c.want {
			t.Errorf("Of(%q) repairs = %q, want %q", c.lang, got, c.want)
		}
	}
	if got := labels.Of("it").CategoryOr("no_such"); got != "Altro" {
		t.Errorf("unknown category = %q, want Altro", got)
	}
}
