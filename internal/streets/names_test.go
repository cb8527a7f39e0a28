package streets_test

import (
	"testing"

	"civico/internal/streets"
	"civico/internal/testutil"
)

// TestStreetTextShowsWhatItIs: a street name that hides characters could
// pass for another street in the directory.
func TestStreetTextShowsWhatItIs(t *testing.T) {
	e := newEnv(t)
	anna := e.User("Anna")
	cases := []struct {
		name          string
		in            streets.NewStreet
		field, reason string
	}{
		{"right-to-left override in the name", streets.NewStreet{Name: "Via \u202Egnitset", City: "Bologna"}, "name", "invisible_characters"},
		{"zero-width space in the name", streets.NewStreet{Name: "Via\u200B Zamboni", City: "Bologna"}, "name", "invisible_characters"},
		{"only zero-width spaces as name", streets.NewStreet{Name: "\u200B\u200B\u200B", City: "Bologna"}, "name", "invisible_characters"},
		{"word joiner in the city", streets.NewStreet{Name: "Via Zamboni", City: "Bo\u2060logna"}, "city", "invisible_characters"},
		{"NUL in the name", streets.NewStreet{Name: "Via\x00Zamboni", City: "Bologna"}, "name", "invisible_characters"},
		{"bidi isolate in the description", streets.NewStreet{Name: "Via Zamboni", City: "Bologna", Description: "Social \u2067street\u2069"}, "description", "invisible_characters"},
		{"only combining marks as name", streets.NewStreet{Name: "\u0301\u0301\u0301", City: "Bologna"}, "name", "nothing_visible"},
		{"only braille blanks as city", streets.NewStreet{Name: "Via Zamboni", City: "\u2800"}, "city", "nothing_visible"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.Streets.Create(e.Ctx, anna, c.in)
			testutil.WantField(t, err, c.field, c.reason)
		})
	}
	if dir, _, _ := e.Streets.Directory(e.Ctx, "", "", "", 10); len(dir) != 0 {
		t.Fatalf("refused input created %d streets", len(dir))
	}
}

// TestStreetTextIsNormalised: a name typed decomposed is found by a query
// typed composed, and a description keeps its lines.
func TestStreetTextIsNormalised(t *testing.T) {
	e := newEnv(t)
	anna := e.User("Anna")
	st, err := e.Streets.Create(e.Ctx, anna, streets.NewStreet{Name: "Via Nicolo\u0300  dell'Arca", City: "Bologna",
		Description: " Prima riga\n\tseconda 👩‍💻 "})
	if err != nil {
		t.Fatal(err)
	}
	if st.Name != "Via Nicolò dell'Arca" || st.Description != "Prima riga\n\tseconda 👩‍💻" {
		t.Fatalf("street = %+v", st)
	}
	dir, _, err := e.Streets.Directory(e.Ctx, "nicolò", "", "", 10)
	if err != nil || len(dir) != 1 || dir[0].ID != st.ID {
		t.Fatalf("directory = %+v, %v", dir, err)
	}
}
