// Package metrics holds the node's Prometheus collectors. Everything is
// registered on one Registry that the admin API serves at /metrics.
//
// Label cardinality is bounded by the number of services: labels are the
// service name, the HTTP status code, the ABI and a small fixed set of
// failure kinds.
package metrics

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics is the node's set of collectors. Create it with New.
type Metrics struct {
	Registry *prometheus.Registry

	// Requests counts gateway requests by service and status code.
	Requests *prometheus.CounterVec
	// Duration observes gateway request latency by service, in seconds.
	Duration *prometheus.HistogramVec
	// GuestFailures counts failed requests by service and kind
	// ("trap", "exit", "output", "start", "timeout", "capacity").
	GuestFailures *prometheus.CounterVec
	// Compile observes module compile (or cache load) time, in seconds.
	Compile prometheus.Histogram
	// Deploys counts deploys by result ("created", "unchanged", "failed").
	Deploys *prometheus.CounterVec
	// Services is the number of services the node routes.
	Services prometheus.Gauge
	// ColdStarts observes, by ABI ("pooled", "wagi"), the time requests
	// waited for a new instance to start, in seconds. Feed it through
	// ColdStartFunc.
	ColdStarts *prometheus.HistogramVec
}

// New registers every collector, plus the Go and process collectors.
func New() *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mote_gateway_requests_total",
			Help: "Requests the gateway answered, by service and HTTP status code.",
		}, []string{"service", "code"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mote_gateway_request_duration_seconds",
			Help:    "Time from a request's arrival at the gateway to its response, by service.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"service"}),
		GuestFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mote_guest_failures_total",
			Help: "Requests a guest failed to answer, by service and kind (trap, exit, output, start, timeout, capacity).",
		}, []string{"service", "kind"}),
		Compile: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "mote_module_compile_seconds",
			Help:    "Time to compile a module, or to load it from the compilation cache.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 8),
		}),
		Deploys: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mote_deploys_total",
			Help: "Deploys by result (created, unchanged, failed).",
		}, []string{"result"}),
		Services: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mote_services",
			Help: "Services the node routes.",
		}),
		ColdStarts: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "mote_cold_start_seconds",
			Help: "Time a request waited for a new instance to start, by ABI: pooled when no warm instance was idle, " +
				"wagi for every request (its instantiation, before _start).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"abi"}),
	}
	r.MustRegister(m.Requests, m.Duration, m.GuestFailures, m.Compile, m.Deploys, m.Services, m.ColdStarts,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ServiceMetrics caches one service's metric children, so the request path
// does not hash label values on every request.
type ServiceMetrics struct {
	m        *Metrics
	service  string
	Duration prometheus.Observer
	codes    sync.Map // int -> prometheus.Counter
}

// For returns the cached children for a service.
func (m *Metrics) For(service string) *ServiceMetrics {
	return &ServiceMetrics{m: m, service: service, Duration: m.Duration.WithLabelValues(service)}
}

// Request counts one answered request with its status code.
func (s *ServiceMetrics) Request(code int) {
	if c, ok := s.codes.Load(code); ok {
		c.(prometheus.Counter).Inc()
		return
	}
	c := s.m.Requests.WithLabelValues(s.service, strconv.Itoa(code))
	s.codes.Store(code, c)
	c.Inc()
}

// Failure counts one guest failure of a kind.
func (s *ServiceMetrics) Failure(kind string) {
	s.m.GuestFailures.WithLabelValues(s.service, kind).Inc()
}

// ColdStartFunc returns a function that observes one cold start of an ABI
// ("pooled" or "wagi"): what sandbox.Spec.OnColdStart wants. The label
// child is looked up once, here.
func (m *Metrics) ColdStartFunc(abi string) func(time.Duration) {
	o := m.ColdStarts.WithLabelValues(abi)
	return func(d time.Duration) { o.Observe(d.Seconds()) }
}

// Forget deletes a removed service's series.
func (m *Metrics) Forget(service string) {
	m.Requests.DeletePartialMatch(prometheus.Labels{"service": service})
	m.Duration.DeletePartialMatch(prometheus.Labels{"service": service})
	m.GuestFailures.DeletePartialMatch(prometheus.Labels{"service": service})
}
