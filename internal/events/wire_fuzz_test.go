package events

import "testing"

// FuzzWireMessage: any bytes on the wire are refused or read as an event
// of a street with a number, never a panic. (No re-encoding check: a
// payload is relayed as is, and encoding/json escapes it differently.)
func FuzzWireMessage(f *testing.F) {
	f.Add([]byte(`{"o":"a","s":"street1","q":7,"t":"post.created","at":"2026-12-01T10:00:00Z","p":{"id":"p1"}}`))
	f.Add([]byte(`{"s":"a.b","q":1,"t":"x"}`))
	f.Add([]byte(`{"s":"s","q":-1,"t":"x"}`))
	f.Add([]byte(`{"s":"s","q":1,"t":"member.banned","c":"civico.confirm.x","p":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := decodeWire(data)
		if err != nil {
			return
		}
		if !validToken(w.StreetID) || w.Seq <= 0 {
			t.Fatalf("accepted %q as %+v", data, w)
		}
	})
}
