package events

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzWireMessage: any bytes on the wire are refused or read as an event
// of a street, never a panic, and an event read re-encodes to itself.
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
		again, err := json.Marshal(w)
		if err != nil {
			return // a payload that is not JSON cannot be re-encoded: it is only relayed
		}
		w2, err := decodeWire(again)
		if err != nil || !reflect.DeepEqual(w.event().Frame(), w2.event().Frame()) {
			t.Fatalf("%q re-read as %+v (%v), was %+v", again, w2, err, w)
		}
	})
}
