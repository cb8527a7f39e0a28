package store

import (
	"errors"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// normal puts v through BSON and back, as narrow does with a filter and
// the engine with a document.
func normal(t testing.TB, v any) bson.D {
	t.Helper()
	raw, err := bson.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var d bson.D
	if err := bson.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

type status string

func TestMatchDoc(t *testing.T) {
	at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	oid := bson.NewObjectID()
	doc := bson.M{
		"s":    "pending",
		"n32":  int32(5),
		"n64":  int64(7),
		"f":    2.5,
		"b":    true,
		"null": nil,
		"at":   at,
		"o":    oid,
		"tags": bson.A{"a", "b", int32(3)},
		"nums": bson.A{int32(1), int64(9)},
		"none": bson.A{},
		"sub":  bson.M{"x": int32(1), "deep": bson.M{"y": "z"}},
		"docs": bson.A{bson.M{"k": 1}},
	}
	const (
		yes = iota
		no
		unsupported
	)
	tests := []struct {
		name   string
		filter any
		want   int
	}{
		{"string", bson.M{"s": "pending"}, yes},
		{"named string type", bson.M{"s": status("pending")}, yes},
		{"other string", bson.M{"s": "done"}, no},
		{"int equals int64", bson.M{"n32": int64(5)}, yes},
		{"int equals float", bson.M{"n64": 7.0}, yes},
		{"float", bson.M{"f": 2.5}, yes},
		{"float not int", bson.M{"f": 2}, no},
		{"number never a string", bson.M{"n32": "5"}, no},
		{"bool", bson.M{"b": true}, yes},
		{"bool not 1", bson.M{"b": 1}, no},
		{"time", bson.M{"at": at}, yes},
		{"datetime", bson.M{"at": bson.NewDateTimeFromTime(at)}, yes},
		{"objectid", bson.M{"o": oid}, yes},
		{"other objectid", bson.M{"o": bson.NewObjectID()}, no},
		{"nil matches null", bson.M{"null": nil}, yes},
		{"nil matches missing", bson.M{"gone": nil}, yes},
		{"nil not a value", bson.M{"s": nil}, no},
		{"$exists true on null", bson.M{"null": bson.M{"$exists": true}}, yes},
		{"$exists false", bson.M{"gone": bson.M{"$exists": false}}, yes},
		{"$exists on present", bson.M{"s": bson.M{"$exists": false}}, no},
		{"dotted", bson.M{"sub.x": 1}, yes},
		{"deeper", bson.M{"sub.deep.y": "z"}, yes},
		{"dotted missing", bson.M{"sub.q": nil}, yes},
		{"dotted into scalar", bson.M{"s.x": nil}, yes},
		{"array contains", bson.M{"tags": "b"}, yes},
		{"array contains number", bson.M{"tags": 3.0}, yes},
		{"array lacks", bson.M{"tags": "c"}, no},
		{"$ne on array element", bson.M{"tags": bson.M{"$ne": "a"}}, no},
		{"$ne", bson.M{"s": bson.M{"$ne": "done"}}, yes},
		{"$ne null", bson.M{"gone": bson.M{"$ne": nil}}, no},
		{"$eq", bson.M{"n32": bson.M{"$eq": 5}}, yes},
		{"$gt", bson.M{"n32": bson.M{"$gt": 4}}, yes},
		{"$gt equal", bson.M{"n32": bson.M{"$gt": 5}}, no},
		{"$gte", bson.M{"n32": bson.M{"$gte": 5.0}}, yes},
		{"$lt float", bson.M{"f": bson.M{"$lt": int64(3)}}, yes},
		{"$lte time", bson.M{"at": bson.M{"$lte": at}}, yes},
		{"$lt time", bson.M{"at": bson.M{"$lt": at}}, no},
		{"range and range", bson.M{"n64": bson.M{"$gt": 6, "$lt": 8}}, yes},
		{"range on missing", bson.M{"gone": bson.M{"$gt": 0}}, no},
		{"range on array", bson.M{"nums": bson.M{"$gt": 8}}, yes},
		{"string range", bson.M{"s": bson.M{"$gte": "p"}}, yes},
		{"$in", bson.M{"s": bson.M{"$in": bson.A{"x", "pending"}}}, yes},
		{"$in slice", bson.M{"s": bson.M{"$in": []string{"x", "y"}}}, no},
		{"$in null on missing", bson.M{"gone": bson.M{"$in": bson.A{nil}}}, yes},
		{"$in empty", bson.M{"s": bson.M{"$in": bson.A{}}}, no},
		{"$nin", bson.M{"s": bson.M{"$nin": bson.A{"x"}}}, yes},
		{"$nin array", bson.M{"tags": bson.M{"$nin": bson.A{"a"}}}, no},
		{"$size", bson.M{"tags": bson.M{"$size": 3}}, yes},
		{"$size empty", bson.M{"none": bson.M{"$size": 0}}, yes},
		{"$size wrong", bson.M{"tags": bson.M{"$size": 2}}, no},
		{"$size not array", bson.M{"s": bson.M{"$size": 1}}, no},
		{"$and", bson.M{"$and": bson.A{bson.M{"s": "pending"}, bson.M{"b": true}}}, yes},
		{"$or", bson.M{"$or": bson.A{bson.M{"s": "x"}, bson.M{"b": true}}}, yes},
		{"$or none", bson.M{"$or": bson.A{bson.M{"s": "x"}, bson.M{"b": false}}}, no},
		{"$nor", bson.M{"$nor": bson.A{bson.M{"s": "x"}}}, yes},
		{"all of several", bson.D{{Key: "s", Value: "pending"}, {Key: "n32", Value: 6}}, no},
		{"$regex", bson.M{"s": bson.M{"$regex": "^p"}}, unsupported},
		{"regex value", bson.M{"s": bson.Regex{Pattern: "^p"}}, unsupported},
		{"$elemMatch", bson.M{"docs": bson.M{"$elemMatch": bson.M{"k": 1}}}, unsupported},
		{"$expr", bson.M{"$expr": bson.M{"$eq": bson.A{"$s", "pending"}}}, unsupported},
		{"$not", bson.M{"n32": bson.M{"$not": bson.M{"$gt": 1}}}, unsupported},
		{"document equality", bson.M{"sub": bson.M{"x": 1}}, unsupported},
		{"array equality", bson.M{"tags": bson.A{"a", "b", 3}}, unsupported},
		{"path through array", bson.M{"docs.k": 1}, unsupported},
		{"range across types", bson.M{"s": bson.M{"$gt": 1}}, unsupported},
		{"range on null", bson.M{"null": bson.M{"$gte": nil}}, unsupported},
		{"empty $or", bson.M{"$or": bson.A{}}, unsupported},
		{"unsupported after false", bson.D{{Key: "s", Value: "x"}, {Key: "s", Value: bson.M{"$regex": "x"}}}, unsupported},
		{"unsupported inside $or", bson.M{"$or": bson.A{bson.M{"b": true}, bson.M{"$where": "1"}}}, unsupported},
	}
	d := normal(t, doc)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := matchDoc(d, normal(t, tt.filter))
			got := no
			switch {
			case errors.Is(err, errUnsupported):
				got = unsupported
			case err != nil:
				t.Fatal(err)
			case ok:
				got = yes
			}
			if got != tt.want {
				t.Fatalf("got %d, want %d (0 yes, 1 no, 2 unsupported)", got, tt.want)
			}
		})
	}
}
