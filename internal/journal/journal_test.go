package journal_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"civico/internal/journal"
	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), store.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close(context.Background()) })
	return st
}

func items(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprint(i))
	}
	return out
}

func TestAppendAndRangeAcrossChunks(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	j := journal.New[string](st, "lists", 4)
	for i := range 10 {
		pos, err := j.Append(ctx, "k", fmt.Sprint(i))
		if err != nil || pos != int64(i) {
			t.Fatalf("append %d: pos %d err %v", i, pos, err)
		}
	}
	if pos, err := j.Append(ctx, "k", items(10, 19)...); err != nil || pos != 10 {
		t.Fatalf("append many: pos %d err %v", pos, err)
	}
	cases := []struct {
		from, to int64
		want     []string
	}{
		{0, 19, items(0, 19)},
		{3, 9, items(3, 9)},
		{15, 100, items(15, 19)},
		{-5, 2, items(0, 2)},
		{7, 7, nil},
		{30, 40, nil},
	}
	check := func(j *journal.Journal[string]) {
		t.Helper()
		if n, err := j.Len(ctx, "k"); err != nil || n != 19 {
			t.Fatalf("len %d err %v", n, err)
		}
		for _, c := range cases {
			got, err := j.Range(ctx, "k", c.from, c.to)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("range %d..%d = %v, want %v", c.from, c.to, got, c.want)
			}
		}
	}
	check(j)
	// A new process reads the same lists from the database.
	check(journal.New[string](st, "lists", 4))
	// Other keys are separate.
	if n, _ := j.Len(ctx, "other"); n != 0 {
		t.Fatalf("other key has %d items", n)
	}
}

// A crash between writing a new chunk and recording the chunk count leaves
// the count behind; the next process finds the chunk anyway.
func TestLoadRepairsLaggingChunkCount(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	j := journal.New[string](st, "lists", 2)
	if _, err := j.Append(ctx, "k", items(0, 5)...); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Collection("lists").UpdateOne(ctx, bson.M{"_id": "k"}, bson.M{"$set": bson.M{"chunks": 1}}); err != nil {
		t.Fatal(err)
	}
	j2 := journal.New[string](st, "lists", 2)
	got, err := j2.All(ctx, "k")
	if err != nil || fmt.Sprint(got) != fmt.Sprint(items(0, 5)) {
		t.Fatalf("all = %v, %v", got, err)
	}
	if pos, err := j2.Append(ctx, "k", "5"); err != nil || pos != 5 {
		t.Fatalf("append after repair: %d %v", pos, err)
	}
}

func TestConcurrentAppendsKeepEveryItem(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	j := journal.New[string](st, "lists", 8)
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := j.Append(ctx, "k", fmt.Sprint(i)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, err := journal.New[string](st, "lists", 8).All(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, s := range got {
		seen[s] = true
	}
	if len(got) != 40 || len(seen) != 40 {
		t.Fatalf("%d items, %d distinct", len(got), len(seen))
	}
}

type entry struct {
	Who string `bson:"who"`
	N   int    `bson:"n"`
}

func TestStructItems(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	j := journal.New[entry](st, "lists", 3)
	for i := range 5 {
		if _, err := j.Append(ctx, "a", entry{Who: "x", N: i}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := journal.New[entry](st, "lists", 3).Range(ctx, "a", 2, 5)
	if err != nil || len(got) != 3 || got[0].N != 2 || got[2].N != 4 {
		t.Fatalf("range = %+v, %v", got, err)
	}
}

// A last chunk that an earlier version grew with $push (no pieces) is
// still read, appended to until full, and followed by chunks in pieces.
func TestLastChunkWrittenWholeIsStillAppendedTo(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	c := st.Collection("lists")
	if _, err := c.InsertOne(ctx, bson.M{"_id": "k#0", "items": items(0, 4)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.InsertOne(ctx, bson.M{"_id": "k#1", "items": items(4, 6)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.InsertOne(ctx, bson.M{"_id": "k", "chunks": 2}); err != nil {
		t.Fatal(err)
	}
	j := journal.New[string](st, "lists", 4)
	if pos, err := j.Append(ctx, "k", items(6, 11)...); err != nil || pos != 6 {
		t.Fatalf("append: %d %v", pos, err)
	}
	for _, jj := range []*journal.Journal[string]{j, journal.New[string](st, "lists", 4)} {
		if got, err := jj.All(ctx, "k"); err != nil || fmt.Sprint(got) != fmt.Sprint(items(0, 11)) {
			t.Fatalf("all = %v, %v", got, err)
		}
	}
}

// Rewrite reaches the items of a last chunk kept in pieces, and a new
// process reads the rewritten items.
func TestRewriteReachesTheLastChunk(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	j := journal.New[entry](st, "lists", 4)
	for i := range 6 { // a full chunk, then two pieces
		if _, err := j.Append(ctx, "a", entry{Who: "anna", N: i}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := j.Rewrite(ctx, "a", func(e *entry) bool {
		if e.Who != "anna" {
			return false
		}
		e.Who = "deleted"
		return true
	})
	if err != nil || n != 6 {
		t.Fatalf("rewrite changed %d, %v", n, err)
	}
	for _, jj := range []*journal.Journal[entry]{j, journal.New[entry](st, "lists", 4)} {
		got, err := jj.All(ctx, "a")
		if err != nil || len(got) != 6 {
			t.Fatalf("all = %+v, %v", got, err)
		}
		for _, e := range got {
			if e.Who != "deleted" {
				t.Fatalf("item not rewritten: %+v", got)
			}
		}
	}
}

// A chunk's copy holds exactly what its pieces hold: when the writer makes
// it from the items it wrote itself, and when a Rewrite changed some of
// them before the chunk was complete.
func TestChunkCopyHoldsWhatThePiecesHold(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	j := journal.New[entry](st, "lists", 4)
	add := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			if _, err := j.Append(ctx, "a", entry{Who: "anna", N: i}); err != nil {
				t.Fatal(err)
			}
		}
	}
	add(0, 2)
	if _, err := j.Rewrite(ctx, "a", func(e *entry) bool { e.Who = "deleted"; return true }); err != nil {
		t.Fatal(err)
	}
	add(2, 8) // completes chunk 0, then writes chunk 1 whole
	c := st.Collection("lists")
	for n, wantDeleted := range []int{2, 0} {
		var doc struct {
			Items []bson.RawValue `bson:"items"`
		}
		if err := c.FindOne(ctx, bson.M{"_id": fmt.Sprintf("a#%d", n)}, &doc); err != nil {
			t.Fatalf("chunk %d has no copy: %v", n, err)
		}
		if len(doc.Items) != 4 {
			t.Fatalf("chunk %d copy holds %d items", n, len(doc.Items))
		}
		deleted := 0
		for i, raw := range doc.Items {
			var p struct {
				Item bson.RawValue `bson:"item"`
			}
			if err := c.FindOne(ctx, bson.M{"_id": fmt.Sprintf("a#%d.%d", n, i)}, &p); err != nil {
				t.Fatal(err)
			}
			if raw.Type != p.Item.Type || string(raw.Value) != string(p.Item.Value) {
				t.Fatalf("chunk %d item %d: copy %v, piece %v", n, i, raw, p.Item)
			}
			var e entry
			if err := raw.Unmarshal(&e); err != nil || e.N != n*4+i {
				t.Fatalf("chunk %d item %d = %+v, %v", n, i, e, err)
			}
			if e.Who == "deleted" {
				deleted++
			}
		}
		if deleted != wantDeleted {
			t.Fatalf("chunk %d: %d rewritten items in the copy, want %d", n, deleted, wantDeleted)
		}
	}
}

// Drop empties a list: its items, chunks and count go, and appends start
// it again from position 0 without a chunk of the old items coming back.
func TestDropEmptiesTheList(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	j := journal.New[string](st, "lists", 4)
	if _, err := j.Append(ctx, "u:1", items(0, 7)...); err != nil { // a chunk copied, 3 pieces kept in memory
		t.Fatal(err)
	}
	if _, err := j.Append(ctx, "u:10", "other"); err != nil { // a key that shares the prefix
		t.Fatal(err)
	}
	if err := j.Drop(ctx, "u:1"); err != nil {
		t.Fatal(err)
	}
	if pos, err := j.Append(ctx, "u:1", "a"); err != nil || pos != 0 {
		t.Fatalf("append after drop: pos %d, %v", pos, err)
	}
	if _, err := j.Append(ctx, "u:1", "b", "c", "d"); err != nil { // fills chunk 0 again
		t.Fatal(err)
	}
	for _, jj := range []*journal.Journal[string]{j, journal.New[string](st, "lists", 4)} {
		if got, err := jj.All(ctx, "u:1"); err != nil || fmt.Sprint(got) != "[a b c d]" {
			t.Fatalf("after drop: %v, %v", got, err)
		}
		if got, err := jj.All(ctx, "u:10"); err != nil || fmt.Sprint(got) != "[other]" {
			t.Fatalf("the other key: %v, %v", got, err)
		}
	}
}

// Items too large for the journal's memory are copied into their chunk
// from the pieces, as written.
func TestLargeItemsAreCopiedFromThePieces(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	j := journal.New[string](st, "lists", 4)
	big := make([]string, 8)
	for i := range big {
		big[i] = strings.Repeat(string(rune('a'+i)), 400<<10)
	}
	for _, it := range big {
		if _, err := j.Append(ctx, "k", it); err != nil {
			t.Fatal(err)
		}
	}
	for n := range 2 {
		var doc struct {
			Items []string `bson:"items"`
		}
		if err := st.Collection("lists").FindOne(ctx, bson.M{"_id": fmt.Sprintf("k#%d", n)}, &doc); err != nil {
			t.Fatalf("chunk %d has no copy: %v", n, err)
		}
		if !slices.Equal(doc.Items, big[n*4:n*4+4]) {
			t.Fatalf("chunk %d copy differs from what was written", n)
		}
	}
}
