package locator

import (
	"bytes"
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"civico/internal/auth"
	"civico/internal/fault"
	"civico/internal/hours"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// CSVHeader is the header row of places.csv. An import may leave out any
// column but name and kind (a new place needs them), in any order;
// verified_at is only exported.
var CSVHeader = []string{"id", "name", "kind", "description", "address", "area", "lat", "lng", "targets", "hours",
	"time_zone", "phone", "email", "web", "languages", "accessibility", "verified_at"}

// listSep separates the items of the targets and languages columns.
const listSep = "|"

// maxCSVErrors bounds the problems an import reports at once.
const maxCSVErrors = 50

// ErrCSVInvalid is the answer to an import with problems: nothing was
// imported, and Fields names each problem by row ("row_3.kind":
// "unknown"; the header is row 1, as a spreadsheet numbers them), by
// column of the header ("header.colour": "unknown") or by line of a
// malformed file ("line_7": "malformed").
var ErrCSVInvalid = fault.New(fault.Invalid, "csv_invalid", "the file has problems: nothing was imported")

// formulaStart tells whether a spreadsheet would evaluate cell: it starts,
// after spaces, with = + - @, a tab or a carriage return.
func formulaStart(cell string) bool {
	t := strings.TrimLeft(cell, " ")
	return t != "" && strings.ContainsRune("=+-@\t\r", rune(t[0]))
}

// needsQuote tells whether an exported cell gets an apostrophe in front: a
// formula, or a text that would be read back as one behind an apostrophe
// ("'=x" typed as such), so that unquoteCell(quoteCell(v)) is v for every v.
func needsQuote(v string) bool {
	for strings.HasPrefix(v, "'") {
		v = v[1:]
	}
	// A carriage return inside a quoted cell reads back as a line feed
	// (encoding/csv): a cell quoted for its leading \r comes back with a
	// leading \n, which must unquote too.
	t := strings.TrimLeft(v, " ")
	return formulaStart(v) || strings.HasPrefix(t, "\n")
}

// quoteCell neutralises a cell a spreadsheet would evaluate.
func quoteCell(v string) string {
	if needsQuote(v) {
		return "'" + v
	}
	return v
}

// unquoteCell undoes quoteCell.
func unquoteCell(v string) string {
	if strings.HasPrefix(v, "'") && needsQuote(v[1:]) {
		return v[1:]
	}
	return v
}

// csvRow is one row of an import: its number (the header is row 1), the
// id it names, the fields its columns give, and the contacts columns it
// has (merged into the place's contacts).
type csvRow struct {
	Row               int
	ID                string
	In                Input
	Phone, Email, Web *string
}

// parseCSV reads an import's rows. It checks the file's shape (an error
// then) and each cell's syntax (numbers, lists, hours: the problems of the
// rows, whose other rows are still returned); the places' rules are
// checked when the rows are applied to them.
func parseCSV(body []byte) ([]csvRow, fault.Fields, error) {
	if len(body) > MaxCSVBytes {
		return nil, nil, ErrCSVTooLarge
	}
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")) // a spreadsheet's BOM
	r := csv.NewReader(bytes.NewReader(body))
	// Spreadsheets set to Italian write ";" between cells.
	if first, _, _ := bytes.Cut(body, []byte("\n")); bytes.Count(first, []byte(";")) > bytes.Count(first, []byte(",")) {
		r.Comma = ';'
	}
	r.FieldsPerRecord = -1
	f := fault.Fields{}
	add := func(field, problem string) {
		if len(f) < maxCSVErrors {
			f.Add(field, problem)
		}
	}
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil, invalidCSV(fault.Fields{"header.name": "required"})
	}
	if err != nil {
		return nil, nil, invalidCSV(malformed(err))
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(unquoteCell(h)))
		switch {
		case !slices.Contains(CSVHeader, h):
			add("header."+truncate(h, 40), "unknown")
		case col[h] > 0:
			add("header."+h, "duplicate")
		}
		col[h] = i + 1
	}
	if len(f) > 0 {
		return nil, nil, invalidCSV(f)
	}
	var rows []csvRow
	for n := 2; ; n++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, invalidCSV(malformed(err))
		}
		if n-1 > MaxCSVRows {
			return nil, nil, ErrCSVTooLarge
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // an empty line
		}
		prefix := "row_" + strconv.Itoa(n) + "."
		if len(rec) != len(header) {
			add("row_"+strconv.Itoa(n), "wrong_column_count")
			continue
		}
		cell := func(name string) (string, bool) {
			i := col[name]
			if i == 0 {
				return "", false
			}
			return unquoteCell(rec[i-1]), true
		}
		text := func(name string) *string {
			if v, ok := cell(name); ok {
				return &v
			}
			return nil
		}
		row := csvRow{Row: n, In: Input{Name: text("name"), Kind: text("kind"), Description: text("description"),
			Address: text("address"), Area: text("area"), Accessibility: text("accessibility")}}
		if v, ok := cell("id"); ok {
			row.ID = strings.TrimSpace(v)
		}
		if v, ok := cell("time_zone"); ok && strings.TrimSpace(v) != "" {
			row.In.TimeZone = &v
		}
		for _, c := range []string{"lat", "lng"} {
			v, ok := cell(c)
			v = strings.TrimSpace(v)
			if !ok || v == "" {
				continue
			}
			if !strings.Contains(v, ".") {
				v = strings.Replace(v, ",", ".", 1) // "44,5" as Italian spreadsheets write it
			}
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				add(prefix+c, "invalid")
				continue
			}
			if c == "lat" {
				row.In.Lat = &x
			} else {
				row.In.Lng = &x
			}
		}
		for _, c := range []string{"targets", "languages"} {
			v, ok := cell(c)
			if !ok {
				continue
			}
			list := []string{}
			for item := range strings.SplitSeq(v, listSep) {
				if item = strings.TrimSpace(item); item != "" {
					list = append(list, item)
				}
			}
			if c == "targets" {
				row.In.Targets = &list
			} else {
				row.In.Languages = &list
			}
		}
		if v, ok := cell("hours"); ok {
			var w hours.Week
			if strings.TrimSpace(v) != "" {
				if w, err = hours.Parse(v); err != nil {
					add(prefix+"hours", "invalid")
				}
			}
			row.In.Hours = &w
		}
		row.Phone, row.Email, row.Web = text("phone"), text("email"), text("web")
		if !rowHas(f, n) {
			rows = append(rows, row)
		}
	}
	return rows, f, nil
}

// rowHas tells whether f has a problem of row n.
func rowHas(f fault.Fields, n int) bool {
	p := "row_" + strconv.Itoa(n)
	for k := range f {
		if k == p || strings.HasPrefix(k, p+".") {
			return true
		}
	}
	return false
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}

func malformed(err error) fault.Fields {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fault.Fields{"line_" + strconv.Itoa(pe.Line): "malformed"}
	}
	return fault.Fields{"file": "malformed"}
}

func invalidCSV(f fault.Fields) error {
	e := *ErrCSVInvalid
	e.Fields = f
	return &e
}

// contacts merges the row's contacts columns into c.
func (r csvRow) contacts(c Contacts) *Contacts {
	if r.Phone == nil && r.Email == nil && r.Web == nil {
		return nil
	}
	if r.Phone != nil {
		c.Phone = *r.Phone
	}
	if r.Email != nil {
		c.Email = *r.Email
	}
	if r.Web != nil {
		c.Web = *r.Web
	}
	return &c
}

// planned is a row of an import, checked: the place it names (nil for a
// new one), the place as the row makes it, the fields that change and the
// input that makes them.
type planned struct {
	row     csvRow
	old     *placeDoc
	doc     placeDoc
	changed []string
	in      Input
}

// ImportResult counts what an import did.
type ImportResult struct {
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Unchanged int `json:"unchanged"`
}

// ImportCSV creates and updates the association's places from a CSV file
// (CSVHeader's columns): a row whose id names one of the association's
// places updates it (only the columns present; an unchanged row is not
// counted as verified), any other row creates a place. Every row is
// checked before any is written: with a problem anywhere, nothing is
// imported and ErrCSVInvalid names the rows.
func (s *Service) ImportCSV(ctx context.Context, p auth.Principal, aid string, body []byte) (ImportResult, error) {
	if len(body) > MaxCSVBytes {
		return ImportResult{}, ErrCSVTooLarge
	}
	if err := s.keeper(ctx, p, aid); err != nil {
		return ImportResult{}, err
	}
	rows, f, err := parseCSV(body)
	if err != nil {
		return ImportResult{}, err
	}
	// The places the rows name, read a few at a time.
	var named []string
	for _, row := range rows {
		if row.ID != "" {
			named = append(named, row.ID)
		}
	}
	slices.Sort(named)
	found, err := s.readPlaces(ctx, slices.Compact(named))
	if err != nil {
		return ImportResult{}, err
	}
	existing := make(map[bson.ObjectID]placeDoc, len(found))
	for _, d := range found {
		existing[d.ID] = d
	}
	plans := make([]planned, 0, len(rows))
	seen := map[string]int{}
	tz := ""
	for _, row := range rows {
		prefix := "row_" + strconv.Itoa(row.Row) + "."
		pl := planned{row: row, in: row.In}
		if row.ID != "" {
			if first, dup := seen[row.ID]; dup {
				if len(f) < maxCSVErrors {
					f.Add(prefix+"id", "duplicate_of_row_"+strconv.Itoa(first))
				}
				continue
			}
			seen[row.ID] = row.Row
			if oid, err := bson.ObjectIDFromHex(row.ID); err == nil {
				if d, ok := existing[oid]; ok && d.AssociationID == aid {
					pl.old = &d
				}
			}
		}
		var err error
		if pl.old != nil {
			pl.in.Contacts = row.contacts(pl.old.Contacts)
			pl.doc = *pl.old
			pl.changed, err = apply(&pl.doc, pl.in, false)
		} else {
			pl.in.Contacts = row.contacts(Contacts{})
			if pl.in.TimeZone == nil {
				if tz == "" {
					tz = s.defaultZone(ctx, aid)
				}
				pl.in.TimeZone = &tz
			}
			pl.doc, pl.changed, err = s.prepare(ctx, aid, pl.in)
		}
		if e, ok := fault.As(err); ok && e.Kind == fault.Invalid {
			for k, v := range e.Fields {
				if len(f) < maxCSVErrors {
					f.Add(prefix+k, v)
				}
			}
			continue
		}
		if err != nil {
			return ImportResult{}, err
		}
		plans = append(plans, pl)
	}
	if len(f) > 0 {
		return ImportResult{}, invalidCSV(f)
	}

	var (
		res     ImportResult
		creates []planned
		updates []planned
	)
	for _, pl := range plans {
		switch {
		case pl.old == nil:
			creates = append(creates, pl)
		case len(pl.changed) == 0:
			res.Unchanged++
		default:
			updates = append(updates, pl)
		}
	}
	// New places in a few inserts; changed places one conditional update
	// each, as Update makes it. Once a place is stored, its search record
	// and history are written even if the caller has gone away.
	docs := make([]placeDoc, len(creates))
	for i, pl := range creates {
		docs[i] = pl.doc
	}
	inserted, errInsert := s.insertMany(ctx, docs)
	done, errUpdate := s.commitMany(ctx, updates)
	ctx = context.WithoutCancel(ctx)
	w := shardWrites{}
	entries := make([]entryOf, 0, len(creates)+len(updates))
	for i, pl := range creates {
		if inserted[i] {
			s.stage(w, pl.doc, "")
			entries = append(entries, entryOf{pl.doc.ID.Hex(),
				change{At: pl.doc.UpdatedAt, UserID: p.UserID, Action: actionImported, Fields: pl.changed}})
			res.Created++
		}
	}
	for _, c := range done {
		s.stage(w, c.doc, c.oldKind)
		entries = append(entries, entryOf{c.doc.ID.Hex(), c.entry(p.UserID, actionImported, "")})
		res.Updated++
	}
	errIndex := s.writeShards(ctx, w)
	s.recordMany(ctx, p.UserID, entries)
	for _, err := range []error{errInsert, errUpdate, errIndex} {
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// importBatch is how many new places one insert of an import carries.
const importBatch = 500

// insertMany inserts docs, importBatch at a time, and tells which are
// stored: all of them, or after an error those it finds.
func (s *Service) insertMany(ctx context.Context, docs []placeDoc) ([]bool, error) {
	stored := make([]bool, len(docs))
	for from := 0; from < len(docs); from += importBatch {
		batch := docs[from:min(from+importBatch, len(docs))]
		many := make([]any, len(batch))
		for i, d := range batch {
			many[i] = d
		}
		err := s.places.InsertMany(ctx, many)
		if err == nil {
			for i := range batch {
				stored[from+i] = true
			}
			continue
		}
		// Part of the batch may be stored: those get their search
		// records and histories like the others.
		ids := make([]string, len(batch))
		for i, d := range batch {
			ids[i] = d.ID.Hex()
		}
		found, ferr := s.readPlaces(context.WithoutCancel(ctx), ids)
		if ferr == nil {
			in := map[bson.ObjectID]bool{}
			for _, d := range found {
				in[d.ID] = true
			}
			for i, d := range batch {
				stored[from+i] = in[d.ID]
			}
		}
		if ferr != nil {
			err = errors.Join(err, ferr)
		}
		return stored, err
	}
	return stored, nil
}

// commitMany commits the planned changes, a few at a time, and returns
// those stored, and the first error met (the other changes still apply).
func (s *Service) commitMany(ctx context.Context, plans []planned) ([]committed, error) {
	out := make([]committed, len(plans))
	ok := make([]bool, len(plans))
	errs := make([]error, len(plans))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, pl := range plans {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i], errs[i] = s.commit(ctx, *pl.old, pl.in)
			ok[i] = errs[i] == nil
		}()
	}
	wg.Wait()
	var first error
	done := out[:0]
	for i, c := range out {
		if ok[i] {
			done = append(done, c)
		} else if first == nil {
			first = errs[i]
		}
	}
	return done, first
}

// associationPlaces reads the places of aid (all associations' when ""),
// of kind when given, by name, at most max of them (0: all), through the
// search shards.
func (s *Service) associationPlaces(ctx context.Context, aid, kind string, withCoordinates bool, max int) ([]placeDoc, error) {
	var kinds []string
	if kind != "" {
		kinds = []string{kind}
	}
	type found struct{ id, name string }
	var hits []found
	seen := map[string]bool{}
	err := s.scan(ctx, kinds, func(_, id string, r record) {
		if (aid == "" || r.AID == aid) && (!withCoordinates || r.Lat != nil && r.Lng != nil) && !seen[id] {
			seen[id] = true
			hits = append(hits, found{id, r.Name})
		}
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(hits, func(a, b found) int { return cmp.Or(strings.Compare(a.name, b.name), strings.Compare(a.id, b.id)) })
	if max > 0 && len(hits) > max {
		hits = hits[:max]
	}
	ids := make([]string, len(hits))
	for i, h := range hits {
		ids[i] = h.id
	}
	return s.readPlaces(ctx, ids)
}

// ExportCSV writes the association's places as CSV (CSVHeader), for its
// staff. Text a spreadsheet would run as a formula gets an apostrophe in
// front, which ImportCSV takes away again.
func (s *Service) ExportCSV(ctx context.Context, p auth.Principal, aid string) ([]byte, error) {
	if err := s.keeper(ctx, p, aid); err != nil {
		return nil, err
	}
	docs, err := s.associationPlaces(ctx, aid, "", false, 0)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.Write(CSVHeader); err != nil {
		return nil, err
	}
	for _, d := range docs {
		coord := func(v *float64) string {
			if v == nil {
				return ""
			}
			return strconv.FormatFloat(*v, 'f', -1, 64)
		}
		row := []string{d.ID.Hex(), quoteCell(d.Name), d.Kind, quoteCell(d.Description), quoteCell(d.Address), quoteCell(d.Area),
			coord(d.Lat), coord(d.Lng), strings.Join(d.Targets, listSep), quoteCell(hours.Week(d.Hours).String()), d.TimeZone,
			quoteCell(d.Contacts.Phone), quoteCell(d.Contacts.Email), quoteCell(d.Contacts.Web),
			strings.Join(d.Languages, listSep), quoteCell(d.Accessibility), d.VerifiedAt.UTC().Format(time.RFC3339)}
		if err := w.Write(row); err != nil {
			return nil, err
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, fmt.Errorf("locator: csv: %w", err)
	}
	return buf.Bytes(), nil
}
