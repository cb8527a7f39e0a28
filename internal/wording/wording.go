// Package wording is the rule for text that people read as someone's
// words: display names, street names, post titles and bodies. It puts text
// in one normal form and refuses characters that change how text reads
// without showing themselves, so that one name cannot pass for another
// ("User\u200B A1" for "User A1", "\u202Enimda" shown as "admin").
package wording

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// The codes Problem reports, one per reason. They are field codes of
// validation errors (fault.Fields), which the PWA translates as field.<code>.
const (
	// Invalid: the text is not UTF-8.
	Invalid = "invalid"
	// Invisible: the text has a character that shows nothing yet changes
	// how the rest reads: a control character other than tab and line
	// breaks (NUL, …); a format character (Unicode category Cf: bidi
	// embeddings, overrides and isolates U+202A–U+202E and U+2066–U+2069,
	// the marks U+200E–U+200F, zero-width space and non-joiner, the word
	// joiner and invisible operators U+2060–U+2064, the byte order mark,
	// the soft hyphen, tags, …); or another default-ignorable character,
	// such as the Hangul fillers, which are letters that look like a space.
	// The one exception is the zero-width joiner between two emoji, which
	// makes them one picture (👩‍💻) and cannot disguise a letter.
	Invisible = "invisible_characters"
	// NothingVisible: the text has no letter, digit, symbol or punctuation
	// mark, only combining marks, private-use or blank-looking characters,
	// so it would show as empty.
	NothingVisible = "nothing_visible"
)

const (
	zeroWidthJoiner = '\u200D'
	// brailleBlank is a symbol by category but prints as a space.
	brailleBlank = '\u2800'
)

// Line is the normal form of one-line text such as a name or a title: NFC,
// each run of white space (line breaks and tabs too) made one space, none
// at either end. The same name typed composed or decomposed, or with two
// spaces where a page shows one, is then one text.
func Line(s string) string { return strings.Join(strings.Fields(norm.NFC.String(s)), " ") }

// Text is the normal form of text of several lines, such as a body: NFC,
// without white space at either end; inner line breaks stay.
func Text(s string) string { return strings.TrimSpace(norm.NFC.String(s)) }

// Problem is the code of what makes s unfit to show, or "" when nothing
// does. Empty text is fine: whether a field is required is the caller's
// rule. Tab, line feed and carriage return pass, for text of several
// lines; in one-line text Line has already made them spaces.
func Problem(s string) string {
	if !utf8.ValidString(s) {
		return Invalid
	}
	visible := false
	afterEmoji := false // the last rune, variation selectors aside, was a symbol
	for i, r := range s {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
		case r == zeroWidthJoiner && afterEmoji && startsWithSymbol(s[i+utf8.RuneLen(r):]):
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r):
			return Invisible
		case r == brailleBlank:
		case unicode.In(r, unicode.L, unicode.N, unicode.S, unicode.P):
			visible = true
		}
		if !unicode.Is(unicode.Variation_Selector, r) {
			afterEmoji = unicode.In(r, unicode.So, unicode.Sk)
		}
	}
	if s != "" && !visible {
		return NothingVisible
	}
	return ""
}

func startsWithSymbol(s string) bool {
	r, size := utf8.DecodeRuneInString(s)
	return size > 0 && unicode.Is(unicode.So, r)
}
