package paper_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"civico/internal/paper"
	"civico/internal/posts"
)

// The sheet on the door says what the app says: every category and kind
// label the sheets print equals the PWA's, in each language, and every
// category of posts has one.
func TestLabelsAreThePWAs(t *testing.T) {
	for _, locale := range paper.Locales() {
		t.Run(locale, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("..", "..", "pwa", "i18n", locale+".json"))
			if err != nil {
				t.Fatal(err)
			}
			var pwa map[string]string
			if err := json.Unmarshal(raw, &pwa); err != nil {
				t.Fatal(err)
			}
			labels := paper.Labels(locale)
			for _, c := range posts.Categories {
				if _, ok := labels["category."+c]; !ok {
					t.Errorf("no label for category %s", c)
				}
			}
			keys := make([]string, 0, len(labels))
			for k := range labels {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				if pwa[k] == "" || labels[k] != pwa[k] {
					t.Errorf("%s: paper %q, pwa %q", k, labels[k], pwa[k])
				}
			}
		})
	}
}
