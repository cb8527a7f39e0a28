package store_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"civico/internal/store"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// A backup taken while a writer goes on writing holds every document
// acknowledged before it began, and restores into a working database.
func TestBackupWhileWritingRestores(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openEmbedded(t, dir)
	defer s.Close(ctx)
	c := s.Collection("notes")

	var mu sync.Mutex
	var acked []int
	stop := make(chan struct{})
	enough := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			if _, err := c.InsertOne(ctx, bson.M{"_id": i, "body": strings.Repeat("x", 200)}); err != nil {
				done <- err
				return
			}
			mu.Lock()
			acked = append(acked, i)
			if len(acked) == 200 {
				close(enough)
			}
			mu.Unlock()
		}
	}()
	<-enough
	mu.Lock()
	before := slices.Clone(acked)
	mu.Unlock()
	out := filepath.Join(t.TempDir(), "backups")
	info, m, err := s.Backup(ctx, out)
	mu.Lock()
	during := len(acked) - len(before)
	mu.Unlock()
	close(stop)
	if werr := <-done; werr != nil {
		t.Fatal(werr)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("backup %s: %d files, %d inserts acknowledged while it ran", filepath.Base(info.Path), len(m.Files), during)
	if len(m.Files) != 1 || m.Files[0].Name != "civico.sqlite" {
		t.Fatalf("manifest files %+v", m.Files)
	}

	fresh := filepath.Join(t.TempDir(), "data")
	aside, err := store.Restore(ctx, fresh, info.Path)
	if err != nil || aside != "" {
		t.Fatalf("restore into a new directory: %q %v", aside, err)
	}
	r := openEmbedded(t, fresh)
	defer r.Close(ctx)
	rc := r.Collection("notes")
	for _, i := range before {
		var got bson.M
		if err := rc.FindOne(ctx, bson.M{"_id": i}, &got); err != nil {
			t.Fatalf("document %d acknowledged before the backup: %v", i, err)
		}
	}
	if _, err := rc.InsertOne(ctx, bson.M{"_id": -1}); err != nil {
		t.Fatalf("restored database does not take writes: %v", err)
	}
}

// Prune keeps the newest N complete backups, deletes the older ones, and
// clears what a crashed backup left a day ago (not one in progress).
func TestPruneKeepsNewest(t *testing.T) {
	ctx := context.Background()
	s := openEmbedded(t, t.TempDir())
	defer s.Close(ctx)
	if _, err := s.Collection("notes").InsertOne(ctx, bson.M{"n": 1}); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	var made []string
	for range 5 {
		info, _, err := s.Backup(ctx, out)
		if err != nil {
			t.Fatal(err)
		}
		made = append(made, info.Path)
	}
	if !slices.IsSorted(made) || len(slices.Compact(slices.Clone(made))) != 5 {
		t.Fatalf("backups not named in order, or sharing a name: %v", made)
	}
	stale, fresh := filepath.Join(out, ".partial-stale"), filepath.Join(out, ".partial-now")
	for _, p := range []string{stale, fresh} {
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	// Not ours: left alone.
	if err := os.Mkdir(filepath.Join(out, "civico-keepme"), 0o700); err != nil {
		t.Fatal(err)
	}

	removed, err := store.Prune(out, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(removed, made[:3]) {
		t.Fatalf("removed %v, want the oldest three %v", removed, made[:3])
	}
	list, err := store.Backups(out)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, b := range list {
		left = append(left, b.Path)
	}
	if !slices.Equal(left, made[3:]) {
		t.Fatalf("kept %v, want the newest two %v", left, made[3:])
	}
	for p, want := range map[string]bool{stale: false, fresh: true, filepath.Join(out, "civico-keepme"): true} {
		if _, err := os.Stat(p); (err == nil) != want {
			t.Errorf("%s: exists=%v, want %v", filepath.Base(p), err == nil, want)
		}
	}
	if _, err := store.VerifyBackup(ctx, made[4]); err != nil {
		t.Fatalf("kept backup does not verify: %v", err)
	}
}

// A restore is refused while a server holds the data directory, and then
// leaves the database untouched; once it is stopped the restore moves the
// old database aside and puts the backup in place.
func TestRestoreRefusedWhileServerRuns(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openEmbedded(t, dir)
	c := s.Collection("notes")
	if _, err := c.InsertOne(ctx, bson.M{"_id": "in-backup"}); err != nil {
		t.Fatal(err)
	}
	info, _, err := s.Backup(ctx, filepath.Join(dir, "backups"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.InsertOne(ctx, bson.M{"_id": "after-backup"}); err != nil {
		t.Fatal(err)
	}
	listing := func() []string {
		ents, _ := os.ReadDir(dir)
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		return names
	}
	beforeRestore := listing()

	_, err = store.Restore(ctx, dir, info.Path)
	if !errors.Is(err, store.ErrDataDirInUse) {
		t.Fatalf("restore over a running server: %v, want ErrDataDirInUse", err)
	}
	if got := listing(); !slices.Equal(got, beforeRestore) {
		t.Fatalf("a refused restore changed the data directory: %v -> %v", beforeRestore, got)
	}
	if err := c.FindOne(ctx, bson.M{"_id": "after-backup"}, &bson.M{}); err != nil {
		t.Fatalf("running database after a refused restore: %v", err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}

	aside, err := store.Restore(ctx, dir, info.Path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(filepath.Base(aside), "db.before-restore-") {
		t.Fatalf("old database moved to %q", aside)
	}
	if _, err := os.Stat(filepath.Join(aside, "civico.sqlite")); err != nil {
		t.Fatalf("old database not kept aside: %v", err)
	}
	r := openEmbedded(t, dir)
	defer r.Close(ctx)
	rc := r.Collection("notes")
	if err := rc.FindOne(ctx, bson.M{"_id": "in-backup"}, &bson.M{}); err != nil {
		t.Fatalf("restored document: %v", err)
	}
	if err := rc.FindOne(ctx, bson.M{"_id": "after-backup"}, &bson.M{}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a document written after the backup: %v, want not found", err)
	}
}

// A backup whose files do not match their manifest, or one that never
// finished, is not restored; the data directory stays as it was.
func TestRestoreRefusesDamagedBackup(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openEmbedded(t, dir)
	if _, err := s.Collection("notes").InsertOne(ctx, bson.M{"n": 1}); err != nil {
		t.Fatal(err)
	}
	info, _, err := s.Backup(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(info.Path, "db", "civico.sqlite"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.Write([]byte("rot"))
	f.Close()
	if _, err := store.Restore(ctx, dir, info.Path); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("damaged backup: %v", err)
	}
	if err := os.Remove(filepath.Join(info.Path, "MANIFEST.json")); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Restore(ctx, dir, info.Path); err == nil || !strings.Contains(err.Error(), "not a complete backup") {
		t.Fatalf("unfinished backup: %v", err)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "db.") || strings.HasPrefix(e.Name(), ".restore-") {
			t.Fatalf("a refused restore left %s", e.Name())
		}
	}
}
