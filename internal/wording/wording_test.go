package wording_test

import (
	"testing"

	"civico/internal/wording"
)

func TestProblem(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"plain", "Via del Pratello", ""},
		{"empty is the caller's business", "", ""},
		{"accents", "Niccolò Aè", ""},
		{"punctuation only", "?!", ""},
		{"one emoji", "🚲", ""},
		{"lines and tabs of a body", "Ciao,\n\tservono 2 sedie.\r\nGrazie", ""},
		{"emoji joined into one", "Anna 👩‍💻", ""},
		{"emoji with skin tone joined", "👩🏽‍💻", ""},
		{"emoji with variation selector joined", "❤️‍🔥 🏳️‍🌈", ""},
		{"right-to-left override", "\u202Enimda", wording.Invisible},
		{"zero-width space", "User\u200B A1", wording.Invisible},
		{"only zero-width spaces", "\u200B\u200B", wording.Invisible},
		{"zero-width non-joiner", "Us\u200Cer", wording.Invisible},
		{"zero-width joiner between letters", "Us\u200Der", wording.Invisible},
		{"joiner after an emoji before a letter", "🚲\u200Da", wording.Invisible},
		{"joiner after the last emoji", "🚲\u200D", wording.Invisible},
		{"joiner before the first emoji", "\u200D🚲", wording.Invisible},
		{"left-to-right mark", "Anna\u200E", wording.Invisible},
		{"right-to-left mark", "\u200FAnna", wording.Invisible},
		{"bidi embedding", "\u202AAnna\u202C", wording.Invisible},
		{"bidi isolate", "Via \u2067gnitset\u2069", wording.Invisible},
		{"word joiner", "An\u2060na", wording.Invisible},
		{"invisible times", "A\u2062B", wording.Invisible},
		{"byte order mark", "\uFEFFAnna", wording.Invisible},
		{"soft hyphen", "An\u00ADna", wording.Invisible},
		{"arabic letter mark", "Anna\u061C", wording.Invisible},
		{"mongolian vowel separator", "Anna\u180E", wording.Invisible},
		{"tag character", "Anna\U000E0041", wording.Invisible},
		{"hangul filler", "User\u3164A1", wording.Invisible},
		{"halfwidth hangul filler", "\uFFA0", wording.Invisible},
		{"NUL", "Anna\x00", wording.Invisible},
		{"escape", "\x1b[31mAnna", wording.Invisible},
		{"delete", "Anna\x7f", wording.Invisible},
		{"C1 control", "Anna\u0085x", wording.Invisible},
		{"not UTF-8", "Anna\xff", wording.Invalid},
		{"only combining marks", "\u0301\u0308", wording.NothingVisible},
		{"only braille blanks", "\u2800\u2800", wording.NothingVisible},
		{"only spaces and line breaks", " \n ", wording.NothingVisible},
		{"only private use", "\uE000", wording.NothingVisible},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := wording.Problem(c.in); got != c.want {
				t.Fatalf("Problem(%+q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestLineAndText(t *testing.T) {
	cases := []struct {
		name, in, line, text string
	}{
		{"decomposed accent is composed", "Zoe\u0301", "Zoé", "Zoé"},
		{"spaces around go", "  Anna  ", "Anna", "Anna"},
		{"inner runs of white space fold in a line", "Anna \u00A0 Maria\u3000Rossi", "Anna Maria Rossi", "Anna \u00A0 Maria\u3000Rossi"},
		{"line breaks fold in a line, stay in a text", "Prima\r\n\tseconda\n", "Prima seconda", "Prima\r\n\tseconda"},
		{"compatibility forms stay", "ﬁ ①", "ﬁ ①", "ﬁ ①"},
		{"format characters are kept for Problem to refuse", "User\u200B A1", "User\u200B A1", "User\u200B A1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := wording.Line(c.in); got != c.line {
				t.Errorf("Line(%+q) = %+q, want %+q", c.in, got, c.line)
			}
			if got := wording.Text(c.in); got != c.text {
				t.Errorf("Text(%+q) = %+q, want %+q", c.in, got, c.text)
			}
		})
	}
}
