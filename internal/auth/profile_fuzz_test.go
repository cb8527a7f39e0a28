package auth

import (
	"strings"
	"testing"
	"unicode/utf8"

	"civico/internal/wording"
)

// A list of skills is outside data (PATCH /me): the fuzzer's text is split
// on "|" into the list. Whatever it holds, cleanSkills either refuses it
// with one of its codes, or gives at most MaxSkills skills, each one line
// of 1 to MaxSkillLen characters in normal form, that shows what it says,
// none twice (case aside) and none carrying the cursor's separator (the
// skills directory's cursor signs a skill); cleaning its output again
// changes nothing.
func FuzzSkills(f *testing.F) {
	for _, s := range []string{
		"", "giardinaggio", "Giardinaggio|giardinaggio", "piccole riparazioni|  ripetizioni   di latino ",
		"a|b|c|d|e|f|g|h|i|j", "a|b|c|d|e|f|g|h|i|j|k", "|", "cucito||orto", strings.Repeat("x", 40), strings.Repeat("x", 41),
		strings.Repeat("è", 40), "e\u0301", "\u200bcucito", "cu\u202ecito", "\x1f", "cucito\x00", "\xff", "👩\u200d💻", "\u3164",
		"line\nbreak", "ẞ|ß", "İstanbul|i̇stanbul",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		in := strings.Split(raw, "|")
		out, problem := cleanSkills(in)
		if problem != "" {
			switch problem {
			case "too_many", "too_long", "required", "duplicate", wording.Invalid, wording.Invisible, wording.NothingVisible:
			default:
				t.Fatalf("cleanSkills(%q): problem %q", in, problem)
			}
			if out != nil {
				t.Fatalf("cleanSkills(%q) refused with %q but gave %q", in, problem, out)
			}
			return
		}
		if len(out) != len(in) || len(out) > MaxSkills {
			t.Fatalf("cleanSkills(%q) = %q", in, out)
		}
		keys := map[string]bool{}
		for _, s := range out {
			if n := utf8.RuneCountInString(s); n < 1 || n > MaxSkillLen || wording.Line(s) != s || wording.Problem(s) != "" ||
				strings.Contains(s, "\x1f") {
				t.Fatalf("cleanSkills(%q) gave %q", in, s)
			}
			keys[SkillKey(s)] = true
		}
		if len(keys) != len(out) {
			t.Fatalf("cleanSkills(%q) = %q: a skill twice", in, out)
		}
		again, problem := cleanSkills(out)
		if problem != "" || strings.Join(again, "|") != strings.Join(out, "|") {
			t.Fatalf("cleanSkills(%q) = %q, then %q %q", in, out, again, problem)
		}
	})
}

// A presentation is outside data too: cleanBio refuses it with one code,
// or gives text in normal form (wording.Text) of at most MaxBio
// characters that shows what it says; cleaning it again changes nothing.
func FuzzBio(f *testing.F) {
	for _, s := range []string{"", "Pensionata, ex maestra.\nAmo l'orto.", strings.Repeat("a", 280), strings.Repeat("a", 281),
		strings.Repeat("é", 280), strings.Repeat("e\u0301", 280), "  \n ", "\u202e", "\xff", "\u0301"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, problem := cleanBio(in)
		if problem != "" {
			switch problem {
			case "too_long", wording.Invalid, wording.Invisible, wording.NothingVisible:
			default:
				t.Fatalf("cleanBio(%q): problem %q", in, problem)
			}
			return
		}
		if utf8.RuneCountInString(out) > MaxBio || wording.Text(out) != out || wording.Problem(out) != "" {
			t.Fatalf("cleanBio(%q) = %q", in, out)
		}
		if again, p := cleanBio(out); again != out || p != "" {
			t.Fatalf("cleanBio(%q) = %q, then %q %q", in, out, again, p)
		}
	})
}
