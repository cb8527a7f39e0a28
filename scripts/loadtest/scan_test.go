package main

// The scanner reads what the server sends, allocation-free: a change of the
// frame layout must not silently zero the latencies.

import (
	"testing"
	"time"
)

func TestScanAndStamp(t *testing.T) {
	for _, at := range []time.Time{time.Date(2026, 12, 2, 10, 4, 5, 123e6, time.UTC), time.Date(2026, 12, 2, 10, 4, 5, 0, time.UTC), time.Date(2026, 1, 2, 3, 4, 5, 100e6, time.UTC)} {
		s := at.Format(time.RFC3339Nano)
		if got := stamp([]byte(s)); !got.Equal(at) {
			t.Errorf("%s: %v", s, got)
		}
	}
	fr := scan([]byte(`{"id":"42","type":"post.created","street_id":"x","at":"2026-12-02T10:04:05.12Z","data":{"title":"lt 1234"}}`))
	if fr.id != 42 || fr.typ != typePost || fr.sent != 1234 || !fr.at.Equal(time.Date(2026, 12, 2, 10, 4, 5, 120e6, time.UTC)) {
		t.Errorf("%+v", fr)
	}
	for _, c := range []struct {
		title      string
		sent, node int64
	}{{"lt 1234 1", 1234, 1}, {"lt 1234 0", 1234, 0}, {"lt 1234", 1234, -1}, {"lt 1234 ", 1234, -1}, {"lt 1234 x", 1234, -1}} {
		fr := scan([]byte(`{"id":"7","type":"post.created","data":{"title":"` + c.title + `"}}`))
		if fr.sent != c.sent || int64(fr.node) != c.node {
			t.Errorf("%q: sent %d node %d, want %d %d", c.title, fr.sent, fr.node, c.sent, c.node)
		}
	}
	if n := testing.AllocsPerRun(100, func() { scan([]byte(`{"id":"42","type":"post.created","at":"2026-12-02T10:04:05.12Z"}`)) }); n > 0 {
		t.Errorf("%v allocs", n)
	}
}
