// Package metrics exposes Civico's figures in Prometheus's format on the
// debug address: HTTP requests by route and status with their latency,
// database commands with theirs, rate-limit refusals, and whatever the
// running services count (live sockets, fan-out latency, the push outbox),
// read from them when scraped rather than copied on every event.
//
// Each process reports its own figures; a Prometheus server scraping every
// process adds them up, which is how several processes are meant to be
// watched.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.mongodb.org/mongo-driver/v2/event"
)

const namespace = "civico"

// Metrics holds the registry and the collectors fed as things happen.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	limited  *prometheus.CounterVec
	commands *prometheus.HistogramVec
	failures *prometheus.CounterVec
}

// New returns the metrics with the Go runtime's and the process's own.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "http_requests_total",
		Help: "HTTP requests answered, by route pattern, method and status."}, []string{"route", "method", "status"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "http_request_duration_seconds",
		Help: "Time to answer an HTTP request, by route pattern and method.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)},
		[]string{"route", "method"})
	m.limited = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "rate_limited_total",
		Help: "Requests refused by a rate limit (429), by route pattern."}, []string{"route"})
	m.commands = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "db_command_duration_seconds",
		Help: "Database command latency, by command and collection.", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}, []string{"command", "collection"})
	m.failures = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "db_command_failures_total",
		Help: "Database commands that failed, by command and collection."}, []string{"command", "collection"})
	m.reg.MustRegister(m.requests, m.latency, m.limited, m.commands, m.failures,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// ObserveRequest counts one answered request. route is the matched
// pattern (/api/v1/posts/:pid), never the path, so that ids do not make
// a series each.
func (m *Metrics) ObserveRequest(route, method string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route, method).Observe(d.Seconds())
	if status == http.StatusTooManyRequests {
		m.limited.WithLabelValues(route).Inc()
	}
}

// CommandMonitor times the database driver's commands by command and
// collection: "which collection costs most" is the operator's first
// question, and the collections are few, so the series stay few.
func (m *Metrics) CommandMonitor() *event.CommandMonitor {
	// The finished events do not name the collection; the started one
	// does, under the driver's request id, until the command ends.
	var started sync.Map // int64 → string
	done := func(id int64) string {
		c, ok := started.LoadAndDelete(id)
		if !ok {
			return ""
		}
		return c.(string)
	}
	return &event.CommandMonitor{
		Started: func(_ context.Context, e *event.CommandStartedEvent) {
			started.Store(e.RequestID, commandCollection(e))
		},
		Succeeded: func(_ context.Context, e *event.CommandSucceededEvent) {
			m.commands.WithLabelValues(e.CommandName, done(e.RequestID)).Observe(e.Duration.Seconds())
		},
		Failed: func(_ context.Context, e *event.CommandFailedEvent) {
			c := done(e.RequestID)
			m.commands.WithLabelValues(e.CommandName, c).Observe(e.Duration.Seconds())
			m.failures.WithLabelValues(e.CommandName, c).Inc()
		},
	}
}

// commandCollection is the collection a command works on: the value of
// its first element for the commands that name one (find, update,
// insert, aggregate, …), empty for the others (ping, hello, getMore).
// A numbered name (push_done_2026120715, one per hour) is one series:
// its digits become a star.
func commandCollection(e *event.CommandStartedEvent) string {
	el, err := e.Command.IndexErr(0)
	if err != nil {
		return ""
	}
	c, ok := el.Value().StringValueOK()
	if !ok || len(c) > 64 {
		return ""
	}
	if t := strings.TrimRight(c, "0123456789"); t != c {
		return t + "*"
	}
	return c
}

// Gauge reports fn's value, read at each scrape.
func (m *Metrics) Gauge(name, help string, fn func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help}, fn))
}

// Counter reports fn's value, a count that only grows, read at each scrape.
func (m *Metrics) Counter(name, help string, fn func() float64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: namespace, Name: name, Help: help}, fn))
}

// Log2Histogram reports counts kept in power-of-two millisecond buckets
// (bucket i: under 2^i ms, the last one the rest), as the hub keeps its
// latencies, as a histogram in seconds. The sum is estimated from the
// buckets' upper bounds: the hub does not keep one.
func (m *Metrics) Log2Histogram(name, help string, fn func() []int64) {
	m.reg.MustRegister(&log2Histogram{desc: prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, nil, nil), read: fn})
}

type log2Histogram struct {
	desc *prometheus.Desc
	read func() []int64
}

func (h *log2Histogram) Describe(ch chan<- *prometheus.Desc) { ch <- h.desc }

func (h *log2Histogram) Collect(ch chan<- prometheus.Metric) {
	counts := h.read()
	buckets := make(map[float64]uint64, len(counts))
	var total uint64
	var sum float64
	for i, n := range counts {
		upper := float64(int64(1)<<i) / 1000
		total += uint64(n)
		sum += float64(n) * upper
		if i < len(counts)-1 { // the last bucket is +Inf
			buckets[upper] = total
		}
	}
	ch <- prometheus.MustNewConstHistogram(h.desc, total, sum, buckets)
}
