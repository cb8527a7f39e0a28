package store

import (
	"context"
	"errors"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// narrowed is a filter `{_id: x, ...conditions}` split for the embedded
// engine, which uses its _id index only for a filter that is exactly
// {_id: x}: the document is read by byID and the conditions are decided in
// Go (match.go). The caller holds the document's lock (locks.go), so what
// was read is what the write then finds by byID.
type narrowed struct {
	byID bson.D
	rest bson.D
}

// narrow splits filter when the embedded engine runs and filter has one
// _id equality on a string or ObjectID (the _id types FerretDB looks up by
// index) and other conditions besides.
func (c *Collection) narrow(filter any) (narrowed, bool) {
	if c.s.embedded == nil {
		return narrowed{}, false
	}
	var entries bson.D
	switch f := filter.(type) {
	case bson.D:
		entries = f
	case bson.M:
		entries = mapEntries(f)
	case map[string]any:
		entries = mapEntries(f)
	default:
		return narrowed{}, false
	}
	var (
		id   any
		ids  int
		rest bson.D
	)
	for _, e := range entries {
		if e.Key == "_id" {
			id = e.Value
			ids++
			continue
		}
		rest = append(rest, e)
	}
	if ids != 1 || len(rest) == 0 {
		return narrowed{}, false
	}
	switch id.(type) {
	case string, bson.ObjectID:
	default:
		return narrowed{}, false
	}
	// Through BSON and back: the conditions then hold the values the
	// engine would see (named string types, time.Time, Go ints, slices).
	raw, err := bson.Marshal(rest)
	if err != nil {
		return narrowed{}, false
	}
	var norm bson.D
	if err := bson.Unmarshal(raw, &norm); err != nil {
		return narrowed{}, false
	}
	return narrowed{byID: bson.D{{Key: "_id", Value: id}}, rest: norm}, true
}

func mapEntries(m map[string]any) bson.D {
	d := make(bson.D, 0, len(m))
	for k, v := range m {
		d = append(d, bson.E{Key: k, Value: v})
	}
	return d
}

// read reads the document by _id and tells whether it satisfies the other
// conditions; raw is nil when there is no such document. errUnsupported
// sends the caller back to the whole filter.
func (n narrowed) read(ctx context.Context, c *mongo.Collection) (raw bson.Raw, ok bool, err error) {
	raw, err = c.FindOne(ctx, n.byID).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	var doc bson.D
	if err := bson.Unmarshal(raw, &doc); err != nil {
		return nil, false, errUnsupported
	}
	ok, err = matchDoc(doc, n.rest)
	return raw, ok, err
}

// upserts tells whether opts ask for an upsert.
func upserts[T any](opts []options.Lister[T], upsert func(*T) *bool) bool {
	var o T
	for _, l := range opts {
		if l == nil {
			continue
		}
		for _, set := range l.List() {
			if set(&o) != nil {
				return true // cannot tell: the caller keeps the whole filter
			}
		}
	}
	u := upsert(&o)
	return u != nil && *u
}

// positional tells whether update may use the positional operator `$`,
// which needs the whole filter: the array element it names is the one the
// filter matched. An update it cannot read (a pipeline) counts as one.
func positional(update any) bool {
	raw, err := bson.Marshal(update)
	if err != nil {
		return true
	}
	elems, err := bson.Raw(raw).Elements()
	if err != nil {
		return true
	}
	for _, op := range elems {
		fields, ok := op.Value().DocumentOK()
		if !ok {
			continue
		}
		fe, err := fields.Elements()
		if err != nil {
			return true
		}
		for _, f := range fe {
			if strings.Contains(f.Key(), "$") {
				return true
			}
		}
	}
	return false
}
