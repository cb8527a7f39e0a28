// Package keylock serialises work per key (a street's writes) without one
// lock for everything: writes to different keys run side by side.
package keylock

import "sync"

// Map is a set of mutexes, one per key, made on first use and kept (there
// are as many as streets). The zero value is ready to use.
type Map struct {
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

// Lock takes key's mutex and returns the function that releases it.
func (m *Map) Lock(key string) (unlock func()) {
	m.mu.Lock()
	if m.locks == nil {
		m.locks = map[string]*sync.Mutex{}
	}
	l := m.locks[key]
	if l == nil {
		l = &sync.Mutex{}
		m.locks[key] = l
	}
	m.mu.Unlock()
	l.Lock()
	return l.Unlock
}
