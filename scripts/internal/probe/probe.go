// Package probe is what the benchmarks under scripts/ share to time a
// street's live path: a stream of post updates stamped with their send
// time, websocket followers that read each probe frame's latency in place,
// latency samples, and the small helpers around them (API calls, parallel
// setup, the process's CPU time).
package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"civico/internal/testutil"

	"github.com/fasthttp/websocket"
)

// Call sends a JSON API request to base+"/api/v1"+path and decodes the
// answer into out (when not nil); another status than want is an error.
func Call(client *http.Client, base, method, path, token string, body, out any, want int) error {
	var rd io.Reader
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, base+"/api/v1"+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != want {
		return fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// maxProbes bounds the probe updates in flight: a starved server then
// gets fewer probes instead of a growing queue that would measure the
// queue, not the fan-out.
const maxProbes = 4

// Updates edits the probe post rate times a second, stamping the send time
// in its title, until the returned stop is called (which waits for the
// probes in flight).
func Updates(client *http.Client, base, token, pid string, rate int) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	slots := make(chan struct{}, maxProbes)
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second / time.Duration(rate))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				select {
				case slots <- struct{}{}:
				default:
					continue // maxProbes still in flight: skip this tick
				}
				title := "sonda " + strconv.FormatInt(time.Now().UnixNano(), 10)
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer func() { <-slots }()
					_ = Call(client, base, "PATCH", "/posts/"+pid, token, map[string]string{"title": title}, nil, http.StatusOK)
				}()
			}
		}
	}()
	return func() { cancel(); wg.Wait() }
}

// Follow records, for each probe update on w, the time from the PATCH
// being sent to the frame arriving, until the socket closes. It reads each
// frame into a pooled buffer and finds the two fields it needs in place:
// the followers stand for phones, and decoding every frame's JSON here
// took a fifth of the machine from the server being measured.
func Follow(w *testutil.WS, lat *Latencies, pool *sync.Pool) {
	for {
		mt, r, err := w.Conn.NextReader()
		if err != nil {
			return
		}
		now := time.Now()
		if mt != websocket.TextMessage {
			continue
		}
		bp := pool.Get().(*[]byte)
		n, err := io.ReadFull(r, *bp)
		if err != io.ErrUnexpectedEOF && err != io.EOF {
			pool.Put(bp)
			if err == nil {
				continue // larger than any probe frame
			}
			return
		}
		if ns, ok := probeTime((*bp)[:n]); ok {
			lat.Add(now.Sub(time.Unix(0, ns)))
		}
		pool.Put(bp)
	}
}

// FramePool makes the buffers Follow reads frames into.
func FramePool() *sync.Pool {
	return &sync.Pool{New: func() any { b := make([]byte, 8<<10); return &b }}
}

var (
	probeType  = []byte(`"type":"post.updated"`)
	probeTitle = []byte(`"title":"sonda `)
)

// probeTime is the send time a probe frame carries in its title.
func probeTime(b []byte) (int64, bool) {
	if !bytes.Contains(b, probeType) {
		return 0, false
	}
	i := bytes.Index(b, probeTitle)
	if i < 0 {
		return 0, false
	}
	var ns int64
	digits := 0
	for _, c := range b[i+len(probeTitle):] {
		if c < '0' || c > '9' {
			break
		}
		ns, digits = ns*10+int64(c-'0'), digits+1
	}
	return ns, digits > 0
}

// Latencies collects samples from many followers.
type Latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

// Add records one latency.
func (l *Latencies) Add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

// Reset returns the samples since the last Reset, sorted, and starts anew.
func (l *Latencies) Reset() Sample {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := Sample(l.d)
	l.d = nil
	slices.Sort(out)
	return out
}

// Sample is a sorted set of latencies.
type Sample []time.Duration

// P is the q quantile (0 for an empty sample).
func (s Sample) P(q float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// Merge returns the sorted union of s and o.
func (s Sample) Merge(o Sample) Sample {
	out := append(slices.Clone(s), o...)
	slices.Sort(out)
	return out
}

// Summary is "n frames, p50, p99, max".
func (s Sample) Summary() string {
	return fmt.Sprintf("%d frames, p50 %s, p99 %s, max %s", len(s), s.P(0.5).Round(100*time.Microsecond),
		s.P(0.99).Round(100*time.Microsecond), s.P(1).Round(100*time.Microsecond))
}

// Median is the median of ds.
func Median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// CPUTime is the CPU time this process has used (user and system).
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// LoadAvg is the machine's 1, 5 and 15 minute load averages.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// Parallel runs fn(0..n-1), par at a time, and returns the first error.
func Parallel(par, n int, fn func(i int) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  atomic.Int64
	)
	for range min(par, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return errors.New("setup: " + first.Error())
	}
	return nil
}
