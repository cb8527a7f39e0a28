// Package diag is the debug endpoint: the runtime's memory figures and the
// services' counters as expvar-style JSON, and pprof. It is meant for a
// loopback address (CIVICO_DEBUG_ADDR) and is started only when one is set.
//
// It builds its own mux and variables instead of expvar's and pprof's
// process-wide registries, so that several servers in one test process do
// not collide.
package diag

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// Vars are the named values /debug/vars reports next to the runtime's.
type Vars map[string]func() any

// Mem is the memory summary /debug/vars reports as "mem".
type Mem struct {
	HeapInuse   uint64 `json:"heap_inuse"`
	StackInuse  uint64 `json:"stack_inuse"`
	HeapObjects uint64 `json:"heap_objects"`
	Sys         uint64 `json:"sys"`
	// Go is what the Go runtime holds for the program: heap spans in use,
	// goroutine stacks, and the runtime's own structures.
	Go         uint64 `json:"go"`
	RSS        uint64 `json:"rss"`
	Goroutines int    `json:"goroutines"`
	OpenFiles  int    `json:"open_files"`
	NumGC      uint32 `json:"num_gc"`
}

// ReadMem reads the memory summary; with gc it first collects garbage and
// returns freed memory to the OS, so that two readings compare live data.
func ReadMem(gc bool) Mem {
	if gc {
		runtime.GC()
		debug.FreeOSMemory()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return Mem{HeapInuse: ms.HeapInuse, StackInuse: ms.StackInuse, HeapObjects: ms.HeapObjects, Sys: ms.Sys,
		Go:  ms.HeapInuse + ms.StackInuse + ms.MSpanInuse + ms.MCacheInuse + ms.GCSys + ms.OtherSys + ms.BuckHashSys,
		RSS: rss(), Goroutines: runtime.NumGoroutine(), OpenFiles: openFiles(), NumGC: ms.NumGC}
}

// rss is the resident set size from /proc (Linux), 0 elsewhere.
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

func openFiles() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// Actions are operator commands run on the server, POST /actions/<name>:
// the command line reaches a running server through them (the embedded
// database is held by that server).
type Actions map[string]func(ctx context.Context) (any, error)

// Handler serves /debug/vars (GET ?gc=1 to collect garbage first),
// /debug/pprof/ and the actions.
func Handler(vars Vars, metrics http.Handler, actions Actions) http.Handler {
	mux := http.NewServeMux()
	for name, fn := range actions {
		mux.HandleFunc("POST /actions/"+name, func(w http.ResponseWriter, r *http.Request) {
			out, err := fn(r.Context())
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			if err != nil {
				w.WriteHeader(http.StatusInternalServerError)
				_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
				return
			}
			_ = json.NewEncoder(w).Encode(out)
		})
	}
	if metrics != nil {
		mux.Handle("/metrics", metrics)
	}
	mux.HandleFunc("/debug/vars", func(w http.ResponseWriter, r *http.Request) {
		out := map[string]any{"cmdline": os.Args, "mem": ReadMem(r.URL.Query().Get("gc") == "1")}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		out["memstats"] = ms
		for name, fn := range vars {
			out[name] = fn()
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		enc := json.NewEncoder(w)
		enc.SetIndent("", " ")
		_ = enc.Encode(out)
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// Server is a running debug endpoint.
type Server struct {
	srv  *http.Server
	addr string
	done chan struct{}
}

// Start serves Handler(vars, metrics, actions) on addr until Shutdown.
func Start(addr string, vars Vars, metrics http.Handler, actions Actions) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("diag: %w", err)
	}
	s := &Server{srv: &http.Server{Handler: Handler(vars, metrics, actions), ReadHeaderTimeout: 5 * time.Second}, addr: ln.Addr().String(),
		done: make(chan struct{})}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = err // the debug endpoint is best effort: the server runs on without it
		}
	}()
	return s, nil
}

// Addr is the address the endpoint listens on (useful with port 0).
func (s *Server) Addr() string { return s.addr }

// Shutdown stops the endpoint.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	<-s.done
	return err
}
