package push

import (
	"math/big"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// Two parsers of push's outside data: the Retry-After header of a push
// service's answer, and the quiet hours a user sets ("HH:MM"). Whatever
// the text, nothing panics and:
//   - Retry-After is never a negative wait; seconds are taken as they are
//     up to a day; an HTTP date is the time until it (0 once past); the
//     header the server would write for k seconds, or for a date k seconds
//     ahead, reads back as k seconds; anything else is 0 (no advice);
//   - a clock time is refused, or is minutes within a day that clockString
//     writes back in a form parseClock reads as the same minutes; every
//     canonical "HH:MM" is accepted with its value, and an accepted one
//     has the value of its two numbers (hours < 24, minutes < 60).
func FuzzPushInput(f *testing.F) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for _, s := range [][2]string{
		{"120", "22:00"}, {"0", "07:30"}, {"-5", "00:00"}, {"86401", "23:59"}, {"99999999999999999999", "24:00"},
		{now.Add(90 * time.Second).Format(http.TimeFormat), "12:60"}, {now.Add(-time.Hour).Format(http.TimeFormat), "7:30"},
		{"Sun, 06 Nov 1994 08:49:37 GMT", "07:3"}, {"Sunday, 06-Nov-94 08:49:37 GMT", "+1:05"},
		{"Sun Nov  6 08:49:37 1994", "-0:00"}, {"Fri, 31 Dec 9999 23:59:59 GMT", "0x:10"}, {"", ""}, {" 5", "٠٧:٣٠"},
		{"1.5", "07:30 "}, {"+5", "07-30"},
	} {
		f.Add(s[0], s[1], int64(60))
	}
	f.Fuzz(func(t *testing.T, retry, clock string, k int64) {
		d := parseRetryAfter(retry, now)
		if d < 0 {
			t.Fatalf("Retry-After %q: %v", retry, d)
		}
		if n, err := strconv.Atoi(retry); err == nil {
			if want := time.Duration(min(max(n, 0), 24*3600)) * time.Second; d != want {
				t.Fatalf("Retry-After %q: %v, want %v", retry, d, want)
			}
		} else if at, err := http.ParseTime(retry); err == nil {
			if want := max(at.Sub(now), 0); d != want {
				t.Fatalf("Retry-After %q: %v, want %v", retry, d, want)
			}
		} else if d != 0 {
			t.Fatalf("Retry-After %q is neither seconds nor a date, yet waits %v", retry, d)
		}
		if k >= 0 {
			if got, want := parseRetryAfter(strconv.FormatInt(k, 10), now), time.Duration(min(k, 24*3600))*time.Second; got != want {
				t.Fatalf("Retry-After %d: %v, want %v", k, got, want)
			}
			if k <= 365*24*3600 {
				at := now.Add(time.Duration(k) * time.Second).Format(http.TimeFormat)
				if got := parseRetryAfter(at, now); got != time.Duration(k)*time.Second {
					t.Fatalf("Retry-After %q (%d s ahead): %v", at, k, got)
				}
			}
		}

		m, ok := parseClock(clock)
		if ok {
			if m < 0 || m >= 24*60 {
				t.Fatalf("parseClock(%q) = %d minutes", clock, m)
			}
			h, hOK := new(big.Int).SetString(clock[:2], 10)
			mm, mOK := new(big.Int).SetString(clock[3:], 10)
			if len(clock) != 5 || clock[2] != ':' || !hOK || !mOK || h.Int64()*60+mm.Int64() != int64(m) {
				t.Fatalf("parseClock(%q) = %d minutes", clock, m)
			}
			if back, ok := parseClock(clockString(m)); !ok || back != m {
				t.Fatalf("parseClock(%q) = %d, written %q, read back %d, %v", clock, m, clockString(m), back, ok)
			}
		} else if m != 0 {
			t.Fatalf("parseClock(%q) refused, yet returned %d", clock, m)
		}
		if k >= 0 {
			c := int(k % (24 * 60))
			s := clockString(c)
			if got, ok := parseClock(s); !ok || got != c || len(s) != 5 {
				t.Fatalf("clockString(%d) = %q, read back %d, %v", c, s, got, ok)
			}
		}
	})
}
