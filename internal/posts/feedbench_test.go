package posts

// BenchmarkFeedFirstPage measures what issue 3 asks of the feed: the cost of
// a street's first feed page must not grow with the database. For each size
// it loads that many posts over -feedbench.streets streets into a fresh
// embedded database, then times the first page (limit 20) of one street
// through the real service path (Service.Feed: membership check, cursor,
// window, pinned posts, views):
//
//   - warm: the street's window is in memory (every read after the first);
//   - cold: a new posts service for every sample, as after a restart, so the
//     window, the journal's head and the posts are read from the database
//     (the streets service, which never grows with posts, stays loaded);
//   - naive: for comparison, the query a plain design would run (posts of
//     the street, newest first, limit 20) straight on the collection;
//
// The cold path depends on the store's index on FerretDB's _id expression
// (internal/store/ididx.go): without it every _id lookup scans the table
// and cold reads grow with the database (measured: ratio 690 at 100 000).
//
// Slow phases stop after -feedbench.budget (with at least 5 samples).
//
// The measured street holds the same -feedbench.street posts at every size,
// so that only the database around it grows; the other posts go round-robin
// to the other streets. Loading writes posts and the street journals in bulk
// through the store (no events, no rate limits); it is not timed.
//
//	go test ./internal/posts -run '^$' -bench FeedFirstPage -benchtime 1x -timeout 30m
//
// The table is printed to stdout; the machine's cores may be shared, which
// shows in the p99.

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"civico/internal/auth"
	"civico/internal/clock"
	"civico/internal/events"
	"civico/internal/store"
	"civico/internal/streets"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

var (
	benchSizes   = flag.String("feedbench.sizes", "100,100000", "database sizes in posts, comma separated; the first is the base of the ratios")
	benchStreets = flag.Int("feedbench.streets", 200, "streets the posts are spread over")
	benchStreet  = flag.Int("feedbench.street", 50, "posts of the measured street, at every size")
	benchWarm    = flag.Int("feedbench.warm", 3000, "warm samples")
	benchCold    = flag.Int("feedbench.cold", 300, "cold samples (a new service each)")
	benchNaive   = flag.Int("feedbench.naive", 15, "samples of the naive query")
	benchBudget  = flag.Duration("feedbench.budget", time.Minute, "time after which a slow phase stops (at least 5 samples)")
)

type benchResult struct {
	size               int
	warm, cold, naive  []time.Duration
	typical            int // posts of a typical other street
	typWarm, typCold   []time.Duration
	loadTime           time.Duration
	items, streetPosts int
}

func BenchmarkFeedFirstPage(b *testing.B) {
	var sizes []int
	for _, f := range strings.Split(*benchSizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < *benchStreet {
			b.Fatalf("bad size %q (at least -feedbench.street)", f)
		}
		sizes = append(sizes, n)
	}
	var results []benchResult
	for range b.N {
		results = results[:0]
		for _, n := range sizes {
			results = append(results, runFeedBench(b, n))
		}
	}
	w := os.Stdout
	fmt.Fprintf(w, "\nfeed first page (limit 20) of one street through Service.Feed, embedded FerretDB (SQLite)\n")
	fmt.Fprintf(w, "GOMAXPROCS=%d, NumCPU=%d, %s; the cores are shared with other jobs, which shows in p99\n",
		runtime.GOMAXPROCS(0), runtime.NumCPU(), runtime.Version())
	fmt.Fprintf(w, "%-8s %-8s %-12s %-8s %8s %12s %12s\n", "posts", "streets", "street posts", "path", "samples", "median", "p99")
	for _, r := range results {
		rows := []struct {
			path string
			n    int
			d    []time.Duration
		}{{"warm", r.streetPosts, r.warm}, {"cold", r.streetPosts, r.cold}, {"naive", r.streetPosts, r.naive},
			{"warm", r.typical, r.typWarm}, {"cold", r.typical, r.typCold}}
		for i, row := range rows {
			if len(row.d) == 0 {
				continue
			}
			label := "measured"
			if i >= 3 {
				label = "typical"
			}
			fmt.Fprintf(w, "%-8d %-8d %-12s %-8s %8d %12s %12s\n", r.size, *benchStreets, fmt.Sprintf("%d %s", row.n, label), row.path,
				len(row.d), quantile(row.d, 0.5), quantile(row.d, 0.99))
		}
		fmt.Fprintf(w, "%-8d loaded in %s; first page held %d items\n", r.size, r.loadTime.Round(time.Millisecond), r.items)
	}
	base := results[0]
	for _, r := range results[1:] {
		for _, c := range []struct {
			path string
			a, b []time.Duration
		}{{"warm", base.warm, r.warm}, {"cold", base.cold, r.cold}, {"naive", base.naive, r.naive}} {
			if len(c.a) == 0 || len(c.b) == 0 {
				continue
			}
			fmt.Fprintf(w, "ratio %d/%d %-8s median %.2f  p99 %.2f\n", r.size, base.size, c.path,
				ratio(quantile(c.b, 0.5), quantile(c.a, 0.5)), ratio(quantile(c.b, 0.99), quantile(c.a, 0.99)))
		}
	}
}

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }

func quantile(d []time.Duration, q float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(float64(len(s)-1) * q)
	return s[i]
}

// runFeedBench loads size posts into a new database and times first pages.
func runFeedBench(b *testing.B, size int) benchResult {
	b.Helper()
	ctx := context.Background()
	dir := b.TempDir()
	st, err := store.Open(ctx, store.Config{DataDir: dir, OpTimeout: 5 * time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close(context.Background())
	if err := st.EnsureIndexes(ctx, append(append(events.Indexes(), auth.Indexes()...), Indexes()...)...); err != nil {
		b.Fatal(err)
	}
	c := clock.NewFake(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	bus := events.New(st, c, nil, events.Options{})
	users, err := auth.New(ctx, st, c, nil, auth.Options{RegisterPerIP: 1000})
	if err != nil {
		b.Fatal(err)
	}
	sts, err := streets.New(ctx, st, bus, c, users, nil, streets.Options{CreatePerDay: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	register := func(name string) auth.Principal {
		s, err := users.Register(ctx, auth.Registration{Email: strings.ToLower(name) + "@example.org", Password: "correct horse battery", Name: name}, "127.0.0.1")
		if err != nil {
			b.Fatal(err)
		}
		return auth.Principal{UserID: s.Account.ID}
	}
	admin, reader := register("Anna"), register("Bruno")
	ids := make([]string, *benchStreets)
	for i := range ids {
		s, err := sts.Create(ctx, admin, streets.NewStreet{Name: fmt.Sprintf("Via %03d", i), City: "Bologna"})
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = s.ID
	}
	target, typical := ids[0], ids[1]
	for _, sid := range []string{target, typical} {
		inv, err := sts.CreateInvite(ctx, admin, sid, streets.InviteOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := sts.Join(ctx, reader, sid, streets.JoinRequest{InviteCode: inv.Code}); err != nil {
			b.Fatal(err)
		}
	}

	loader, err := New(ctx, st, bus, c, sts, nil, Options{})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	counts := bulkLoad(b, ctx, loader, ids, size, admin.UserID)
	res := benchResult{size: size, loadTime: time.Since(start), streetPosts: counts[target], typical: counts[typical]}

	page := func(svc *Service, sid string) time.Duration {
		t0 := time.Now()
		items, next, err := svc.Feed(ctx, reader, sid, Query{Limit: 20})
		d := time.Since(t0)
		if err != nil {
			b.Fatal(err)
		}
		if want := min(20, counts[sid]); len(items) != want || (counts[sid] > 20 && next == "") {
			b.Fatalf("first page of %d posts: %d items, next %q", counts[sid], len(items), next)
		}
		if sid == target {
			res.items = len(items)
		}
		return d
	}
	fresh := func() *Service {
		svc, err := New(ctx, st, bus, c, sts, nil, Options{})
		if err != nil {
			b.Fatal(err)
		}
		return svc
	}
	for _, m := range []struct {
		sid        string
		warm, cold *[]time.Duration
	}{{target, &res.warm, &res.cold}, {typical, &res.typWarm, &res.typCold}} {
		*m.cold = sample(*benchCold, func() time.Duration { return page(fresh(), m.sid) })
		svc := fresh()
		page(svc, m.sid) // loads the window
		*m.warm = sample(*benchWarm, func() time.Duration { return page(svc, m.sid) })
	}
	res.naive = sample(*benchNaive, func() time.Duration {
		t0 := time.Now()
		var docs []postDoc
		err := loader.posts.FindAll(ctx, bson.M{"street_id": target}, &docs,
			options.Find().SetSort(bson.D{{Key: "created_at", Value: -1}}).SetLimit(20))
		d := time.Since(t0)
		if err != nil || len(docs) != min(20, counts[target]) {
			b.Fatalf("naive query: %d docs, %v", len(docs), err)
		}
		return d
	})
	return res
}

// sample runs fn n times, or fewer (at least 5) once -feedbench.budget is spent.
func sample(n int, fn func() time.Duration) []time.Duration {
	runtime.GC()
	out := make([]time.Duration, 0, n)
	start := time.Now()
	for i := range n {
		if i >= 5 && time.Since(start) > *benchBudget {
			break
		}
		out = append(out, fn())
	}
	return out
}

// bulkLoad writes size posts: *benchStreet of them to ids[0], spread evenly
// over time, the rest round-robin over the other streets. Each street's
// journal gets its ids in one append; posts go in batches of 1000.
func bulkLoad(b testing.TB, ctx context.Context, s *Service, ids []string, size int, author string) map[string]int {
	b.Helper()
	kinds := []string{KindRequest, KindOffer}
	byStreet := map[string][]string{}
	batch := make([]any, 0, 1000)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if err := s.posts.InsertMany(ctx, batch); err != nil {
			b.Fatal(err)
		}
		batch = batch[:0]
	}
	t0 := s.clock.Now().Add(-20 * 24 * time.Hour)
	every := size / *benchStreet
	other := 0
	for i := range size {
		sid := ""
		if i%every == 0 && len(byStreet[ids[0]]) < *benchStreet {
			sid = ids[0]
		} else {
			sid = ids[1+other%(len(ids)-1)]
			other++
		}
		at := t0.Add(time.Duration(i) * time.Second)
		id := bson.NewObjectID()
		d := &postDoc{ID: id, StreetID: sid, Pos: int64(len(byStreet[sid])), Kind: kinds[i%2], Category: Categories[i%len(Categories)],
			Title: fmt.Sprintf("Post %d", i), Body: strings.Repeat("Cerco qualcuno che mi aiuti. ", 6), Status: StatusOpen,
			AuthorID: author, AuthorName: "Anna", ReplyIDs: []string{}, CreatedAt: at, UpdatedAt: at, ExpiresAt: at.Add(ExpiresAfter)}
		byStreet[sid] = append(byStreet[sid], id.Hex())
		batch = append(batch, d)
		if len(batch) == cap(batch) {
			flush()
		}
	}
	flush()
	counts := map[string]int{}
	for sid, list := range byStreet {
		if _, err := s.feedJ.Append(ctx, feedKey(sid), list...); err != nil {
			b.Fatal(err)
		}
		counts[sid] = len(list)
	}
	return counts
}
