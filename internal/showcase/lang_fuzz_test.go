package showcase_test

import (
	"slices"
	"testing"

	"civico/internal/showcase"
)

// FuzzLang: whatever Accept-Language a client sends, the page is in a
// language it speaks.
func FuzzLang(f *testing.F) {
	for _, s := range []string{"", "en-GB,en;q=0.9", "it;q=0.1, en;q=nan", "*;q=1", ";;,,=", "en;q=1e400"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		if l := showcase.Lang(header); !slices.Contains(showcase.Languages, l) {
			t.Fatalf("Lang(%q) = %q", header, l)
		}
	})
}
