package locator

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"civico/internal/auth"
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

// importCSV is a council's file of n places, a mix of kinds (health and
// social services the most), every column an import takes but id.
func importCSV(n int) []byte {
	kinds := []string{"health", "health", "social_services", "elderly", "culture", "library", "sport", "other"}
	var b bytes.Buffer
	b.WriteString("name,kind,description,address,area,lat,lng,targets,hours,phone,email,languages\n")
	for i := range n {
		fmt.Fprintf(&b, "Luogo %05d,%s,\"Sportello di ascolto, accompagnamento ai servizi, corsi di italiano\",\"Via Ferrarese %d, Bologna\",Bolognina,%.5f,%.5f,everyone|elderly,mon-fri 09:00-12:30/15:00-18:00,051 %06d,luogo%d@esempio.it,it|en\n",
			i, kinds[i%len(kinds)], i, 44.48+float64(i%1000)*0.00005, 11.32+float64(i%997)*0.00006, i, i)
	}
	return b.Bytes()
}

// BenchmarkImportCSV imports a file of 500 and of 5 000 new places into an
// empty database (a fresh one for every import).
func BenchmarkImportCSV(b *testing.B) {
	for _, n := range []int{500, 5000} {
		b.Run(fmt.Sprintf("rows=%d", n), func(b *testing.B) {
			body := importCSV(n)
			c := clock.NewFake(time.Date(2026, 3, 10, 9, 30, 0, 0, time.UTC))
			p := auth.Principal{UserID: "650000000000000000000009"}
			for b.Loop() {
				b.StopTimer()
				st, err := store.Open(context.Background(), store.Config{DataDir: b.TempDir()})
				if err != nil {
					b.Fatal(err)
				}
				svc, err := New(context.Background(), st, anyStaff{}, nil, c, nil, Options{})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				res, err := svc.ImportCSV(context.Background(), p, "650000000000000000000001", body)
				if err != nil {
					b.Fatal(err)
				}
				if res.Created != n {
					b.Fatalf("created %d, want %d", res.Created, n)
				}
				b.StopTimer()
				_ = st.Close(context.Background())
				b.StartTimer()
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
