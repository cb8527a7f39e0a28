package portineria

import (
	"bytes"
	"encoding/csv"
	"strconv"
	"strings"
	"testing"
)

// formula reports whether a spreadsheet would evaluate cell: it starts,
// after spaces, with = + - @, a tab or a carriage return (OWASP's list).
func formula(cell string) bool {
	t := strings.TrimLeft(cell, " ")
	return t != "" && strings.ContainsAny(t[:1], "=+-@\t\r")
}

// The CSV exports carry text people typed (names, phones, addresses,
// skills, notes, reasons): outside data on its way to a spreadsheet.
// Whatever the text, rows built as MembersCSV and LedgerCSV build them,
// once written by csvBytes and read back with encoding/csv:
//   - give the header and one record per row, each with the header's
//     number of fields (no text splits or merges a record);
//   - give back each typed cell as safeCell made it, which is the text
//     itself, or the text behind an apostrophe when a spreadsheet would
//     evaluate it (and only then);
//   - hold no typed cell a spreadsheet would evaluate;
//   - give the amount as the cents written in euros.
//
// encoding/csv reads a quoted "\r\n" back as "\n"; stored text never holds
// "\r" (checkText and checkMultiline refuse it), so the comparison folds it.
func FuzzCSVExport(f *testing.F) {
	f.Add("Anna Rossi", "051 123456", "anna@example.org", int64(2500))
	f.Add(`=HYPERLINK("http://x","y")`, "+39 051 123", "@SUM(1+1)", int64(-1234))
	f.Add("  =1+1", "-2+3", "\t=cmd|' /C calc'!A0", int64(1))
	f.Add("\r=1", "a,b", `"quoted" "twice"`, int64(-1))
	f.Add("line\nbreak", "line\r\nbreak", "\n=1", int64(MaxAmountCents))
	f.Add("", " ", "'=already", int64(-MaxAmountCents))
	f.Add("\\.", "\x00", "\xff\xfe", int64(0))
	f.Add("＝1", "\u00a0=1", "﹦1", int64(99))
	f.Fuzz(func(t *testing.T, a, b, c string, cents int64) {
		cents %= MaxAmountCents + 1
		typedMembers := [][]string{{a, b, c, a, b + "; " + c, c}, {c, a, b, b, a, a + "\n" + b}}
		var members [][]string
		for _, in := range typedMembers {
			members = append(members, []string{"12", safeCell(in[0]), safeCell(in[1]), safeCell(in[2]), safeCell(in[3]),
				safeCell(in[4]), safeCell(in[5]), "2024-01-31", "true", "false", "2026", "paid", "2500"})
		}
		typedLedger := [][]string{{a, b, c, a}, {b, c, "", c}}
		var ledger [][]string
		for _, in := range typedLedger {
			ledger = append(ledger, []string{"65f1c0ffee0000000000abcd", "2026-03-01T09:00:00Z", "2026", "fee",
				strconv.FormatInt(cents, 10), formatCents(cents), "cash", "12", safeCell(in[0]), safeCell(in[1]), "",
				safeCell(in[2]), safeCell(in[3])})
		}
		membersTyped := []int{1, 2, 3, 4, 5, 6}
		ledgerTyped := []int{8, 9, 11, 12}
		records := exportAndRead(t, MembersCSVHeader, members)
		for i, rec := range records {
			for j, col := range membersTyped {
				checkCell(t, typedMembers[i][j], rec[col])
			}
		}
		records = exportAndRead(t, LedgerCSVHeader, ledger)
		for i, rec := range records {
			for j, col := range ledgerTyped {
				checkCell(t, typedLedger[i][j], rec[col])
			}
			if got, want := rec[5], centsInEuros(cents); got != want {
				t.Fatalf("amount of %d cents: %q, want %q", cents, got, want)
			}
		}
	})
}

// exportAndRead writes rows with csvBytes and reads them back strictly,
// returning the records after the header.
func exportAndRead(t *testing.T, header []string, rows [][]string) [][]string {
	t.Helper()
	b, err := csvBytes(header, rows)
	if err != nil {
		t.Fatalf("csvBytes: %v", err)
	}
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = len(header)
	records, err := r.ReadAll()
	if err != nil {
		t.Fatalf("the export does not read back: %v\n%s", err, b)
	}
	if len(records) != len(rows)+1 {
		t.Fatalf("%d rows exported, %d records read back:\n%s", len(rows), len(records)-1, b)
	}
	if strings.Join(records[0], "\x00") != strings.Join(header, "\x00") {
		t.Fatalf("header read back as %q", records[0])
	}
	for i, rec := range records[1:] {
		for j := range rec {
			if want := strings.ReplaceAll(rows[i][j], "\r\n", "\n"); rec[j] != want {
				t.Fatalf("row %d, %s: wrote %q, read back %q", i, header[j], rows[i][j], rec[j])
			}
		}
	}
	return records[1:]
}

// checkCell asserts what a typed value became in the export.
func checkCell(t *testing.T, typed, cell string) {
	t.Helper()
	fold := func(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }
	switch {
	case formula(cell):
		t.Fatalf("%q exported as %q, which a spreadsheet evaluates", typed, cell)
	case formula(typed) && cell != fold("'"+typed):
		t.Fatalf("%q exported as %q, want it behind an apostrophe", typed, cell)
	case !formula(typed) && cell != fold(typed):
		t.Fatalf("%q exported as %q, want it as it is", typed, cell)
	}
}

// centsInEuros is the euro amount of cents, worked out with big decimals'
// rules by hand: sign, whole euros, two digits of cents.
func centsInEuros(cents int64) string {
	s := strconv.FormatInt(cents, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	for len(s) < 3 {
		s = "0" + s
	}
	s = s[:len(s)-2] + "." + s[len(s)-2:]
	if neg {
		s = "-" + s
	}
	return s
}
