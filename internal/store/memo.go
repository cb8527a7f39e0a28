package store

import (
	"bytes"
	"context"
	"errors"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// The memory of a solo process.
//
// Every request reads its caller's account (is the token still good?) and,
// on a street's routes, the caller's membership (still a member? banned?).
// On the embedded engine each of those reads costs the cores a street's
// fan-out needs (scripts/loadtest: two of a post's eight commands). A
// process that is alone on its database (MarkSolo: its own NATS, and the
// guard refuses every other process) sees every write to it, so it may
// serve those reads from memory: every write to a remembered collection,
// whatever its filter, forgets the whole collection when it starts, and a
// document read while a write runs, or read before one that ended since, is
// not kept. An access decision is then never taken on a stale copy. With
// several processes nothing is remembered.

// maxMemo bounds what one collection keeps; past it the memory starts over.
const maxMemo = 50_000

// memo is what a solo process remembers of one collection's documents read
// by _id alone. Every Collection of the name shares it (Store.memo), so a
// write through any of them is seen.
type memo struct {
	mu      sync.Mutex
	gen     uint64 // moves when a write starts and when it ends
	writing int
	docs    map[any][]byte // by _id; nil: no such document
}

// memo returns the collection's memory, made on first use.
func (s *Store) memo(name string) *memo {
	s.memosMu.Lock()
	defer s.memosMu.Unlock()
	if s.memos == nil {
		s.memos = map[string]*memo{}
	}
	m := s.memos[name]
	if m == nil {
		m = &memo{}
		s.memos[name] = m
	}
	return m
}

// Remembered returns the named collection with a memory: in a solo
// process, FindOne by an _id alone (no other condition, no options) is
// answered from memory once the document was read.
func (s *Store) Remembered(name string) *Collection {
	c := s.Collection(name)
	c.remember = true
	return c
}

// write marks a write to the collection starting; the returned func marks
// it done. What was remembered is forgotten.
func (m *memo) write() (done func()) {
	m.mu.Lock()
	m.gen++
	m.writing++
	clear(m.docs)
	m.mu.Unlock()
	return func() {
		m.mu.Lock()
		m.gen++
		m.writing--
		m.mu.Unlock()
	}
}

// recall returns the remembered document with _id id (nil raw: remembered
// as absent), or the generation to keep what is read now under (keep).
func (m *memo) recall(id any) (raw []byte, found bool, gen uint64, keep bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	raw, found = m.docs[id]
	return raw, found, m.gen, m.writing == 0
}

// keep remembers raw (nil: absent) as read under gen, unless a write
// started since.
func (m *memo) keep(id any, raw []byte, gen uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.gen != gen || m.writing > 0 {
		return
	}
	if m.docs == nil || len(m.docs) >= maxMemo {
		m.docs = map[any][]byte{}
	}
	m.docs[id] = raw
}

// onlyID returns x when filter is exactly {_id: x} with x a string or an
// ObjectID.
func onlyID(filter any) (any, bool) {
	var id any
	switch f := filter.(type) {
	case bson.M:
		if len(f) != 1 {
			return nil, false
		}
		id = f["_id"]
	case bson.D:
		if len(f) != 1 || f[0].Key != "_id" {
			return nil, false
		}
		id = f[0].Value
	default:
		return nil, false
	}
	switch id.(type) {
	case string, bson.ObjectID:
		return id, true
	}
	return nil, false
}

// findRemembered answers FindOne by _id from memory, reading the database
// on a miss; ok is false when the memory does not apply.
func (c *Collection) findRemembered(ctx context.Context, filter, out any) (ok bool, err error) {
	if !c.remember || !c.s.Solo() {
		return false, nil
	}
	id, ok := onlyID(filter)
	if !ok {
		return false, nil
	}
	raw, found, gen, keep := c.m.recall(id)
	if !found {
		r, err := c.c.FindOne(ctx, filter).Raw()
		switch {
		case errors.Is(err, mongo.ErrNoDocuments):
			raw = nil
		case err != nil:
			return true, wrap(c.name, "find one", err)
		default:
			raw = bytes.Clone(r)
		}
		if keep {
			c.m.keep(id, raw, gen)
		}
	}
	if raw == nil {
		return true, ErrNotFound
	}
	// A copy: out may keep slices of what it decodes.
	return true, wrap(c.name, "decode", bson.Unmarshal(bytes.Clone(raw), out))
}
