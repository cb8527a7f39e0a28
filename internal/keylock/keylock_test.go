package keylock_test

import (
	"sync"
	"testing"

	"civico/internal/keylock"
)

// Increments under one key never interleave; another key is not held up by
// a key that stays locked.
func TestLockSerialisesPerKey(t *testing.T) {
	var m keylock.Map
	n := 0
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock := m.Lock("a")
			v := n
			n = v + 1
			unlock()
		}()
	}
	wg.Wait()
	if n != 50 {
		t.Fatalf("n = %d, want 50", n)
	}
	unlockA := m.Lock("a")
	defer unlockA()
	done := make(chan struct{})
	go func() { m.Lock("b")(); close(done) }()
	<-done
}
