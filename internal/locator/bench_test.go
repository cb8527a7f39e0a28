package locator

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"civico/internal/clock"
	"civico/internal/hours"
	"civico/internal/portineria"
	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
)

type anyStaff struct{}

func (anyStaff) RoleOf(context.Context, string, string) (portineria.Role, error) {
	return portineria.Volunteer, nil
}

func (anyStaff) Lookup(context.Context, string) (portineria.Association, error) {
	return portineria.Association{TimeZone: DefaultTimeZone}, nil
}

// seed stores n places spread over the kinds, within about 3 km of a
// point in Bologna, written as Create writes them (place documents and
// search records) but in bulk.
func seed(b *testing.B, svc *Service, n int) {
	b.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	now := svc.now()
	shards := map[string]map[string]stored{}
	var docs []any
	for i := range n {
		var w hours.Week
		for d := range 5 {
			w.Days[d] = []hours.Interval{{Open: "09:00", Close: "12:30"}, {Open: "15:00", Close: "18:00"}}
		}
		if i%3 == 0 {
			w.Days[5] = []hours.Interval{{Open: "20:00", Close: "01:00"}}
		}
		lat, lng := 44.5075+(rng.Float64()-0.5)*0.054, 11.3514+(rng.Float64()-0.5)*0.076
		d := placeDoc{ID: bson.NewObjectID(), AssociationID: "650000000000000000000001", Name: fmt.Sprintf("Luogo %05d", i),
			Kind: Kinds[i%len(Kinds)], Description: "Sportello di ascolto, accompagnamento ai servizi, corsi di italiano per stranieri",
			Address: fmt.Sprintf("Via Ferrarese %d, Bologna", i), Area: "Bolognina", Lat: &lat, Lng: &lng,
			Targets: []string{"everyone"}, Hours: storedWeek(w), TimeZone: DefaultTimeZone, Languages: []string{"it"},
			VerifiedAt: now, CreatedAt: now, UpdatedAt: now, Version: 1}
		docs = append(docs, d)
		sh := svc.shardID(d.Kind, d.ID.Hex())
		if shards[sh] == nil {
			shards[sh] = map[string]stored{}
		}
		sr, err := pack(recordOf(d))
		if err != nil {
			b.Fatal(err)
		}
		shards[sh][d.ID.Hex()] = sr
	}
	for i := 0; i < len(docs); i += 500 {
		if err := svc.places.InsertMany(ctx, docs[i:min(i+500, len(docs))]); err != nil {
			b.Fatal(err)
		}
	}
	for id, recs := range shards {
		if _, err := svc.search.InsertOne(ctx, shardDoc{ID: id, Records: recs}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSearch is a filtered search (kind, open now, within 1 km) over
// 50 and 5 000 places: compare the two.
func BenchmarkSearch(b *testing.B) {
	for _, n := range []int{50, 5000} {
		b.Run(fmt.Sprintf("places=%d", n), func(b *testing.B) {
			// testutil would import app, which imports this package.
			st, err := store.Open(context.Background(), store.Config{DataDir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = st.Close(context.Background()) })
			// Tuesday 10:30 in Rome.
			c := clock.NewFake(time.Date(2026, 3, 10, 9, 30, 0, 0, time.UTC))
			svc, err := New(context.Background(), st, anyStaff{}, nil, c, nil, Options{})
			if err != nil {
				b.Fatal(err)
			}
			seed(b, svc, n)
			sp := SearchParams{Kind: "health", OpenNow: "1", Near: "44.5075,11.3514", RadiusM: "1000"}
			found := 0
			b.ResetTimer()
			for b.Loop() {
				items, _, err := svc.Search(context.Background(), sp)
				if err != nil {
					b.Fatal(err)
				}
				found = len(items)
			}
			b.ReportMetric(float64(found), "results")
		})
	}
}
