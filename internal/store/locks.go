package store

import (
	"fmt"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// lockTable serialises writes on the embedded engine. A write whose filter
// names one _id takes that document's lock under the collection's shared
// lock; any other write may touch any document, so it takes the collection's
// lock exclusively.
type lockTable struct {
	mu    sync.Mutex
	colls map[string]*collLock
}

type collLock struct {
	rw   sync.RWMutex
	mu   sync.Mutex
	docs map[string]*docLock
}

type docLock struct {
	mu   sync.Mutex
	refs int
}

func newLockTable() *lockTable { return &lockTable{colls: map[string]*collLock{}} }

func (t *lockTable) coll(name string) *collLock {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.colls[name]
	if c == nil {
		c = &collLock{docs: map[string]*docLock{}}
		t.colls[name] = c
	}
	return c
}

// lock takes the lock fitting filter and returns its release.
func (t *lockTable) lock(collection string, filter any) func() {
	if t == nil {
		return func() {}
	}
	c := t.coll(collection)
	id, ok := idEquality(filter)
	if !ok {
		c.rw.Lock()
		return c.rw.Unlock
	}
	c.rw.RLock()
	c.mu.Lock()
	d := c.docs[id]
	if d == nil {
		d = &docLock{}
		c.docs[id] = d
	}
	d.refs++
	c.mu.Unlock()
	d.mu.Lock()
	return func() {
		d.mu.Unlock()
		c.mu.Lock()
		d.refs--
		if d.refs == 0 {
			delete(c.docs, id)
		}
		c.mu.Unlock()
		c.rw.RUnlock()
	}
}

// idEquality finds a plain `_id: value` in a filter.
func idEquality(filter any) (string, bool) {
	var v any
	found := false
	switch f := filter.(type) {
	case bson.D:
		for _, e := range f {
			if e.Key == "_id" {
				v, found = e.Value, true
			}
		}
	case bson.M:
		v, found = f["_id"]
	case map[string]any:
		v, found = f["_id"]
	}
	if !found {
		return "", false
	}
	switch id := v.(type) {
	case bson.ObjectID:
		return id.Hex(), true
	case string:
		return "s:" + id, true
	case int, int32, int64:
		return fmt.Sprintf("i:%d", id), true
	}
	return "", false
}
