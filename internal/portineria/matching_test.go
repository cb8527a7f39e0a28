package portineria_test

import (
	"slices"
	"testing"

	"civico/internal/portineria"
)

// Skills split into whole words in search form, whatever the script and
// accents.
func TestWordsFoldAccentsAndSplitAtNonLetters(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"Riparazioni Biciclette", []string{"riparazioni", "biciclette"}},
		{"small_repairs", []string{"small", "repairs"}},
		{"Pet-sitting, cani e gatti", []string{"pet", "sitting", "cani", "e", "gatti"}},
		{"Caffè più Università", []string{"caffe", "piu", "universita"}},
		{"ÉLECTRICITÉ Straße", []string{"electricite", "strasse"}},
		{"Noël Ñandú  Łódź", []string{"noel", "nandu", "łodz"}},
		{"Русский язык", []string{"русскии", "язык"}},
		{"  ", nil},
	}
	for _, c := range cases {
		if got := portineria.Words(c.in); !slices.Equal(got, c.want) {
			t.Errorf("Words(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// A keyword finds a whole word, never a piece of another word; a stem
// ("ripar*") finds the words it begins. These false positives matched when
// skills were searched by substring.
func TestSkillKeywordsMatchWholeWordsOnly(t *testing.T) {
	dog := []string{"dog", "cane", "cani", "pet", "petsit*", "animal*"}
	repairs := []string{"ripar*", "bike", "fix", "idraul*", "repair*"}
	cases := []struct {
		skill string
		keys  []string
		want  bool
	}{
		{"Porto a spasso il cane", dog, true},
		{"CANI", dog, true},
		{"pet-sitting", dog, true},
		{"Petsitter", dog, true},
		{"animali domestici", dog, true},
		{"Cucina americane", dog, false},           // "cane" inside "americane"
		{"Scanner e stampanti", dog, false},        // "cane"/"cani" inside "scanner"
		{"Competenze digitali", dog, false},        // "pet" inside "competenze"
		{"Dogana e pratiche doganali", dog, false}, // "dog" inside "dogana"
		{"Riparazioni", repairs, true},
		{"Ripàro bici", repairs, true},
		{"Idraulica", repairs, true},
		{"small_repairs", repairs, true},
		{"Motorbike", repairs, false}, // "bike" inside "motorbike"
		{"Prefixes", repairs, false},  // "fix" inside "prefixes"
		{"Caffè", repairs, false},
		{"Cane", []string{"", "*", "due parole"}, false}, // keys that are not one word match nothing
	}
	for _, c := range cases {
		if got := portineria.WordsMatch(portineria.Words(c.skill), c.keys); got != c.want {
			t.Errorf("%q against %v: %v, want %v", c.skill, c.keys, got, c.want)
		}
	}
}

// MatchSkills applies the rule to a roster: the dog walker is found for
// "dog_walking", the member who cooks American food and the one fixing
// scanners are not; accents in skills and keywords fold.
func TestMatchSkillsFindsWholeWordsInTheRoster(t *testing.T) {
	e := setup(t)
	coord := e.user(t, "Clara Neri")
	a := e.association(t, coord, 500)
	walker := e.member(t, coord, a.ID, "Mario Rossi", "Porto a spasso i cani")
	e.member(t, coord, a.ID, "Lucia Bianchi", "Cucina americane")
	e.member(t, coord, a.ID, "Paolo Verdi", "Scanner e stampanti")
	sarta := e.member(t, coord, a.ID, "Anna Sarti", "Sartoria, piccole riparazioni")
	got, err := e.svc.MatchSkills(ctx, a.ID, map[string][]string{
		"dog_walking": {"dog", "cane", "cani", "pet"},
		"repairs":     {"ripar*", "sartòria"},
		"gardening":   {"orto", "giardin*"},
	}, false, 5)
	if err != nil {
		t.Fatal(err)
	}
	names := func(need string) []string {
		var out []string
		for _, m := range got[need] {
			out = append(out, m.FullName)
		}
		return out
	}
	if n := names("dog_walking"); !slices.Equal(n, []string{walker.FullName}) {
		t.Errorf("dog walking: %v, want only %s", n, walker.FullName)
	}
	if n := names("repairs"); !slices.Equal(n, []string{sarta.FullName}) {
		t.Errorf("repairs: %v, want only %s", n, sarta.FullName)
	}
	if n := names("gardening"); len(n) != 0 {
		t.Errorf("gardening: %v, want nobody", n)
	}
}
