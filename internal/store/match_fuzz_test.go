package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// FuzzMatchAgreesWithTheEngine generates documents and filters over the
// matcher's operators from a seed, and checks that wherever the matcher
// answers, it answers what the embedded engine answers for the same filter.
// Values of every kind go in every field, so equality across types and the
// matcher's refusals are exercised too.
func FuzzMatchAgreesWithTheEngine(f *testing.F) {
	for seed := range uint64(4) {
		f.Add(seed)
	}
	ctx := context.Background()
	s, err := Open(ctx, Config{DataDir: f.TempDir()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close(context.Background()) })
	var colls atomic.Int64
	f.Fuzz(func(t *testing.T, seed uint64) {
		g := gen{r: rand.New(rand.NewPCG(seed, 17))}
		c := s.db.Collection(fmt.Sprintf("fuzz%d", colls.Add(1)))
		const ndocs = 30
		docs := make([]any, ndocs)
		norm := make([]bson.D, ndocs)
		for i := range docs {
			d := g.doc(i)
			docs[i] = d
			norm[i] = normal(t, d)
		}
		if _, err := c.InsertMany(ctx, docs); err != nil {
			t.Fatal(err)
		}
		for range 60 {
			filter := g.filter(0)
			cur, err := c.Find(ctx, filter, options.Find().SetProjection(bson.M{"_id": 1}))
			if err != nil {
				t.Fatalf("engine refused %v: %v", filter, err)
			}
			var hits []struct {
				ID int32 `bson:"_id"`
			}
			if err := cur.All(ctx, &hits); err != nil {
				t.Fatal(err)
			}
			engine := make([]bool, ndocs)
			for _, h := range hits {
				engine[h.ID] = true
			}
			nf := normal(t, filter)
			for i, d := range norm {
				ok, err := matchDoc(d, nf)
				if errors.Is(err, errUnsupported) {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if ok != engine[i] {
					t.Fatalf("filter %v on %v: matcher %v, engine %v", nf, d, ok, engine[i])
				}
			}
		}
	})
}

// gen draws documents and filters from a small pool of values, so that
// filters often hit.
type gen struct{ r *rand.Rand }

var (
	fuzzFields = []string{"a", "b", "c", "arr", "sub", "sub.x", "sub.y", "gone"}
	fuzzOIDs   = []bson.ObjectID{{1}, {2}, {3}}
	fuzzTimes  = []time.Time{
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
	}
)

func (g gen) scalar() any {
	switch g.r.IntN(9) {
	case 0:
		return int32(g.r.IntN(5) - 2)
	case 1:
		return int64(g.r.IntN(5) - 2)
	case 2:
		return []float64{-1.5, 0, 1, 2, 2.5}[g.r.IntN(5)]
	case 3:
		return []string{"", "a", "ab", "b", "B"}[g.r.IntN(5)]
	case 4:
		return g.r.IntN(2) == 0
	case 5:
		return nil
	case 6:
		return fuzzTimes[g.r.IntN(len(fuzzTimes))]
	case 7:
		return bson.NewDateTimeFromTime(fuzzTimes[g.r.IntN(len(fuzzTimes))])
	}
	return fuzzOIDs[g.r.IntN(len(fuzzOIDs))]
}

func (g gen) value() any {
	switch g.r.IntN(6) {
	case 0:
		a := bson.A{}
		for range g.r.IntN(4) {
			a = append(a, g.scalar())
		}
		return a
	case 1:
		return bson.D{{Key: "x", Value: g.scalar()}, {Key: "y", Value: g.value()}}
	}
	return g.scalar()
}

func (g gen) doc(id int) bson.D {
	d := bson.D{{Key: "_id", Value: int32(id)}}
	for _, k := range []string{"a", "b", "c", "arr", "sub"} {
		if g.r.IntN(5) > 0 {
			d = append(d, bson.E{Key: k, Value: g.value()})
		}
	}
	return d
}

func (g gen) filter(depth int) bson.D {
	var f bson.D
	for range 1 + g.r.IntN(3) {
		if depth < 2 && g.r.IntN(6) == 0 {
			var clauses bson.A
			for range 1 + g.r.IntN(2) {
				clauses = append(clauses, g.filter(depth+1))
			}
			op := []string{"$and", "$or", "$nor"}[g.r.IntN(3)]
			f = appendNew(f, op, clauses)
			continue
		}
		f = appendNew(f, fuzzFields[g.r.IntN(len(fuzzFields))], g.condition())
	}
	return f
}

// appendNew keeps keys unique: FerretDB drops the connection on a filter
// naming a field twice (the matcher declines those).
func appendNew(f bson.D, key string, v any) bson.D {
	for _, e := range f {
		if e.Key == key {
			return f
		}
	}
	return append(f, bson.E{Key: key, Value: v})
}

func (g gen) condition() any {
	list := func() bson.A {
		a := bson.A{}
		for range g.r.IntN(4) {
			a = append(a, g.scalar())
		}
		return a
	}
	switch g.r.IntN(10) {
	case 0:
		return g.scalar()
	case 1:
		return bson.D{{Key: "$in", Value: list()}}
	case 2:
		return bson.D{{Key: "$nin", Value: list()}}
	case 3:
		return bson.D{{Key: "$exists", Value: g.r.IntN(2) == 0}}
	case 4:
		return bson.D{{Key: "$size", Value: int32(g.r.IntN(4))}}
	case 5:
		return bson.D{
			{Key: "$gte", Value: g.scalar()},
			{Key: "$lt", Value: g.scalar()},
		}
	}
	op := []string{"$eq", "$ne", "$gt", "$gte", "$lt", "$lte"}[g.r.IntN(6)]
	return bson.D{{Key: op, Value: g.scalar()}}
}
