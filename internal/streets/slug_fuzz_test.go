package streets_test

import (
	"testing"

	"civico/internal/streets"
)

// FuzzSlug: whatever a street is called, its slug is a valid one, and
// whatever a URL carries, ValidSlug only admits what has the slug's form
// (lower-case ASCII words joined by single dashes).
func FuzzSlug(f *testing.F) {
	for _, s := range []string{"Via Fondazza", "Piazza San Niccolò", "Улица", "--", "via-roma-2", "\xff\xfe", "Rue de l'Œuf"} {
		f.Add(s, "Bologna")
	}
	f.Fuzz(func(t *testing.T, name, city string) {
		s := streets.Slugify(name, city)
		if !streets.ValidSlug(s) {
			t.Fatalf("Slugify(%q, %q) = %q: not a valid slug", name, city, s)
		}
		if streets.ValidSlug(name) {
			for _, r := range name {
				if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
					t.Fatalf("ValidSlug(%q) admits %q", name, r)
				}
			}
			if streets.Slugify(name, "") != name {
				t.Fatalf("a valid slug %q is not its own slug: %q", name, streets.Slugify(name, ""))
			}
		}
	})
}
