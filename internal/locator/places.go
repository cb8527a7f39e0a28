package locator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/mail"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"civico/internal/auth"
	"civico/internal/fault"
	"civico/internal/hours"
	"civico/internal/portineria"
	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// maxTries bounds how often a change is re-applied after losing its
// version to another writer.
const maxTries = 8

// placeDoc is a place as stored. Version grows by one with every change.
type placeDoc struct {
	ID            bson.ObjectID `bson:"_id"`
	AssociationID string        `bson:"association_id"`
	Name          string        `bson:"name"`
	Kind          string        `bson:"kind"`
	Description   string        `bson:"description"`
	Address       string        `bson:"address"`
	Area          string        `bson:"area"`
	Lat           *float64      `bson:"lat,omitempty"`
	Lng           *float64      `bson:"lng,omitempty"`
	Targets       []string      `bson:"targets"`
	Hours         storedWeek    `bson:"hours"`
	TimeZone      string        `bson:"time_zone"`
	Contacts      Contacts      `bson:"contacts"`
	Languages     []string      `bson:"languages"`
	Accessibility string        `bson:"accessibility"`
	VerifiedAt    time.Time     `bson:"verified_at"`
	CreatedAt     time.Time     `bson:"created_at"`
	UpdatedAt     time.Time     `bson:"updated_at"`
	Version       int64         `bson:"version"`
}

func (s *Service) view(d placeDoc) Place {
	return Place{ID: d.ID.Hex(), AssociationID: d.AssociationID, Name: d.Name, Kind: d.Kind, Description: d.Description,
		Address: d.Address, Area: d.Area, Lat: d.Lat, Lng: d.Lng, Targets: nonNil(d.Targets), Hours: hours.Week(d.Hours),
		TimeZone: d.TimeZone, Contacts: d.Contacts, Languages: nonNil(d.Languages), Accessibility: d.Accessibility,
		VerifiedAt: d.VerifiedAt, Stale: s.stale(d.VerifiedAt), CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt, Version: d.Version}
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// The fields a change may touch, by their stored (and JSON) names, in the
// order a history shows them.
var fieldNames = []string{"name", "kind", "description", "address", "area", "lat", "lng", "targets", "hours",
	"time_zone", "contacts", "languages", "accessibility"}

// fieldValue is the stored value of one field of d.
func fieldValue(d *placeDoc, name string) any {
	switch name {
	case "name":
		return d.Name
	case "kind":
		return d.Kind
	case "description":
		return d.Description
	case "address":
		return d.Address
	case "area":
		return d.Area
	case "lat":
		return d.Lat
	case "lng":
		return d.Lng
	case "targets":
		return d.Targets
	case "hours":
		return d.Hours
	case "time_zone":
		return d.TimeZone
	case "contacts":
		return d.Contacts
	case "languages":
		return d.Languages
	case "accessibility":
		return d.Accessibility
	}
	return nil
}

// apply writes in over d, cleaned and validated, and returns the fields
// that changed. create requires what a new place needs.
func apply(d *placeDoc, in Input, create bool) ([]string, error) {
	old := *d
	f := fault.Fields{}
	if in.Name != nil {
		d.Name = clean(*in.Name)
	}
	checkText(f, "name", d.Name, true, MaxNameLen)
	if in.Kind != nil {
		d.Kind = strings.TrimSpace(*in.Kind)
	}
	switch {
	case d.Kind == "":
		f.Add("kind", "required")
	case !slices.Contains(Kinds, d.Kind):
		f.Add("kind", "unknown")
	}
	if in.Description != nil {
		d.Description = cleanMultiline(*in.Description)
		checkMultiline(f, "description", d.Description, MaxDescriptionLen)
	}
	if in.Address != nil {
		d.Address = clean(*in.Address)
		checkText(f, "address", d.Address, false, MaxAddressLen)
	}
	if in.Area != nil {
		d.Area = clean(*in.Area)
		checkText(f, "area", d.Area, false, MaxAreaLen)
	}
	if in.Lat != nil || in.Lng != nil {
		d.Lat, d.Lng = in.Lat, in.Lng
		switch {
		case d.Lat == nil:
			f.Add("lat", "required")
		case d.Lng == nil:
			f.Add("lng", "required")
		}
		if d.Lat != nil && (math.IsNaN(*d.Lat) || *d.Lat < -90 || *d.Lat > 90) {
			f.Add("lat", "out_of_range")
		}
		if d.Lng != nil && (math.IsNaN(*d.Lng) || *d.Lng < -180 || *d.Lng > 180) {
			f.Add("lng", "out_of_range")
		}
	}
	if in.Targets != nil {
		d.Targets = normalizeList(f, "targets", *in.Targets, len(Targets), func(v string) bool { return slices.Contains(Targets, v) }, "unknown")
	}
	if in.Languages != nil {
		d.Languages = normalizeList(f, "languages", *in.Languages, MaxLanguages, validLanguage, "invalid")
	}
	if in.Hours != nil {
		d.Hours = storedWeek(*in.Hours)
		if err := in.Hours.Validate(); err != nil {
			e, ok := fault.As(err)
			if !ok || len(e.Fields) == 0 {
				f.Add("hours", "invalid")
			}
			if ok {
				for k, v := range e.Fields {
					if !strings.HasPrefix(k, "hours") {
						k = "hours." + k
					}
					f.Add(k, v)
				}
			}
		}
	}
	if in.TimeZone != nil {
		d.TimeZone = strings.TrimSpace(*in.TimeZone)
		if _, err := time.LoadLocation(d.TimeZone); err != nil || d.TimeZone == "" || len(d.TimeZone) > 64 || d.TimeZone == "Local" {
			f.Add("time_zone", "invalid")
		}
	}
	if in.Contacts != nil {
		d.Contacts = cleanContacts(f, *in.Contacts)
	}
	if in.Accessibility != nil {
		d.Accessibility = cleanMultiline(*in.Accessibility)
		checkMultiline(f, "accessibility", d.Accessibility, MaxAccessibilityLen)
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	var changed []string
	for _, name := range fieldNames {
		if create || !sameValue(fieldValue(&old, name), fieldValue(d, name)) {
			changed = append(changed, name)
		}
	}
	return changed, nil
}

// storedWeek is a week as stored: the embedded engine takes no array of
// arrays, so the days are a document by day name.
type storedWeek hours.Week

type weekDoc struct {
	Days       map[string][]hours.Interval `bson:"days,omitempty"`
	Exceptions []hours.Exception           `bson:"exceptions,omitempty"`
}

// MarshalBSON implements bson.Marshaler.
func (w storedWeek) MarshalBSON() ([]byte, error) {
	d := weekDoc{Days: map[string][]hours.Interval{}, Exceptions: w.Exceptions}
	for i, ivs := range w.Days {
		if len(ivs) > 0 {
			d.Days[hours.Days[i]] = ivs
		}
	}
	return bson.Marshal(d)
}

// UnmarshalBSON implements bson.Unmarshaler.
func (w *storedWeek) UnmarshalBSON(b []byte) error {
	var d weekDoc
	if err := bson.Unmarshal(b, &d); err != nil {
		return err
	}
	*w = storedWeek{Exceptions: d.Exceptions}
	for i, name := range hours.Days {
		w.Days[i] = d.Days[name]
	}
	return nil
}

// sameValue compares two values of a field as a client sees them (their
// JSON): a list or a day read back empty from the database equals one
// given empty.
func sameValue(a, b any) bool {
	switch x := a.(type) {
	case []string:
		return slices.Equal(x, b.([]string)) // nil equals empty
	case storedWeek:
		ja, erra := json.Marshal(hours.Week(x))
		jb, errb := json.Marshal(hours.Week(b.(storedWeek)))
		return erra == nil && errb == nil && bytes.Equal(ja, jb)
	}
	return reflect.DeepEqual(a, b)
}

// clean trims s and collapses inner runs of white space.
func clean(s string) string { return strings.Join(strings.Fields(s), " ") }

// cleanMultiline trims free text, keeping its line breaks as "\n".
func cleanMultiline(s string) string {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRightFunc(l, unicode.IsSpace)
	}
	return strings.Join(lines, "\n")
}

func checkText(f fault.Fields, field, v string, required bool, max int) {
	switch {
	case v == "" && required:
		f.Add(field, "required")
	case !utf8.ValidString(v) || strings.IndexFunc(v, unicode.IsControl) >= 0:
		f.Add(field, "invalid")
	case utf8.RuneCountInString(v) > max:
		f.Add(field, "too_long")
	}
}

func checkMultiline(f fault.Fields, field, v string, max int) {
	switch {
	case !utf8.ValidString(v) || strings.IndexFunc(v, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) >= 0:
		f.Add(field, "invalid")
	case utf8.RuneCountInString(v) > max:
		f.Add(field, "too_long")
	}
}

// normalizeList trims, lower-cases and de-duplicates a list of codes.
func normalizeList(f fault.Fields, field string, in []string, max int, valid func(string) bool, problem string) []string {
	if len(in) > max {
		f.Add(field, "too_many")
		return nil
	}
	out := []string{}
	for _, v := range in {
		v = strings.ToLower(strings.TrimSpace(v))
		if v == "" || slices.Contains(out, v) {
			continue
		}
		if len(v) > 40 || !valid(v) {
			f.Add(field, problem)
			return nil
		}
		out = append(out, v)
	}
	return out
}

// validLanguage accepts a short language code: "it", "en", "ar",
// "pt-br", "zh-hant".
func validLanguage(v string) bool {
	base, region, found := strings.Cut(v, "-")
	if len(base) < 2 || len(base) > 3 || strings.IndexFunc(base, func(r rune) bool { return r < 'a' || r > 'z' }) >= 0 {
		return false
	}
	if !found {
		return true
	}
	return len(region) >= 2 && len(region) <= 8 && strings.IndexFunc(region, func(r rune) bool {
		return (r < 'a' || r > 'z') && (r < '0' || r > '9')
	}) < 0
}

func cleanContacts(f fault.Fields, c Contacts) Contacts {
	out := Contacts{Phone: clean(c.Phone), Email: strings.ToLower(strings.TrimSpace(c.Email)), Web: strings.TrimSpace(c.Web)}
	if v := out.Phone; v != "" {
		digits := 0
		for _, r := range v {
			switch {
			case r >= '0' && r <= '9':
				digits++
			case strings.ContainsRune(" +-()./", r):
			default:
				digits = -1000
			}
		}
		switch {
		case len(v) > MaxPhoneLen:
			f.Add("contacts.phone", "too_long")
		case digits < 3:
			f.Add("contacts.phone", "invalid")
		}
	}
	if v := out.Email; v != "" {
		a, err := mail.ParseAddress(v)
		switch {
		case len(v) > MaxEmailLen:
			f.Add("contacts.email", "too_long")
		case err != nil || a.Address != v || !strings.Contains(v[strings.LastIndexByte(v, '@'):], "."):
			f.Add("contacts.email", "invalid")
		}
	}
	if v := out.Web; v != "" {
		if !strings.Contains(v, "://") {
			v = "https://" + v // "www.comune.bologna.it" as people write it
		}
		u, err := url.Parse(v)
		switch {
		case len(v) > MaxWebLen:
			f.Add("contacts.web", "too_long")
		case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
			strings.IndexFunc(v, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
			f.Add("contacts.web", "invalid")
		}
		out.Web = v
	}
	return out
}

// keeper checks that p is on the staff of aid (any role).
func (s *Service) keeper(ctx context.Context, p auth.Principal, aid string) error {
	if p.UserID == "" {
		return portineria.ErrAssociationNotFound
	}
	role, err := s.assocs.RoleOf(ctx, aid, p.UserID)
	if err != nil {
		return err
	}
	if role == "" {
		return portineria.ErrAssociationNotFound
	}
	return nil
}

// CanKeep is nil when p is on the staff of association aid, else
// portineria.ErrAssociationNotFound.
func (s *Service) CanKeep(ctx context.Context, p auth.Principal, aid string) error {
	return s.keeper(ctx, p, aid)
}

// defaultZone is the association's time zone, else DefaultTimeZone.
func (s *Service) defaultZone(ctx context.Context, aid string) string {
	a, err := s.assocs.Lookup(ctx, aid)
	if err != nil || a.TimeZone == "" {
		return DefaultTimeZone
	}
	return a.TimeZone
}

// Create adds a place to the association aid; p must be on its staff, else
// portineria.ErrAssociationNotFound. via is "" or the suggestion it comes from.
func (s *Service) Create(ctx context.Context, p auth.Principal, aid string, in Input, via string) (Place, error) {
	if err := s.keeper(ctx, p, aid); err != nil {
		return Place{}, err
	}
	d, changed, err := s.prepare(ctx, aid, in)
	if err != nil {
		return Place{}, err
	}
	if err := s.insert(ctx, p, d, changed, via, actionCreated); err != nil {
		return Place{}, err
	}
	return s.view(d), nil
}

// prepare makes a new place of aid from in, validated.
func (s *Service) prepare(ctx context.Context, aid string, in Input) (placeDoc, []string, error) {
	now := s.now()
	d := placeDoc{ID: bson.NewObjectID(), AssociationID: aid, Targets: []string{}, Languages: []string{},
		VerifiedAt: now, CreatedAt: now, UpdatedAt: now, Version: 1}
	if in.TimeZone == nil || strings.TrimSpace(*in.TimeZone) == "" {
		tz := s.defaultZone(ctx, aid)
		in.TimeZone = &tz
	}
	changed, err := apply(&d, in, true)
	return d, changed, err
}

func (s *Service) insert(ctx context.Context, p auth.Principal, d placeDoc, changed []string, via, action string) error {
	if _, err := s.places.InsertOne(ctx, d); err != nil {
		return err
	}
	if err := s.index(ctx, d, ""); err != nil {
		return err
	}
	s.record(ctx, d.ID.Hex(), change{At: d.UpdatedAt, UserID: p.UserID, Action: action, Fields: changed, Via: via})
	return nil
}

// load reads a place by id.
func (s *Service) load(ctx context.Context, id string) (placeDoc, error) {
	oid, err := bson.ObjectIDFromHex(id)
	if err != nil {
		return placeDoc{}, ErrPlaceNotFound
	}
	var d placeDoc
	err = s.places.FindOne(ctx, bson.M{"_id": oid}, &d)
	if errors.Is(err, store.ErrNotFound) {
		return placeDoc{}, ErrPlaceNotFound
	}
	return d, err
}

// Get returns a place; anyone may see it.
func (s *Service) Get(ctx context.Context, id string) (Place, error) {
	d, err := s.load(ctx, id)
	if err != nil {
		return Place{}, err
	}
	return s.view(d), nil
}

// loadKept reads a place p may keep; ErrPlaceNotFound otherwise.
func (s *Service) loadKept(ctx context.Context, p auth.Principal, id string) (placeDoc, error) {
	d, err := s.load(ctx, id)
	if err != nil {
		return placeDoc{}, err
	}
	if err := s.keeper(ctx, p, d.AssociationID); err != nil {
		if fault.KindOf(err) == fault.NotFound {
			return placeDoc{}, ErrPlaceNotFound
		}
		return placeDoc{}, err
	}
	return d, nil
}

// Update changes a place and marks it verified; p must be on its
// association's staff, else ErrPlaceNotFound. via is "" or the suggestion
// it comes from.
func (s *Service) Update(ctx context.Context, p auth.Principal, id string, in Input, via string) (Place, error) {
	d, err := s.loadKept(ctx, p, id)
	if err != nil {
		return Place{}, err
	}
	return s.change(ctx, p, d, in, via, actionUpdated)
}

// Verify records that a volunteer checked the place is still as described.
func (s *Service) Verify(ctx context.Context, p auth.Principal, id string) (Place, error) {
	d, err := s.loadKept(ctx, p, id)
	if err != nil {
		return Place{}, err
	}
	return s.change(ctx, p, d, Input{}, "", actionVerified)
}

// change applies in over d conditionally on d's version; when another
// writer changed the place first, it reads it again and applies in over
// that, so both changes land.
func (s *Service) change(ctx context.Context, p auth.Principal, d placeDoc, in Input, via, action string) (Place, error) {
	c, err := s.commit(ctx, d, in)
	if err != nil {
		return Place{}, err
	}
	if err := s.index(ctx, c.doc, c.oldKind); err != nil {
		return Place{}, err
	}
	s.record(ctx, c.doc.ID.Hex(), c.entry(p.UserID, action, via))
	return s.view(c.doc), nil
}

// committed is a change of a place as stored: the place after it, the kind
// it had before, the fields that changed and when.
type committed struct {
	doc     placeDoc
	oldKind string
	changed []string
	at      time.Time
}

// entry is the history's entry for c: an update that changed nothing is a
// verification.
func (c committed) entry(userID, action, via string) change {
	if action == actionUpdated && len(c.changed) == 0 {
		action = actionVerified
	}
	return change{At: c.at, UserID: userID, Action: action, Fields: c.changed, Via: via}
}

// commit writes in over d conditionally on d's version, re-reading the
// place and applying in again when another writer got there first; the
// search record and the history are the caller's.
func (s *Service) commit(ctx context.Context, d placeDoc, in Input) (committed, error) {
	for try := 0; ; try++ {
		oldKind, version := d.Kind, d.Version
		changed, err := apply(&d, in, false)
		if err != nil {
			return committed{}, err
		}
		now := s.now()
		d.UpdatedAt, d.VerifiedAt, d.Version = now, now, version+1
		set := bson.M{"updated_at": now, "verified_at": now, "version": d.Version}
		for _, name := range changed {
			set[name] = fieldValue(&d, name)
		}
		unset := bson.M{}
		if d.Lat == nil {
			delete(set, "lat")
			delete(set, "lng")
			unset["lat"], unset["lng"] = "", ""
		}
		update := bson.M{"$set": set}
		if len(unset) > 0 {
			update["$unset"] = unset
		}
		res, err := s.places.UpdateOne(ctx, bson.M{"_id": d.ID, "version": version}, update)
		if err != nil {
			return committed{}, err
		}
		if res.MatchedCount == 1 {
			return committed{doc: d, oldKind: oldKind, changed: changed, at: now}, nil
		}
		if try == maxTries {
			return committed{}, ErrPlaceBusy
		}
		if d, err = s.load(ctx, d.ID.Hex()); err != nil {
			return committed{}, err
		}
	}
}

// Delete removes a place (its history stays, for the association).
func (s *Service) Delete(ctx context.Context, p auth.Principal, id string) error {
	d, err := s.loadKept(ctx, p, id)
	if err != nil {
		return err
	}
	n, err := s.places.DeleteOne(ctx, bson.M{"_id": d.ID})
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrPlaceNotFound
	}
	// Later than any version a writer still under way could write.
	if err := s.bury(ctx, d.Kind, d.ID.Hex(), math.MaxInt64); err != nil {
		return err
	}
	s.record(ctx, d.ID.Hex(), change{At: s.now(), UserID: p.UserID, Action: actionDeleted})
	return nil
}
