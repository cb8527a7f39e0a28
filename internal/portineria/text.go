package portineria

import (
	"encoding/base64"
	"net/mail"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"civico/internal/fault"
	"civico/internal/wording"
)

// folds maps the accented letters of Italian (and neighbours) to plain ones,
// so "nicolo" finds "Nicolò" and "cucito" matches "Cucito".
var folds = strings.NewReplacer(
	"à", "a", "á", "a", "â", "a", "ä", "a", "ã", "a", "å", "a",
	"è", "e", "é", "e", "ê", "e", "ë", "e",
	"ì", "i", "í", "i", "î", "i", "ï", "i",
	"ò", "o", "ó", "o", "ô", "o", "ö", "o", "õ", "o",
	"ù", "u", "ú", "u", "û", "u", "ü", "u",
	"ç", "c", "ñ", "n", "ß", "ss", "’", "'",
)

// fold is the search form of s: lower case, no accents, single spaces.
func fold(s string) string {
	return folds.Replace(strings.Join(strings.Fields(strings.ToLower(s)), " "))
}

// clean trims s and collapses inner runs of white space.
func clean(s string) string { return strings.Join(strings.Fields(s), " ") }

// checkText validates a trimmed single-line text field.
func checkText(f fault.Fields, field, v string, required bool, max int) {
	switch {
	case v == "" && required:
		f.Add(field, "required")
	case utf8.RuneCountInString(v) > max:
		f.Add(field, "too_long")
	case !utf8.ValidString(v) || strings.IndexFunc(v, unicode.IsControl) >= 0:
		f.Add(field, "invalid")
	}
}

// checkMultiline validates free text that may hold line breaks (notes).
func checkMultiline(f fault.Fields, field, v string, max int) {
	switch {
	case utf8.RuneCountInString(v) > max:
		f.Add(field, "too_long")
	case !utf8.ValidString(v) || strings.IndexFunc(v, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) >= 0:
		f.Add(field, "invalid")
	}
}

func checkPhone(f fault.Fields, field, v string) {
	if v == "" {
		return
	}
	if len(v) > MaxPhoneLen {
		f.Add(field, "too_long")
		return
	}
	digits := 0
	for _, r := range v {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case strings.ContainsRune(" +-()./", r):
		default:
			f.Add(field, "invalid")
			return
		}
	}
	if digits < 3 {
		f.Add(field, "invalid")
	}
}

func normalizeEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

func checkEmail(f fault.Fields, field, v string) {
	if v == "" {
		return
	}
	if len(v) > 254 {
		f.Add(field, "too_long")
		return
	}
	a, err := mail.ParseAddress(v)
	if err != nil || a.Address != v || !strings.Contains(v[strings.LastIndexByte(v, '@'):], ".") || wording.Problem(v) != "" {
		f.Add(field, "invalid")
	}
}

// normalizeSkills trims, de-duplicates (by search form) and validates skills.
func normalizeSkills(f fault.Fields, in []string) (skills, keys []string) {
	if len(in) > MaxSkills {
		f.Add("skills", "too_many")
		return nil, nil
	}
	seen := map[string]bool{}
	skills, keys = []string{}, []string{}
	for _, raw := range in {
		v := clean(raw)
		if v == "" {
			continue
		}
		sub := fault.Fields{}
		checkText(sub, "skills", v, true, MaxSkillLen)
		if len(sub) > 0 {
			f.Add("skills", sub["skills"])
			return nil, nil
		}
		k := fold(v)
		if seen[k] {
			continue
		}
		seen[k] = true
		skills = append(skills, v)
		keys = append(keys, k)
	}
	return skills, keys
}

// firstName is what residents may see of a member: the first word of the
// full name, nothing that identifies them further.
func firstName(full string) string {
	fs := strings.Fields(full)
	if len(fs) == 0 {
		return ""
	}
	return fs[0]
}

// shortName is how a post made for a member names them in a street: first
// name and the initial of the surname ("Maria R.").
func shortName(full string) string {
	fs := strings.Fields(full)
	switch len(fs) {
	case 0:
		return ""
	case 1:
		return fs[0]
	}
	r, _ := utf8.DecodeRuneInString(fs[len(fs)-1])
	return fs[0] + " " + string(unicode.ToUpper(r)) + "."
}

// Cursors are opaque to clients: base64 of a position the server chose.
func encodeCursor(pos string) string {
	if pos == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(pos))
}

func decodeCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	if len(c) > 200 {
		return "", ErrBadCursor
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", ErrBadCursor
	}
	return string(b), nil
}

func numberCursor(n int64) string { return encodeCursor("n" + strconv.FormatInt(n, 10)) }

func decodeNumberCursor(c string) (int64, error) {
	pos, err := decodeCursor(c)
	if err != nil || pos == "" {
		return 0, err
	}
	if pos[0] != 'n' {
		return 0, ErrBadCursor
	}
	n, err := strconv.ParseInt(pos[1:], 10, 64)
	if err != nil || n < 0 {
		return 0, ErrBadCursor
	}
	return n, nil
}

func clampLimit(n int) int {
	if n <= 0 {
		return 50
	}
	return min(n, 100)
}

// SuggestedSkills are the skills offered as choices; the PWA translates
// these keys, and anything else a member offers is kept as typed.
var SuggestedSkills = []string{
	"tailoring", "carpentry", "small_repairs", "electrical", "plumbing", "bike_repair", "gardening",
	"cooking", "baking", "knitting", "ironing", "video", "photography", "computer_help", "smartphone_help",
	"paperwork", "languages", "translation", "tutoring", "music", "company", "errands", "dog_walking",
}
