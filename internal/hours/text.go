package hours

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"civico/internal/fault"
	"civico/internal/wording"
)

// The one-line text form is the CSV column volunteers read and type:
//
//	mon 09:00-12:30,15:00-18:00; tue 09:00-12:30; 2026-12-25 closed "Natale"; 2026-12-24 09:00-12:00
//
// String writes it in one canonical way. Parse reads that back exactly and
// also what people type in a spreadsheet: day ranges and lists ("lun-ven",
// "sat,sun", ranges that wrap "fri-mon"), English or Italian day names,
// short or whole, any case ("Lunedì"), "closed" or "chiuso", times as
// 9:00, 9.00 or 9, intervals separated by "," "/" or "e", a colon after
// the days, entries separated by ";" or line breaks, spaces anywhere
// between words.

// String is the one-line text form, for CSV and print:
// "mon 09:00-12:30,15:00-18:00; tue 09:00-12:30; 2026-12-25 closed".
// Days without intervals are left out; an exception's note follows it in
// double quotes, a quote inside doubled.
func (w Week) String() string {
	var parts []string
	for i, ivs := range w.Days {
		if len(ivs) > 0 {
			parts = append(parts, Days[i]+" "+intervalsText(ivs))
		}
	}
	for _, e := range w.Exceptions {
		s := e.Date + " "
		if e.Closed {
			s += "closed"
		} else {
			s += intervalsText(e.Intervals)
		}
		if e.Note != "" {
			s += ` "` + strings.ReplaceAll(e.Note, `"`, `""`) + `"`
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

func intervalsText(ivs []Interval) string {
	s := make([]string, len(ivs))
	for i, iv := range ivs {
		s[i] = iv.Open + "-" + iv.Close
	}
	return strings.Join(s, ",")
}

// dayNames maps the names people write to a day index, Monday 0.
var dayNames = map[string]int{
	"mon": 0, "monday": 0, "lun": 0, "lunedì": 0, "lunedi": 0,
	"tue": 1, "tues": 1, "tuesday": 1, "mar": 1, "martedì": 1, "martedi": 1,
	"wed": 2, "wednesday": 2, "mer": 2, "mercoledì": 2, "mercoledi": 2,
	"thu": 3, "thur": 3, "thurs": 3, "thursday": 3, "gio": 3, "giovedì": 3, "giovedi": 3,
	"fri": 4, "friday": 4, "ven": 4, "venerdì": 4, "venerdi": 4,
	"sat": 5, "saturday": 5, "sab": 5, "sabato": 5,
	"sun": 6, "sunday": 6, "dom": 6, "domenica": 6,
}

var closedWords = map[string]bool{"closed": true, "chiuso": true, "chiusa": true}

// andWords separate intervals as a comma does: "9-12 e 15-18".
var andWords = map[string]bool{"e": true, "and": true}

type tokenKind int

const (
	tNum   tokenKind = iota // a run of digits
	tWord                   // a run of letters, lower-cased
	tPunct                  // one of - : . , /
	tSep                    // ; or a line break: the end of an entry
	tQuote                  // a double-quoted note, unescaped
)

type token struct {
	kind tokenKind
	text string
}

// lex cuts s into tokens, dropping white space (no-break spaces too, which
// spreadsheets insert).
func lex(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return nil, fmt.Errorf("not UTF-8 at byte %d", i)
		case r == ';' || r == '\n' || r == '\r':
			toks = append(toks, token{tSep, ";"})
		case unicode.IsSpace(r):
		case r == '-' || r == '–' || r == '—': // spreadsheets turn hyphens into dashes
			toks = append(toks, token{tPunct, "-"})
		case strings.ContainsRune(":.,/", r):
			toks = append(toks, token{tPunct, string(r)})
		case '0' <= r && r <= '9':
			j := i
			for j < len(s) && '0' <= s[j] && s[j] <= '9' {
				j++
			}
			toks = append(toks, token{tNum, s[i:j]})
			size = j - i
		case unicode.IsLetter(r):
			j := i
			for j < len(s) {
				r, n := utf8.DecodeRuneInString(s[j:])
				if !unicode.IsLetter(r) {
					break
				}
				j += n
			}
			toks = append(toks, token{tWord, strings.ToLower(s[i:j])})
			size = j - i
		case r == '"':
			var b strings.Builder
			j := i + 1
			for {
				k := strings.IndexByte(s[j:], '"')
				if k < 0 {
					return nil, fmt.Errorf("unterminated quote at byte %d", i)
				}
				b.WriteString(s[j : j+k])
				j += k + 1
				if j < len(s) && s[j] == '"' {
					b.WriteByte('"')
					j++
					continue
				}
				break
			}
			toks = append(toks, token{tQuote, b.String()})
			size = j - i
		default:
			return nil, fmt.Errorf("unexpected %q at byte %d", r, i)
		}
		i += size
	}
	return toks, nil
}

// parser reads the tokens of one text form.
type parser struct {
	toks []token
	pos  int
}

func (p *parser) peek() (token, bool) {
	if p.pos < len(p.toks) {
		return p.toks[p.pos], true
	}
	return token{}, false
}

// is tells whether the next token is of kind and, unless text is "", that text.
func (p *parser) is(kind tokenKind, text string) bool {
	t, ok := p.peek()
	return ok && t.kind == kind && (text == "" || t.text == text)
}

// accept consumes the next token when is would say so.
func (p *parser) accept(kind tokenKind, text string) bool {
	if p.is(kind, text) {
		p.pos++
		return true
	}
	return false
}

func (p *parser) next() (token, bool) {
	t, ok := p.peek()
	if ok {
		p.pos++
	}
	return t, ok
}

// Parse reads the text form (see String) into a week, and validates it:
// errors are *fault.Error, the field "hours" invalid or too_long for text
// that cannot be read, Validate's for a schedule that can.
func Parse(s string) (Week, error) {
	if len(s) > MaxText {
		return Week{}, fault.Validation("hours", "too_long")
	}
	w, err := parse(s)
	if err != nil {
		e, _ := fault.As(fault.Validation("hours", "invalid"))
		return Week{}, e.Wrap(err)
	}
	if err := w.Validate(); err != nil {
		return Week{}, err
	}
	return w, nil
}

func parse(s string) (Week, error) {
	toks, err := lex(s)
	if err != nil {
		return Week{}, err
	}
	p := &parser{toks: toks}
	var w Week
	var closed [7]bool // days written as closed, which must then have no hours
	for {
		for p.accept(tSep, "") {
		}
		t, ok := p.peek()
		if !ok {
			break
		}
		switch {
		case t.kind == tNum:
			e, err := p.exception()
			if err != nil {
				return Week{}, err
			}
			w.Exceptions = append(w.Exceptions, e)
		case t.kind == tWord:
			days, err := p.days()
			if err != nil {
				return Week{}, err
			}
			p.accept(tPunct, ":")
			var ivs []Interval
			if !p.closed() {
				if ivs, err = p.intervals(); err != nil {
					return Week{}, err
				}
			}
			for _, d := range days {
				if ivs == nil {
					closed[d] = true
				}
				w.Days[d] = append(w.Days[d], ivs...)
				if closed[d] && len(w.Days[d]) > 0 {
					return Week{}, fmt.Errorf("%s both closed and open", Days[d])
				}
			}
		default:
			return Week{}, fmt.Errorf("an entry starts with %q", t.text)
		}
		if t, ok := p.next(); ok && t.kind != tSep {
			return Week{}, fmt.Errorf("unexpected %q after an entry", t.text)
		}
	}
	return w, nil
}

// closed consumes "closed" (or "chiuso").
func (p *parser) closed() bool {
	if t, ok := p.peek(); ok && t.kind == tWord && closedWords[t.text] {
		p.pos++
		return true
	}
	return false
}

// day reads one day name.
func (p *parser) day() (int, error) {
	t, ok := p.next()
	if !ok || t.kind != tWord {
		return 0, fmt.Errorf("a day expected")
	}
	d, ok := dayNames[t.text]
	if !ok {
		return 0, fmt.Errorf("%q is not a day", t.text)
	}
	return d, nil
}

// days reads "mon", "mon-fri", "fri-mon" (wrapping round Sunday) and lists
// of them joined by commas, each day once.
func (p *parser) days() ([]int, error) {
	var out []int
	var seen [7]bool
	for {
		from, err := p.day()
		if err != nil {
			return nil, err
		}
		to := from
		if p.accept(tPunct, "-") {
			if to, err = p.day(); err != nil {
				return nil, err
			}
		}
		for d := from; ; d = (d + 1) % 7 {
			if seen[d] {
				return nil, fmt.Errorf("%s given twice", Days[d])
			}
			seen[d] = true
			out = append(out, d)
			if d == to {
				break
			}
		}
		if !p.accept(tPunct, ",") {
			return out, nil
		}
	}
}

// intervals reads one or more intervals joined by ",", "/", "e" or "and".
func (p *parser) intervals() ([]Interval, error) {
	var out []Interval
	for {
		open, err := p.time()
		if err != nil {
			return nil, err
		}
		if !p.accept(tPunct, "-") {
			return nil, fmt.Errorf("an interval needs a closing time")
		}
		close, err := p.time()
		if err != nil {
			return nil, err
		}
		out = append(out, Interval{open, close})
		t, ok := p.peek()
		if !ok || !(t.kind == tPunct && (t.text == "," || t.text == "/") || t.kind == tWord && andWords[t.text]) {
			return out, nil
		}
		p.pos++
	}
}

// time reads 9, 9:00, 09:00 or 9.00 as "09:00". Whether it is a time of
// day is Validate's business.
func (p *parser) time() (string, error) {
	h, ok := p.next()
	if !ok || h.kind != tNum || len(h.text) > 2 {
		return "", fmt.Errorf("a time expected")
	}
	m := "00"
	if p.accept(tPunct, ":") || p.accept(tPunct, ".") {
		t, ok := p.next()
		if !ok || t.kind != tNum || len(t.text) != 2 {
			return "", fmt.Errorf("minutes expected")
		}
		m = t.text
	}
	hh := h.text
	if len(hh) == 1 {
		hh = "0" + hh
	}
	return hh + ":" + m, nil
}

// exception reads "2026-12-25 closed", "2026-12-24 09:00-12:00", each
// with an optional quoted note; the date's month and day may have one
// digit.
func (p *parser) exception() (Exception, error) {
	var parts [3]int
	for i, width := range []int{4, 2, 2} {
		if i > 0 && !p.accept(tPunct, "-") {
			return Exception{}, fmt.Errorf("a date expected")
		}
		t, ok := p.next()
		if !ok || t.kind != tNum || len(t.text) > width || i == 0 && len(t.text) != 4 {
			return Exception{}, fmt.Errorf("a date expected")
		}
		parts[i], _ = strconv.Atoi(t.text)
	}
	e := Exception{Date: fmt.Sprintf("%04d-%02d-%02d", parts[0], parts[1], parts[2])}
	p.accept(tPunct, ":")
	if p.closed() {
		e.Closed = true
	} else {
		ivs, err := p.intervals()
		if err != nil {
			return Exception{}, err
		}
		e.Intervals = ivs
	}
	if t, ok := p.peek(); ok && t.kind == tQuote {
		p.pos++
		e.Note = wording.Line(t.text)
	}
	return e, nil
}
