package wording_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"civico/internal/wording"

	"golang.org/x/text/unicode/norm"
)

// Names, titles and bodies are outside data: callers store Line(s) or
// Text(s) and refuse it when Problem says so. Whatever the text, nothing
// panics and:
//   - Line and Text are idempotent and give NFC (for valid UTF-8); a line
//     has no white space but single inner spaces, a text none around it;
//   - Problem is "" for "", invalid for text that is not UTF-8, one of
//     invisible_characters and nothing_visible otherwise when it refuses;
//   - text Problem accepts holds no control character but tab and line
//     breaks, no format character but a zero-width joiner right after a
//     symbol (variation selectors aside) and right before an emoji, no
//     other default-ignorable character (Hangul fillers...), and at least
//     one letter, number, symbol or punctuation that is not a braille
//     blank; nothing_visible means it has none;
//   - what Problem accepts, Line and Text keep acceptable.
func FuzzWording(f *testing.F) {
	for _, s := range []string{
		"Via del Pratello", "  Anna \u00a0 Maria\u3000Rossi ", "Zoe\u0301", "Prima\r\n\tseconda\n", "🚲", "Anna 👩‍💻",
		"👩🏽‍💻", "❤️‍🔥 🏳️‍🌈", "\u202Enimda", "User\u200B A1", "Us\u200Der", "🚲\u200Da", "\u200D🚲", "🚲\u200D",
		"User\u3164A1", "\uFFA0", "Anna\x00", "\x1b[31mAnna", "Anna\u0085x", "Anna\xff", "\u0301\u0308",
		"\u2800\u2800", " \n ", "\uE000", "ﬁ ①", "\u2000\u2001x", "a\u034Fb", "\U000E0041", "", "\ufeff",
		"ᄀ\u1160", "\u115f", "한국어 이름", "Ω", "\u212b", "x\u0345\u0301", "a\u0308\u0323", "\u0f73", "\u2028",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		line, text := wording.Line(s), wording.Text(s)
		if again := wording.Line(line); again != line {
			t.Fatalf("Line(%+q) = %+q, then %+q", s, line, again)
		}
		if again := wording.Text(text); again != text {
			t.Fatalf("Text(%+q) = %+q, then %+q", s, text, again)
		}
		if strings.TrimSpace(text) != text {
			t.Fatalf("Text(%+q) = %+q: white space around it", s, text)
		}
		if strings.Contains(line, "  ") || strings.TrimSpace(line) != line ||
			strings.ContainsFunc(line, func(r rune) bool { return unicode.IsSpace(r) && r != ' ' }) {
			t.Fatalf("Line(%+q) = %+q: white space besides single spaces", s, line)
		}
		if utf8.ValidString(s) && (!norm.NFC.IsNormalString(line) || !norm.NFC.IsNormalString(text)) {
			t.Fatalf("Line(%+q) = %+q, Text = %+q: not NFC", s, line, text)
		}

		p := wording.Problem(s)
		switch {
		case s == "" && p != "":
			t.Fatalf("Problem(\"\") = %q", p)
		case !utf8.ValidString(s) && p != wording.Invalid:
			t.Fatalf("Problem(%+q) = %q, want %q", s, p, wording.Invalid)
		case p != "" && p != wording.Invalid && p != wording.Invisible && p != wording.NothingVisible:
			t.Fatalf("Problem(%+q) = %q", s, p)
		case p == wording.NothingVisible && visible(s):
			t.Fatalf("Problem(%+q) = %q, but it shows something", s, p)
		}
		if p != "" || s == "" {
			return
		}
		if !visible(s) {
			t.Fatalf("Problem accepts %+q, which shows nothing", s)
		}
		runes := []rune(s)
		for i, r := range runes {
			switch {
			case r == '\t' || r == '\n' || r == '\r':
			case r == '\u200D':
				if !afterSymbol(runes[:i]) || i+1 == len(runes) || !unicode.Is(unicode.So, runes[i+1]) {
					t.Fatalf("Problem accepts %+q, with a joiner at %d not between emoji", s, i)
				}
			case unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r):
				t.Fatalf("Problem accepts %+q, which holds %U", s, r)
			}
		}
		if line != "" && wording.Problem(line) != "" {
			t.Fatalf("Problem accepts %+q, but not its Line %+q: %s", s, line, wording.Problem(line))
		}
		if text != "" && wording.Problem(text) != "" {
			t.Fatalf("Problem accepts %+q, but not its Text %+q: %s", s, text, wording.Problem(text))
		}
	})
}

// visible reports whether s has a letter, number, symbol or punctuation
// other than a braille blank.
func visible(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return r != '\u2800' && unicode.In(r, unicode.L, unicode.N, unicode.S, unicode.P)
	})
}

// afterSymbol reports whether the last rune of before, variation
// selectors aside, is a symbol (an emoji, or a skin tone modifier).
func afterSymbol(before []rune) bool {
	for i := len(before) - 1; i >= 0; i-- {
		if !unicode.Is(unicode.Variation_Selector, before[i]) {
			return unicode.In(before[i], unicode.So, unicode.Sk)
		}
	}
	return false
}
