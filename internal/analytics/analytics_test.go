package analytics

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/metrics"
)

// clock is a fake clock safe for concurrent use.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock(t time.Time) *clock { return &clock{now: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// t0 is a minute boundary and an hour boundary.
var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func query(t *testing.T, a *Analytics, service string, since time.Time, by string) api.Stats {
	t.Helper()
	s, err := a.Query(service, since, by)
	if err != nil {
		t.Fatalf("Query(%q, %v, %q): %v", service, since, by, err)
	}
	return s
}

// brief is a group without its quantiles and rate, for comparing.
type brief struct {
	Key                            string
	Requests, Errors, ClientErrors int64
}

func briefs(s api.Stats) []brief {
	var out []brief
	for _, g := range s.Groups {
		out = append(out, brief{g.Key, g.Requests, g.Errors, g.ClientErrors})
	}
	return out
}

func TestQueryGroups(t *testing.T) {
	clk := newClock(t0.Add(50 * time.Second))
	a := New(Options{Now: clk.Now})
	record := func(n int, e Event) {
		for range n {
			a.Record(e)
		}
	}
	// Minute 12:00 (at :50).
	record(5, Event{Service: "hello", Version: 1, Route: "/items/{id}", Status: 200, App: "shop", Duration: time.Millisecond})
	record(2, Event{Service: "hello", Version: 1, Route: "/items/{id}", Status: 404, App: "shop", Duration: time.Millisecond})
	record(1, Event{Service: "other", Version: 1, Status: 200, App: "shop", Duration: time.Millisecond})
	// Minute 12:01 (at 1:20).
	clk.Add(30 * time.Second)
	record(3, Event{Service: "hello", Version: 2, Route: "", Status: 503, App: "", Duration: 10 * time.Millisecond})
	record(4, Event{Service: "hello", Version: 2, Route: "/items", Status: 201, App: "crm", Duration: 2 * time.Millisecond})
	// Minute 12:02 (at 2:00): the query's now.
	clk.Add(40 * time.Second)
	record(1, Event{Service: "hello", Version: 2, Route: "/items", Status: 302, App: "crm", Duration: 2 * time.Millisecond})

	tests := []struct {
		by   string
		want []brief
	}{
		{ByNone, []brief{{"", 15, 3, 2}}},
		{ByApp, []brief{{"shop", 7, 0, 2}, {"crm", 5, 0, 0}, {"-", 3, 3, 0}}},
		{ByVersion, []brief{{"1", 7, 0, 2}, {"2", 8, 3, 0}}},
		{ByRoute, []brief{{"/items/{id}", 7, 0, 2}, {"/items", 5, 0, 0}, {"*", 3, 3, 0}}},
		{ByStatus, []brief{{"2xx", 9, 0, 0}, {"5xx", 3, 3, 0}, {"3xx", 1, 0, 0}, {"4xx", 2, 0, 2}}},
	}
	// ByVersion and ByStatus are sorted by requests; fix the expectations.
	for _, tt := range tests {
		slices.SortStableFunc(tt.want, func(x, y brief) int {
			if x.Requests != y.Requests {
				return int(y.Requests - x.Requests)
			}
			return strings.Compare(x.Key, y.Key)
		})
	}
	for _, tt := range tests {
		t.Run("by="+tt.by, func(t *testing.T) {
			s := query(t, a, "hello", t0.Add(-time.Minute), tt.by)
			if got := briefs(s); !slices.Equal(got, tt.want) {
				t.Errorf("groups = %+v, want %+v", got, tt.want)
			}
			if s.Service != "hello" || s.By != tt.by {
				t.Errorf("service, by = %q, %q", s.Service, s.By)
			}
			if !s.Since.Equal(t0.Add(-time.Minute)) || !s.Until.Equal(t0.Add(2*time.Minute)) {
				t.Errorf("window = %v..%v, want %v..%v", s.Since, s.Until, t0.Add(-time.Minute), t0.Add(2*time.Minute))
			}
			for _, g := range s.Groups {
				if want := float64(g.Requests) / 180; g.RPS != want {
					t.Errorf("%s: rps = %v, want %v", g.Key, g.RPS, want)
				}
			}
		})
	}

	t.Run("since cuts at its minute", func(t *testing.T) {
		// 12:01:30 starts at 12:01:00: minutes 12:01 and 12:02.
		s := query(t, a, "hello", t0.Add(90*time.Second), ByNone)
		if got, want := briefs(s), []brief{{"", 8, 3, 0}}; !slices.Equal(got, want) {
			t.Errorf("groups = %+v, want %+v", got, want)
		}
		if !s.Since.Equal(t0.Add(time.Minute)) {
			t.Errorf("since = %v, want %v", s.Since, t0.Add(time.Minute))
		}
		if g := s.Groups[0]; g.RPS != 8.0/60 {
			t.Errorf("rps = %v, want %v", g.RPS, 8.0/60)
		}
	})
	t.Run("latency by app", func(t *testing.T) {
		s := query(t, a, "hello", time.Time{}, ByApp)
		want := map[string]float64{"shop": 1, "crm": 2, "-": 10}
		for _, g := range s.Groups {
			for _, p := range []float64{g.P50, g.P95, g.P99} {
				if w := want[g.Key]; p < w*0.97 || p > w*1.03 {
					t.Errorf("%s: quantile %v ms, want %v ms ±3%%", g.Key, p, w)
				}
			}
		}
	})
	t.Run("unknown service", func(t *testing.T) {
		s := query(t, a, "nope", time.Time{}, ByNone)
		if got, want := briefs(s), []brief{{"", 0, 0, 0}}; !slices.Equal(got, want) {
			t.Errorf("groups = %+v, want %+v", got, want)
		}
		s = query(t, a, "nope", time.Time{}, ByApp)
		if s.Groups == nil || len(s.Groups) != 0 {
			t.Errorf("groups = %#v, want empty, not nil", s.Groups)
		}
	})
	t.Run("since in the future", func(t *testing.T) {
		s := query(t, a, "hello", t0.Add(time.Hour), ByNone)
		if got, want := briefs(s), []brief{{"", 1, 0, 0}}; !slices.Equal(got, want) {
			t.Errorf("groups = %+v, want %+v (the current minute)", got, want)
		}
	})
}

func TestQueryUnknownDimension(t *testing.T) {
	a := New(Options{})
	_, err := a.Query("hello", time.Time{}, "colour")
	if !errors.Is(err, ErrDimension) {
		t.Fatalf("err = %v, want ErrDimension", err)
	}
	for _, want := range []string{`"colour"`, "app", "version", "route", "status"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

// TestQueryHours records one request a minute for three hours and queries
// windows in the per-minute and the per-hour range.
func TestQueryHours(t *testing.T) {
	clk := newClock(t0)
	a := New(Options{Now: clk.Now, Retention: 2 * time.Hour})
	for range 180 {
		a.Record(Event{Service: "hello", Status: 200, Duration: time.Millisecond})
		clk.Add(time.Minute)
	}
	clk.Add(-time.Minute + 30*time.Second) // 14:59:30; 180 requests, in 12:00..14:59
	now := clk.Now()
	tests := []struct {
		name      string
		since     time.Time
		wantSince time.Time
		want      int64
	}{
		{"last minute", now, t0.Add(179 * time.Minute), 1},
		{"an hour", now.Add(-time.Hour), t0.Add(119 * time.Minute), 61},
		{"64 minutes", now.Add(-63 * time.Minute), t0.Add(116 * time.Minute), 64},
		// Older than the per-minute range: from the start of the hour.
		{"90 minutes", now.Add(-90 * time.Minute), t0.Add(time.Hour), 120},
		// Beyond the retention (2h, from 12:59:30): from the next hour.
		{"3 hours", now.Add(-3 * time.Hour), t0.Add(time.Hour), 120},
		{"everything", time.Time{}, t0.Add(time.Hour), 120},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := query(t, a, "hello", tt.since, ByNone)
			if !s.Since.Equal(tt.wantSince) {
				t.Errorf("since = %v, want %v", s.Since, tt.wantSince)
			}
			if got := s.Groups[0].Requests; got != tt.want {
				t.Errorf("requests = %d, want %d", got, tt.want)
			}
		})
	}
	t.Run("old hours are dropped", func(t *testing.T) {
		// At 15:05 12:00..13:00 is older than the retention.
		clk.Add(5*time.Minute + 30*time.Second)
		a.Record(Event{Service: "hello", Status: 200})
		s := a.services["hello"].series[seriesKey{dimStatus, "2xx"}]
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, h := range s.hours {
			if h.hour < floorDiv(t0.Unix(), 3600)+1 {
				t.Errorf("hour %v is still kept, older than the retention", time.Unix(h.hour*3600, 0).UTC())
			}
		}
	})
}

// TestRetention checks data older than the retention is not reported, at
// minute resolution when the retention is short.
func TestRetention(t *testing.T) {
	clk := newClock(t0)
	a := New(Options{Now: clk.Now, Retention: 10 * time.Minute})
	a.Record(Event{Service: "hello", Status: 200})
	clk.Add(5 * time.Minute)
	a.Record(Event{Service: "hello", Status: 200})
	clk.Add(5*time.Minute + 30*time.Second) // 12:10:30: 12:00 is older than 10 minutes
	s := query(t, a, "hello", time.Time{}, ByNone)
	if got := s.Groups[0].Requests; got != 1 {
		t.Errorf("requests = %d, want 1", got)
	}
	if want := t0.Add(time.Minute); !s.Since.Equal(want) {
		t.Errorf("since = %v, want %v", s.Since, want)
	}
	clk.Add(10 * time.Minute)
	s = query(t, a, "hello", time.Time{}, ByNone)
	if got := s.Groups[0].Requests; got != 0 {
		t.Errorf("requests after another 10 minutes = %d, want 0", got)
	}
}

// TestRingReuse records in the same slot of the ring twice, 64 minutes
// apart, and checks nothing is lost or counted twice.
func TestRingReuse(t *testing.T) {
	clk := newClock(t0)
	a := New(Options{Now: clk.Now})
	for range 3 {
		a.Record(Event{Service: "hello", Status: 200})
	}
	clk.Add(ringMinutes * time.Minute)
	a.Record(Event{Service: "hello", Status: 200})
	tests := []struct {
		since time.Time
		want  int64
	}{
		{t0, 4},
		{t0.Add(time.Minute), 1},
	}
	for _, tt := range tests {
		s := query(t, a, "hello", tt.since, ByNone)
		if got := s.Groups[0].Requests; got != tt.want {
			t.Errorf("since %v: requests = %d, want %d", tt.since, got, tt.want)
		}
	}
}

// series gathers a metric's series as label maps.
func gather(t *testing.T, r *prometheus.Registry, name string) []map[string]string {
	t.Helper()
	families, err := r.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.Metric {
			labels := map[string]string{}
			for _, l := range m.Label {
				labels[l.GetName()] = l.GetValue()
			}
			labels["#"] = fmt.Sprint(value(m))
			out = append(out, labels)
		}
	}
	return out
}

func value(m *dto.Metric) uint64 {
	if m.Counter != nil {
		return uint64(m.Counter.GetValue())
	}
	return m.Histogram.GetSampleCount()
}

// labelValues returns the distinct values of a label and their totals.
func labelValues(series []map[string]string, label string) map[string]int {
	out := map[string]int{}
	for _, s := range series {
		var n int
		fmt.Sscan(s["#"], &n)
		out[s[label]] += n
	}
	return out
}

func TestCaps(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := New(Options{Registry: reg, MaxApps: 2, MaxRoutes: 2})
	for i, app := range []string{"a", "", "b", "c", "a", "d", "other", "-"} {
		a.Record(Event{Service: "hello", Version: 1, Route: fmt.Sprintf("/r%d", i%4), Status: 200, App: app})
	}
	a.Record(Event{Service: "world", Route: "/r9", Status: 200, App: "e"})

	requests := gather(t, reg, "mote_api_requests_total")
	hello := requests[:0:0]
	for _, s := range requests {
		if s["service"] == "hello" {
			hello = append(hello, s)
		}
	}
	if got, want := labelValues(hello, "app"), map[string]int{"a": 2, "b": 1, "-": 2, "other": 3}; !mapsEqual(got, want) {
		t.Errorf("apps = %v, want %v", got, want)
	}
	if got, want := labelValues(hello, "route"), map[string]int{"/r0": 2, "/r1": 2, "other": 4}; !mapsEqual(got, want) {
		t.Errorf("routes = %v, want %v", got, want)
	}
	// The app cap is per node; the route cap per service.
	if got, want := labelValues(requests, "app")["other"], 4; got != want {
		t.Errorf("app other across services = %d, want %d", got, want)
	}
	if got, want := labelValues(requests, "route")["/r9"], 1; got != want {
		t.Errorf("world's route /r9 = %d, want %d", got, want)
	}
	// Only the combinations beyond the caps are aliases: not "" for "-" or "*".
	if a.aliases != 6 {
		t.Errorf("aliases = %d, want 6", a.aliases)
	}
	durations := gather(t, reg, "mote_api_request_duration_seconds")
	if len(durations) != 2 {
		t.Errorf("duration series = %v, want one per service", durations)
	}
	for _, s := range durations {
		if _, ok := s["app"]; ok {
			t.Errorf("duration has an app label: %v", s)
		}
	}

	s := query(t, a, "hello", time.Time{}, ByApp)
	got := map[string]int{}
	for _, g := range s.Groups {
		got[g.Key] = int(g.Requests)
	}
	if want := map[string]int{"a": 2, "b": 1, "-": 2, "other": 3}; !mapsEqual(got, want) {
		t.Errorf("Query by app = %v, want %v", got, want)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestStatusClasses(t *testing.T) {
	a := New(Options{})
	for _, code := range []int{101, 200, 299, 301, 404, 499, 500, 599, 0, 600, -1} {
		a.Record(Event{Service: "hello", Status: code})
	}
	got := map[string]int{}
	for _, g := range query(t, a, "hello", time.Time{}, ByStatus).Groups {
		got[g.Key] = int(g.Requests)
	}
	if want := map[string]int{"1xx": 1, "2xx": 2, "3xx": 1, "4xx": 2, "5xx": 2, "other": 3}; !mapsEqual(got, want) {
		t.Errorf("classes = %v, want %v", got, want)
	}
}

func TestForget(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := New(Options{Registry: reg, MaxRoutes: 1})
	for _, svc := range []string{"hello", "world"} {
		a.Record(Event{Service: svc, Route: "/a", Status: 200, App: "shop"})
		a.Record(Event{Service: svc, Route: "/b", Status: 200, App: "shop"}) // "other": an alias
	}
	a.Forget("hello")
	for _, name := range []string{"mote_api_requests_total", "mote_api_request_duration_seconds"} {
		for _, s := range gather(t, reg, name) {
			if s["service"] == "hello" {
				t.Errorf("%s still has %v", name, s)
			}
		}
	}
	if got := query(t, a, "hello", time.Time{}, ByNone).Groups[0].Requests; got != 0 {
		t.Errorf("requests after Forget = %d, want 0", got)
	}
	if got := query(t, a, "world", time.Time{}, ByNone).Groups[0].Requests; got != 2 {
		t.Errorf("world's requests = %d, want 2", got)
	}
	if a.aliases != 1 {
		t.Errorf("aliases = %d, want 1 (world's)", a.aliases)
	}
	// Routes are forgotten: /b now has room.
	a.Record(Event{Service: "hello", Route: "/b", Status: 200, App: "shop"})
	s := query(t, a, "hello", time.Time{}, ByRoute)
	if got, want := briefs(s), []brief{{"/b", 1, 0, 0}}; !slices.Equal(got, want) {
		t.Errorf("groups after Forget = %+v, want %+v", got, want)
	}
}

func TestForgetVersion(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := New(Options{Registry: reg})
	for v := 1; v <= 2; v++ {
		a.Record(Event{Service: "hello", Version: v, Status: 200, App: "shop"})
		a.Record(Event{Service: "world", Version: v, Status: 200, App: "shop"})
	}
	a.ForgetVersion("hello", 1)
	for _, name := range []string{"mote_api_requests_total", "mote_api_request_duration_seconds"} {
		got := map[string]bool{}
		for _, s := range gather(t, reg, name) {
			got[s["service"]+"/"+s["version"]] = true
		}
		if want := map[string]bool{"hello/2": true, "world/1": true, "world/2": true}; len(got) != len(want) || !got["hello/2"] || !got["world/1"] || !got["world/2"] {
			t.Errorf("%s: series %v, want %v", name, got, want)
		}
	}
	if got, want := briefs(query(t, a, "hello", time.Time{}, ByVersion)), []brief{{"2", 1, 0, 0}}; !slices.Equal(got, want) {
		t.Errorf("by version = %+v, want %+v", got, want)
	}
	if got, want := briefs(query(t, a, "hello", time.Time{}, ByApp)), []brief{{"shop", 2, 0, 0}}; !slices.Equal(got, want) {
		t.Errorf("by app = %+v, want %+v", got, want)
	}
	// Version 1 can come back.
	a.Record(Event{Service: "hello", Version: 1, Status: 200, App: "shop"})
	if got, want := briefs(query(t, a, "hello", time.Time{}, ByVersion)), []brief{{"1", 1, 0, 0}, {"2", 1, 0, 0}}; !slices.Equal(got, want) {
		t.Errorf("by version = %+v, want %+v", got, want)
	}
}

// TestSweep checks a series without traffic gives its minutes back once
// they leave the ring, and that they are still counted, per hour.
func TestSweep(t *testing.T) {
	clk := newClock(t0)
	a := New(Options{Now: clk.Now})
	a.Record(Event{Service: "hello", Status: 200, App: "idle"})
	clk.Add(ringMinutes * time.Minute)
	a.Record(Event{Service: "hello", Status: 200, App: "busy"}) // starts a sweep
	idle := func() *series {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.services["hello"].series[seriesKey{dimApp, "idle"}]
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		idle.mu.Lock()
		cells := 0
		for i := range idle.slots {
			if idle.slots[i].Load() != nil {
				cells++
			}
		}
		hours := len(idle.hours)
		idle.mu.Unlock()
		if cells == 0 && hours == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("idle series: %d cells, %d hours; want 0, 1", cells, hours)
		}
		time.Sleep(time.Millisecond)
	}
	got := briefs(query(t, a, "hello", time.Time{}, ByApp))
	if want := []brief{{"busy", 1, 0, 0}, {"idle", 1, 0, 0}}; !slices.Equal(got, want) {
		t.Errorf("by app = %+v, want %+v", got, want)
	}
}

// TestSharedRegistry checks a second Analytics on the same registry shares
// the series rather than failing.
func TestSharedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := New(Options{Registry: reg})
	b := New(Options{Registry: reg})
	a.Record(Event{Service: "hello", Status: 200})
	b.Record(Event{Service: "hello", Status: 200})
	if got := labelValues(gather(t, reg, "mote_api_requests_total"), "service")["hello"]; got != 2 {
		t.Errorf("requests = %d, want 2", got)
	}
}

// TestHammer records from many goroutines while the clock moves, queries
// run and another service is forgotten, then checks every request of the
// kept service is counted once. Run it with -race.
func TestHammer(t *testing.T) {
	clk := newClock(t0)
	reg := prometheus.NewRegistry()
	a := New(Options{Registry: reg, Now: clk.Now, MaxApps: 3, MaxRoutes: 3})
	const workers, perWorker = 8, 3000
	var wg sync.WaitGroup
	var stop atomic.Bool
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				a.Record(Event{
					Service:  "hello",
					Version:  i % 3,
					Route:    fmt.Sprintf("/r%d", (i+w)%5),
					Status:   200 + 100*(i%4),
					App:      fmt.Sprintf("app%d", w),
					Duration: time.Duration(i) * time.Microsecond,
				})
				a.Record(Event{Service: "gone", Status: 200})
			}
		})
	}
	var side sync.WaitGroup
	side.Go(func() {
		for !stop.Load() {
			if clk.Now().Before(t0.Add(3 * time.Hour)) { // well within the retention
				clk.Add(7 * time.Second)
			}
			for _, by := range []string{ByNone, ByApp, ByVersion, ByRoute, ByStatus} {
				if _, err := a.Query("hello", time.Time{}, by); err != nil {
					t.Error(err)
				}
			}
			a.Forget("gone")
			a.ForgetVersion("hello", 99)
			if _, err := reg.Gather(); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	stop.Store(true)
	side.Wait()

	const want = workers * perWorker
	for _, by := range []string{ByNone, ByApp, ByVersion, ByRoute, ByStatus} {
		var sum int64
		for _, g := range query(t, a, "hello", time.Time{}, by).Groups {
			sum += g.Requests
		}
		if sum != want {
			t.Errorf("by %q: %d requests, want %d", by, sum, want)
		}
	}
	if got := labelValues(gather(t, reg, "mote_api_requests_total"), "service")["hello"]; got != want {
		t.Errorf("prometheus: %d requests, want %d", got, want)
	}
}

// cpuTime is the process's user and system CPU time so far. The machine
// these run on is shared, so the benchmarks report CPU time per operation
// (cpu-ns/op) next to wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchmark runs op serially and in parallel, reporting CPU time per op.
func benchmark(b *testing.B, name string, op func(i int)) {
	b.Run(name, func(b *testing.B) {
		b.ReportAllocs()
		start := cpuTime()
		i := 0
		for b.Loop() {
			op(i)
			i++
		}
		b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
	})
	b.Run(name+"/parallel", func(b *testing.B) {
		b.ReportAllocs()
		start := cpuTime()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				op(i)
				i++
			}
		})
		b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
	})
}

// BenchmarkRecord measures Record with and without Prometheus export, and
// with the end time passed in. Baselines from the same run: a clock read,
// and what the gateway's existing metrics (internal/metrics) cost a request.
func BenchmarkRecord(b *testing.B) {
	events := []Event{
		{Service: "hello", Version: 3, Route: "/items/{id}", Status: 200, App: "shop", Duration: 350 * time.Microsecond},
		{Service: "hello", Version: 3, Route: "/items", Status: 201, App: "crm", Duration: 2 * time.Millisecond},
		{Service: "hello", Version: 3, Route: "", Status: 404, App: "", Duration: 90 * time.Microsecond},
		{Service: "world", Version: 1, Route: "/", Status: 200, App: "shop", Duration: time.Millisecond},
	}
	for _, bc := range []struct {
		name string
		reg  *prometheus.Registry
	}{
		{"prometheus", prometheus.NewRegistry()},
		{"store only", nil},
	} {
		a := New(Options{Registry: bc.reg})
		for range 2 {
			for _, e := range events {
				a.Record(e) // creates and publishes the combinations' handles
			}
		}
		benchmark(b, bc.name, func(i int) { a.Record(events[i&3]) })
		if bc.reg != nil {
			timed := slices.Clone(events)
			for i := range timed {
				timed[i].Time = time.Now()
			}
			benchmark(b, bc.name+" with time", func(i int) { a.Record(timed[i&3]) })
		}
	}
	benchmark(b, "baseline time.Now", func(int) { _ = time.Now() })
	m := metrics.New()
	hello := m.For("hello")
	benchmark(b, "baseline gateway metrics", func(int) {
		hello.Request(200)
		hello.Duration.Observe((350 * time.Microsecond).Seconds())
	})
}

func BenchmarkQuery(b *testing.B) {
	a := New(Options{})
	for i := range 10000 {
		a.Record(Event{Service: "hello", Route: fmt.Sprintf("/r%d", i%20), Status: 200, App: fmt.Sprintf("app%d", i%50), Duration: time.Duration(i) * time.Microsecond})
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Query("hello", time.Time{}, ByApp); err != nil {
			b.Fatal(err)
		}
	}
}
