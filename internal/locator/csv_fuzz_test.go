package locator

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"unicode/utf8"

	"civico/internal/cursor"
)

// FuzzParseCSV: whatever the file, parseCSV does not panic, answers within
// its bounds, and every row it returns has a row number past the header.
// Any text put through quoteCell reads back, after unquoteCell, as itself,
// and is never a cell a spreadsheet evaluates.
func FuzzParseCSV(f *testing.F) {
	f.Add([]byte("name,kind\nBiblioteca,library\n"), "=SUM(A1)")
	f.Add([]byte("\xef\xbb\xbfname;kind;lat;lng;targets\n\"Caffè \"\"Ritrovo\"\", sì\";culture;44,5;11,3;everyone|elderly\n"), "'=x")
	f.Add([]byte("id,name,kind,hours\n,\"a\nb\",health,mon 09:00-12:00\n"), "+39 051")
	f.Add([]byte("name,kind\n\"unterminated\n"), "\t-1")
	f.Fuzz(func(t *testing.T, body []byte, text string) {
		rows, fields, err := parseCSV(body)
		if err == nil {
			if len(rows) > MaxCSVRows || len(fields) > maxCSVErrors {
				t.Fatalf("%d rows, %d problems", len(rows), len(fields))
			}
			for _, r := range rows {
				if r.Row < 2 || rowHas(fields, r.Row) {
					t.Fatalf("row %d returned", r.Row)
				}
			}
		}
		q := quoteCell(text)
		if unquoteCell(q) != text {
			t.Fatalf("%q → %q → %q", text, q, unquoteCell(q))
		}
		if formulaStart(q) {
			t.Fatalf("%q exported as a formula %q", text, q)
		}
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		_ = w.Write([]string{"name", "kind"})
		_ = w.Write([]string{q, "other"})
		w.Flush()
		rows, fields, err = parseCSV(buf.Bytes())
		if err != nil || len(fields) > 0 {
			t.Fatalf("%q: %v %v", q, err, fields)
		}
		if strings.TrimSpace(strings.ReplaceAll(q, "\r", "")) == "" {
			return // a row of spaces is an empty line
		}
		if len(rows) != 1 || rows[0].In.Name == nil {
			t.Fatalf("%q: %+v", q, rows)
		}
		if got := *rows[0].In.Name; got != text && got != strings.ReplaceAll(text, "\r\n", "\n") && got != strings.ReplaceAll(text, "\r", "") {
			t.Fatalf("%q read back as %q", text, got)
		}
	})
}

// FuzzSearchCursor: a client's cursor never panics the search's decoder,
// and a cursor the server made reads back as the same position.
func FuzzSearchCursor(f *testing.F) {
	cs := cursor.NewWithKey([]byte("0123456789abcdef0123456789abcdef"))
	f.Add(encodePosition(cs, position{name: "biblioteca lame", id: "650000000000000000000001"}, false), "parco", 12.5)
	f.Add(encodePosition(cs, position{dist: 400.25, id: "650000000000000000000001"}, true), "", 0.0)
	f.Add("bm9wZQ~AAAA", "x", -1.0)
	f.Add("", strings.Repeat("\U0001F3E0", MaxNameLen), 1.0)
	f.Add("", strings.Repeat("a", 3000), 1.0)
	f.Fuzz(func(t *testing.T, c, name string, dist float64) {
		decodePosition(cs, c, false)
		decodePosition(cs, c, true)
		// A position's name is an entry's, so no longer than MaxNameLen;
		// a longer one would make a cursor past the decoder's bound.
		if dist < 0 || dist != dist || strings.Contains(name, "\x1f") || utf8.RuneCountInString(name) > MaxNameLen {
			return
		}
		id := "650000000000000000000001"
		p, ok := decodePosition(cs, encodePosition(cs, position{name: name, id: id}, false), false)
		if !ok || p.name != name || p.id != id {
			t.Fatalf("by name: %+v %v", p, ok)
		}
		p, ok = decodePosition(cs, encodePosition(cs, position{dist: dist, id: id}, true), true)
		if !ok || p.dist != dist {
			t.Fatalf("by distance %v: %+v %v", dist, p, ok)
		}
	})
}
