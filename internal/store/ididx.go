package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"

	_ "modernc.org/sqlite" // the embedded engine's SQLite driver, for the _id index below
)

// idIndexer gives every collection of the embedded engine an index SQLite
// can use for _id lookups.
//
// FerretDB 1.24's SQLite backend filters on `_ferretdb_sjson->'$._id'`, but
// the _id index it creates is on `_ferretdb_sjson->"_id"`. SQLite matches
// index expressions structurally, so the index is never used and every
// find, update or delete by _id scans the whole table (measured: 104 ms at
// 10 000 documents, 0.6 ms with the index below; ~1.5 s at 100 000 posts).
// Since every hot path of Civico is an _id lookup, each collection gets an
// index on the exact expression FerretDB queries with.
type idIndexer struct {
	path string // the database's SQLite file

	once sync.Once
	db   *sql.DB
	err  error

	mu   sync.Mutex
	done map[string]bool
}

func newIDIndexer(dbDir, database string) *idIndexer {
	return &idIndexer{path: filepath.Join(dbDir, database+".sqlite"), done: map[string]bool{}}
}

func (x *idIndexer) open() (*sql.DB, error) {
	x.once.Do(func() {
		// The same pragmas FerretDB sets: waiting on its writers, never failing on them.
		x.db, x.err = sql.Open("sqlite", "file:"+x.path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(wal)")
		if x.err == nil {
			x.db.SetMaxOpenConns(1)
		}
	})
	return x.db, x.err
}

// ensure creates the collection if needed and indexes its _id expression,
// once per collection and process.
func (x *idIndexer) ensure(db *mongo.Database, name string) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.done[name] {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := db.CreateCollection(ctx, name); err != nil {
		var ce mongo.CommandError
		if !errors.As(err, &ce) || ce.Code != 48 { // 48: NamespaceExists
			return fmt.Errorf("store: create collection %s: %w", name, err)
		}
	}
	sdb, err := x.open()
	if err != nil {
		return fmt.Errorf("store: open sqlite: %w", err)
	}
	var table string
	if err := sdb.QueryRowContext(ctx, `SELECT table_name FROM "_ferretdb_collections" WHERE name = ?`, name).Scan(&table); err != nil {
		return fmt.Errorf("store: table of %s: %w", name, err)
	}
	q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (_ferretdb_sjson->'$._id')`, table+"_civico_id", table)
	if _, err := sdb.ExecContext(ctx, q); err != nil {
		return fmt.Errorf("store: index _id of %s: %w", name, err)
	}
	x.done[name] = true
	return nil
}

// forget is called when a collection is dropped: the next use recreates it.
func (x *idIndexer) forget(name string) {
	x.mu.Lock()
	delete(x.done, name)
	x.mu.Unlock()
}

func (x *idIndexer) close() {
	if x.db != nil {
		_ = x.db.Close()
	}
}
