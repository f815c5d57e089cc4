// Package analytics records per-request API analytics for the gateway: it
// counts every answered request by service, version, route class, status
// class and app, in three places:
//
//   - Prometheus series on a Registry (mote_api_requests_total and
//     mote_api_request_duration_seconds), for dashboards and alerts;
//   - an in-memory, time-windowed store that Query sums for
//     `mote stats SERVICE [--by app|version|route|status] [--since 1h]`;
//   - a JSON access log, one line per request (AccessLog).
//
// # Cost
//
// Record sits on the path of every request. Once a label combination has
// been seen it does one lookup in an immutable map keyed by the labels (no
// Prometheus label hashing, no lock, no allocation), reads the clock
// (unless Event.Time is set) and makes a handful of atomic additions; the
// first request of each minute of each series takes a short lock and
// allocates that minute's cell (about 1.6 KB).
//
// # Label cardinality
//
// Series are bounded by configuration, never by clients: at most MaxApps
// distinct apps per node (later apps are counted as "other"), at most
// MaxRoutes route classes per service (later ones are "other"), six status
// classes ("1xx".."5xx", and "other" for codes outside 100..599), and the
// service's versions. Anonymous requests are app "-"; requests without a
// route class are route "*". The duration histogram has only service,
// version and status_class labels: a histogram is ~20 series per label
// combination, and app × route would multiply that by up to 5,000 per
// service version. Latency by app or route is answered by Query instead.
//
// # Windows and quantiles
//
// Query sums per-minute data for the last 64 minutes; older data is kept
// per UTC hour up to the Retention. A window that starts within the last 64
// minutes starts at the beginning of its minute; one that starts earlier
// starts at the beginning of its hour. A window clamped by the Retention
// starts at the next minute (or hour) instead, so no data older than the
// Retention is reported. Stats.Since is the window's actual start.
//
// Latency quantiles come from mergeable log-linear histograms over
// microseconds (16 linear buckets per power of two): relative error at most
// 3.125% above 32 µs, ±0.5 µs below; durations from about 134 s on share
// the last bucket.
//
// # Memory
//
// A series is one (service, dimension, value), e.g. (hello, app, shop). A
// minute with traffic costs a series about 1.6 KB and an hour about 3 KB,
// so a series with steady traffic holds about 100 KB for the last hour and
// 3 KB per further hour of Retention. Minutes without traffic cost nothing:
// once a minute, a background sweep folds the minutes that have left every
// series' last 64 into their hours and drops hours older than the
// Retention. Forget (a removed service) and ForgetVersion (a deleted
// version) drop series for good.
package analytics

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mote-run/mote/api"
)

// Defaults of Options.
const (
	DefaultMaxApps   = 100
	DefaultMaxRoutes = 50
	DefaultRetention = 24 * time.Hour
)

// Label values with a meaning of their own.
const (
	// Anonymous is the app of a request made without an API key.
	Anonymous = "-"
	// AnyRoute is the route class of a request without one.
	AnyRoute = "*"
	// Other stands for the apps and routes beyond the caps, and for status
	// codes outside 100..599.
	Other = "other"
)

// Dimensions Query groups by.
const (
	ByNone    = ""
	ByApp     = "app"
	ByVersion = "version"
	ByRoute   = "route"
	ByStatus  = "status"
)

// ErrDimension is returned by Query for a grouping it does not know.
var ErrDimension = errors.New("analytics: unknown dimension")

// maxAliases bounds how many label combinations beyond the caps (an app
// counted as "other", say) keep a cached handle of their own. Past it,
// such requests take a lock in Record; the series stay bounded either way.
const maxAliases = 1 << 15

// Options configure New. The zero value is valid: no Prometheus export,
// the default caps and retention, and the wall clock.
type Options struct {
	// Registry is where the Prometheus series are registered; nil means
	// they are not exported. If the registry already holds them (another
	// Analytics registered them), they are shared.
	Registry *prometheus.Registry
	// MaxApps is how many distinct apps a node labels by name before new
	// apps are counted as "other"; ≤ 0 means DefaultMaxApps.
	MaxApps int
	// MaxRoutes is how many distinct route classes a service labels before
	// new ones are counted as "other"; ≤ 0 means DefaultMaxRoutes.
	MaxRoutes int
	// Retention is how far back Query can look; ≤ 0 means
	// DefaultRetention.
	Retention time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Event is one answered request.
type Event struct {
	Service string
	Version int
	// Route is the route class: the OpenAPI path template, or "" (recorded
	// as "*").
	Route  string
	Status int
	// App is the API key's app; "" (anonymous) is recorded as "-".
	App      string
	Duration time.Duration
	// Time is when the request ended; zero means now (Options.Now). A
	// gateway that has just read the clock to measure Duration saves
	// Record a clock read by passing it.
	Time time.Time
}

// Analytics records Events and answers Query. Create it with New; it is
// safe for concurrent use.
type Analytics struct {
	now       func() time.Time
	maxApps   int
	maxRoutes int
	retention time.Duration

	requests *prometheus.CounterVec   // nil: not exported
	duration *prometheus.HistogramVec // nil: not exported

	handles handles
	swept   atomic.Int64 // the minute of the last sweep

	mu       sync.Mutex // guards the fields below, and handles' writes
	aliases  int
	apps     map[string]struct{} // apps labelled by name
	services map[string]*service
}

// service is one service's route classes and series.
type service struct {
	routes map[string]struct{} // route classes labelled by name
	series map[seriesKey]*series
}

// Dimensions of a series.
const (
	dimApp uint8 = iota
	dimVersion
	dimRoute
	dimStatus
	nDims
)

type seriesKey struct {
	dim   uint8
	value string
}

// handleKey is a request's labels as Record receives them.
type handleKey struct {
	service, route, app string
	version             int
	class               uint8
}

// handle is what Record updates for one label combination.
type handle struct {
	key      handleKey // with the labels as recorded (caps applied)
	series   [nDims]*series
	requests prometheus.Counter  // nil: not exported
	duration prometheus.Observer // nil: not exported
}

// New returns an empty Analytics.
func New(opts Options) *Analytics {
	a := &Analytics{
		now:       opts.Now,
		maxApps:   opts.MaxApps,
		maxRoutes: opts.MaxRoutes,
		retention: opts.Retention,
		apps:      map[string]struct{}{},
		services:  map[string]*service{},
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.maxApps <= 0 {
		a.maxApps = DefaultMaxApps
	}
	if a.maxRoutes <= 0 {
		a.maxRoutes = DefaultMaxRoutes
	}
	if a.retention <= 0 {
		a.retention = DefaultRetention
	}
	if opts.Registry != nil {
		requests := prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mote_api_requests_total",
			Help: "API requests by service, version, route class, status class and app; apps and routes beyond the node's caps are \"other\".",
		}, []string{"service", "version", "route", "status_class", "app"})
		duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mote_api_request_duration_seconds",
			Help:    "API request latency at the gateway by service, version and status class.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"service", "version", "status_class"})
		var okR, okD bool
		requests, okR = register(opts.Registry, requests)
		duration, okD = register(opts.Registry, duration)
		if okR && okD {
			a.requests, a.duration = requests, duration
		}
	}
	return a
}

// register registers c, or returns the collector already registered in its
// place; false if neither works.
func register[C prometheus.Collector](r *prometheus.Registry, c C) (C, bool) {
	err := r.Register(c)
	if err == nil {
		return c, true
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, true
		}
	}
	return c, false
}

// Record counts one answered request.
func (a *Analytics) Record(e Event) {
	class := classOf(e.Status)
	k := handleKey{service: e.Service, route: e.Route, app: e.App, version: e.Version, class: class}
	if k.route == "" {
		k.route = AnyRoute // so that the common case is not an alias
	}
	if k.app == "" {
		k.app = Anonymous
	}
	h := a.handles.load(k)
	if h == nil {
		h = a.handle(k)
	}
	end := e.Time
	if end.IsZero() {
		end = a.now()
	}
	min := floorDiv(end.Unix(), 60)
	b := bucketOf(e.Duration)
	turned := false
	for _, s := range h.series {
		if s.add(min, class, b) {
			turned = true
		}
	}
	if turned {
		a.maybeSweep(min)
	}
	if h.requests != nil {
		h.requests.Inc()
		h.duration.Observe(e.Duration.Seconds())
	}
}

// handle returns the handle of a label combination seen for the first time
// (or beyond maxAliases), creating its series and Prometheus children.
func (a *Analytics) handle(k handleKey) *handle {
	a.mu.Lock()
	defer a.mu.Unlock()
	if h := a.handles.loadLocked(k); h != nil {
		return h
	}
	svc := a.services[k.service]
	if svc == nil {
		svc = &service{routes: map[string]struct{}{}, series: map[seriesKey]*series{}}
		a.services[k.service] = svc
	}
	rk := handleKey{
		service: k.service,
		route:   a.routeLabel(svc, k.route),
		app:     a.appLabel(k.app),
		version: k.version,
		class:   k.class,
	}
	h := a.handles.loadLocked(rk)
	if h == nil {
		h = &handle{key: rk}
		version := strconv.Itoa(rk.version)
		for dim, value := range [nDims]string{dimApp: rk.app, dimVersion: version, dimRoute: rk.route, dimStatus: classNames[rk.class]} {
			sk := seriesKey{dim: uint8(dim), value: value}
			s := svc.series[sk]
			if s == nil {
				s = &series{retention: int64(a.retention / time.Minute)}
				svc.series[sk] = s
			}
			h.series[dim] = s
		}
		if a.requests != nil {
			h.requests = a.requests.WithLabelValues(rk.service, version, rk.route, classNames[rk.class], rk.app)
			h.duration = a.duration.WithLabelValues(rk.service, version, classNames[rk.class])
		}
		a.handles.store(rk, h)
	}
	if rk != k && a.aliases < maxAliases {
		a.handles.store(k, h)
		a.aliases++
	}
	return h
}

// appLabel is app's label value, admitting it if there is room. a.mu is
// held.
func (a *Analytics) appLabel(app string) string {
	switch app {
	case "", Anonymous:
		return Anonymous
	case Other:
		return Other
	}
	if _, ok := a.apps[app]; ok {
		return app
	}
	if len(a.apps) >= a.maxApps {
		return Other
	}
	a.apps[app] = struct{}{}
	return app
}

// routeLabel is route's label value in svc, admitting it if there is room.
// a.mu is held.
func (a *Analytics) routeLabel(svc *service, route string) string {
	switch route {
	case "", AnyRoute:
		return AnyRoute
	case Other:
		return Other
	}
	if _, ok := svc.routes[route]; ok {
		return route
	}
	if len(svc.routes) >= a.maxRoutes {
		return Other
	}
	svc.routes[route] = struct{}{}
	return route
}

// classNames are the status classes' label values, indexed by classOf.
var classNames = [...]string{Other, "1xx", "2xx", "3xx", "4xx", "5xx"}

// classOf is a status code's class: 1..5, or 0 outside 100..599.
func classOf(status int) uint8 {
	if status < 100 || status > 599 {
		return 0
	}
	return uint8(status / 100)
}

// Forget drops a service's Prometheus series and windows (when it is
// removed). Its route classes are forgotten too; apps stay admitted.
func (a *Analytics) Forget(service string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.services, service)
	a.forgetHandles(func(k handleKey) bool { return k.service == service })
	if a.requests != nil {
		a.requests.DeletePartialMatch(prometheus.Labels{"service": service})
		a.duration.DeletePartialMatch(prometheus.Labels{"service": service})
	}
}

// ForgetVersion drops a service version's Prometheus series and its group
// in Query's "version" dimension (when the version is deleted). Its
// traffic stays counted in the other dimensions.
func (a *Analytics) ForgetVersion(service string, version int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	v := strconv.Itoa(version)
	if svc := a.services[service]; svc != nil {
		delete(svc.series, seriesKey{dim: dimVersion, value: v})
	}
	a.forgetHandles(func(k handleKey) bool { return k.service == service && k.version == version })
	if a.requests != nil {
		a.requests.DeletePartialMatch(prometheus.Labels{"service": service, "version": v})
		a.duration.DeletePartialMatch(prometheus.Labels{"service": service, "version": v})
	}
}

// forgetHandles drops the handles whose key matches. a.mu is held.
func (a *Analytics) forgetHandles(match func(handleKey) bool) {
	a.handles.publish(func(k handleKey, h *handle) bool {
		if !match(k) {
			return false
		}
		if k != h.key {
			a.aliases--
		}
		return true
	})
}

// maybeSweep starts a sweep in the background, at most once a minute.
func (a *Analytics) maybeSweep(now int64) {
	last := a.swept.Load()
	if now <= last || !a.swept.CompareAndSwap(last, now) {
		return
	}
	go a.sweep(now)
}

// sweep gives back the memory of the minutes that have left every series'
// ring and of the hours older than the retention.
func (a *Analytics) sweep(now int64) {
	a.mu.Lock()
	var all []*series
	for _, svc := range a.services {
		for _, s := range svc.series {
			all = append(all, s)
		}
	}
	a.mu.Unlock()
	for _, s := range all {
		s.sweep(now)
	}
}

// dims maps Query's by to a series dimension.
var dims = map[string]uint8{
	ByNone:    dimStatus, // the status classes partition all requests
	ByApp:     dimApp,
	ByVersion: dimVersion,
	ByRoute:   dimRoute,
	ByStatus:  dimStatus,
}

// Query sums a service's traffic in the window [since, now], grouped by
// "" (one group, always present), "app", "version", "route" or "status"
// (status class: "2xx".."5xx", "other"). Only groups with requests are
// listed, by Requests descending (then Key). RPS is Requests divided by the
// window's seconds; quantiles are in milliseconds.
//
// The window starts at the beginning of since's minute (or hour, for data
// older than 64 minutes), is clamped to the Retention, and is reported in
// Stats.Since and Until. A zero since means as far back as the Retention
// allows. An unknown service has no traffic (no error); an unknown by is
// ErrDimension.
func (a *Analytics) Query(service string, since time.Time, by string) (api.Stats, error) {
	dim, ok := dims[by]
	if !ok {
		return api.Stats{}, fmt.Errorf("%w %q: want one of app, version, route, status, or none", ErrDimension, by)
	}
	now := a.now()
	from := a.windowStart(now, since)

	a.mu.Lock()
	var list []seriesKey
	var found []*series
	if svc := a.services[service]; svc != nil {
		for k, s := range svc.series {
			if k.dim == dim {
				list = append(list, k)
				found = append(found, s)
			}
		}
	}
	a.mu.Unlock()

	nowMin := floorDiv(now.Unix(), 60)
	totals := map[string]*total{}
	if by == ByNone {
		totals[""] = &total{}
	}
	for i, s := range found {
		key := list[i].value
		if by == ByNone {
			key = ""
		}
		t := totals[key]
		if t == nil {
			t = &total{}
			totals[key] = t
		}
		s.sumInto(t, from, nowMin)
	}

	start := time.Unix(from*60, 0).UTC()
	seconds := now.Sub(start).Seconds()
	stats := api.Stats{Service: service, Since: start, Until: now.UTC(), By: by, Groups: []api.StatsGroup{}}
	for key, t := range totals {
		if t.requests == 0 && by != ByNone {
			continue
		}
		g := api.StatsGroup{
			Key:          key,
			Requests:     t.requests,
			Errors:       t.errors,
			ClientErrors: t.clientErrors,
			P50:          t.buckets.quantile(0.50, t.requests),
			P95:          t.buckets.quantile(0.95, t.requests),
			P99:          t.buckets.quantile(0.99, t.requests),
		}
		if seconds > 0 {
			g.RPS = float64(t.requests) / seconds
		}
		stats.Groups = append(stats.Groups, g)
	}
	slices.SortFunc(stats.Groups, func(x, y api.StatsGroup) int {
		if x.Requests != y.Requests {
			if x.Requests > y.Requests {
				return -1
			}
			return 1
		}
		return strings.Compare(x.Key, y.Key)
	})
	return stats, nil
}

// windowStart is the first minute (Unix minutes) a query from since at now
// sums.
func (a *Analytics) windowStart(now, since time.Time) int64 {
	nowMin := floorDiv(now.Unix(), 60)
	clamped := false
	if floor := now.Add(-a.retention); since.Before(floor) {
		since, clamped = floor, true
	}
	if since.After(now) {
		since = now
	}
	sec := since.Unix()
	from := floorDiv(sec, 60)
	if clamped && (sec%60 != 0 || since.Nanosecond() != 0) {
		from++
	}
	if from > nowMin-ringMinutes {
		return from // every minute from here on is still per-minute
	}
	hour := floorDiv(from, 60)
	if clamped && from != hour*60 {
		hour++
	}
	return hour * 60
}
