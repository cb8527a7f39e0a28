package push

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestQuietUntil(t *testing.T) {
	rome, _ := time.LoadLocation("Europe/Rome")
	at := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, rome) }
	overnight := &quietDoc{Start: 22 * 60, End: 7 * 60}
	afternoon := &quietDoc{Start: 13 * 60, End: 15*60 + 30}
	cases := []struct {
		name string
		now  time.Time
		q    *quietDoc
		want time.Time
	}{
		{"none", at(2026, 5, 1, 23, 0), nil, at(2026, 5, 1, 23, 0)},
		{"before the night", at(2026, 5, 1, 21, 59), overnight, at(2026, 5, 1, 21, 59)},
		{"evening", at(2026, 5, 1, 22, 0), overnight, at(2026, 5, 2, 7, 0)},
		{"after midnight", at(2026, 5, 2, 3, 10), overnight, at(2026, 5, 2, 7, 0)},
		{"end is free", at(2026, 5, 2, 7, 0), overnight, at(2026, 5, 2, 7, 0)},
		{"nap", at(2026, 5, 1, 14, 0), afternoon, at(2026, 5, 1, 15, 30)},
		{"after the nap", at(2026, 5, 1, 16, 0), afternoon, at(2026, 5, 1, 16, 0)},
		// The night clocks go back (25 October 2026): still 07:00 local.
		{"dst end", at(2026, 10, 24, 23, 0), overnight, at(2026, 10, 25, 7, 0)},
		{"dst start", at(2026, 3, 28, 23, 0), overnight, at(2026, 3, 29, 7, 0)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := quietUntil(c.now.UTC(), rome, c.q); !got.Equal(c.want) {
				t.Fatalf("got %s, want %s", got.In(rome), c.want)
			}
		})
	}
}

// Whatever users write, the payload stays under 3 KB and the encrypted
// body under the 3 070 bytes Firefox on Android accepts.
func TestPayloadIsBounded(t *testing.T) {
	for _, text := range []string{"", "ciao", strings.Repeat("\"\\", 3000), strings.Repeat("𝄞", 5000), strings.Repeat("\x01", 5000)} {
		p := Payload{Title: text, Body: text, URL: "/posts/64b7f0c2a1b2c3d4e5f60718", Tag: "post-64b7f0c2a1b2c3d4e5f60718"}
		b := p.encode()
		if len(b) > maxPayload || len(b) > 3*1024 {
			t.Fatalf("payload of %d bytes", len(b))
		}
		var back Payload
		if err := json.Unmarshal(b, &back); err != nil || back.URL != p.URL {
			t.Fatalf("not JSON: %v", err)
		}
		rs := int(recordSize(len(b)))
		if rs >= 3070 || len(b)+recordOverhead > rs {
			t.Fatalf("record size %d for %d bytes", rs, len(b))
		}
	}
}
