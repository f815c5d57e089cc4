package ratelimit

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"reflect"
	"testing"
	"time"
)

// limitsWant is the exported part of Limits.
type limitsWant struct {
	rate  Rate
	burst int64
	quota Quota
}

func TestParseLimits(t *testing.T) {
	tests := []struct {
		rate   string
		burst  int
		quota  string
		want   limitsWant
		errors []error
	}{
		{"", 0, "", limitsWant{}, nil},
		{"100/s", 200, "1000/day", limitsWant{Rate{100, time.Second}, 200, Quota{1000, Day}}, nil},
		{"5/min", 0, "", limitsWant{Rate{5, time.Minute}, 0, Quota{}}, nil},
		{"", 0, "7/month", limitsWant{Rate{}, 0, Quota{7, Month}}, nil},
		{"bad", 3, "7/month", limitsWant{Rate{}, 3, Quota{7, Month}}, []error{ErrInvalidRate}},
		{"1/s", 0, "7/year", limitsWant{Rate{1, time.Second}, 0, Quota{}}, []error{ErrInvalidQuota}},
		{"x", 0, "y", limitsWant{}, []error{ErrInvalidRate, ErrInvalidQuota}},
	}
	for _, tc := range tests {
		t.Run(tc.rate+" "+tc.quota, func(t *testing.T) {
			l, err := ParseLimits(tc.rate, tc.burst, tc.quota)
			if l == nil || (limitsWant{l.Rate, l.Burst, l.Quota}) != tc.want {
				t.Errorf("limits %v %v %v, want %+v", l.Rate, l.Burst, l.Quota, tc.want)
			}
			if (err != nil) != (len(tc.errors) > 0) {
				t.Errorf("error %v, want %v", err, tc.errors)
			}
			for _, want := range tc.errors {
				if !errors.Is(err, want) {
					t.Errorf("error %v is not %v", err, want)
				}
			}
		})
	}
}

// TestLimitsWriteIETFHeaders: the cached writer writes exactly what
// WriteIETFHeaders writes, whatever the decisions and in whatever order
// they come, so a stale RateLimit-Policy can never be sent.
func TestLimitsWriteIETFHeaders(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	windows := []time.Duration{time.Second, time.Minute, time.Hour, 24 * time.Hour, 28 * 24 * time.Hour, 31 * 24 * time.Hour, 1500 * time.Millisecond}
	decision := func(policy string) *Decision {
		switch rnd.IntN(8) {
		case 0:
			return nil
		case 1:
			return &Decision{Allowed: true, Policy: policy} // limits nothing
		}
		d := &Decision{
			Allowed:   rnd.IntN(6) != 0,
			Policy:    policy,
			Limit:     int64(1 + rnd.IntN(3)),
			Remaining: int64(rnd.IntN(5)) - 1,
			Window:    windows[rnd.IntN(len(windows))],
			Reset:     time.Duration(rnd.Int64N(int64(48 * time.Hour))),
		}
		if !d.Allowed {
			d.RetryAfter = time.Duration(rnd.Int64N(int64(time.Hour)))
		}
		return d
	}
	l := &Limits{}
	for i := range 5000 {
		rd, qd := decision(PolicyRate), decision(PolicyQuota)
		want, got := http.Header{}, http.Header{}
		WriteIETFHeaders(want, rd, qd)
		l.WriteIETFHeaders(got, rd, qd)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("case %d: rate %+v quota %+v:\n got %v\nwant %v", i, rd, qd, got, want)
		}
	}
}

// TestLimitsHeadersAllocations: an allowed request's headers cost the
// RateLimit value's string and slice, nothing else; RateLimit-Policy is
// shared.
func TestLimitsHeadersAllocations(t *testing.T) {
	l, _ := ParseLimits("100/s", 0, "1000/month")
	rd := &Decision{Allowed: true, Policy: PolicyRate, Limit: 100, Remaining: 99, Window: time.Second, Reset: 10 * time.Millisecond}
	qd := &Decision{Allowed: true, Policy: PolicyQuota, Limit: 1000, Remaining: 999, Window: 30 * 24 * time.Hour, Reset: time.Hour}
	h := http.Header{}
	l.WriteIETFHeaders(h, rd, qd)
	first := h["Ratelimit-Policy"]
	if n := testing.AllocsPerRun(1000, func() { l.WriteIETFHeaders(h, rd, qd) }); n != 2 {
		t.Errorf("%v allocations per allowed request, want 2", n)
	}
	if &h["Ratelimit-Policy"][0] != &first[0] || cap(first) != 1 {
		t.Error("RateLimit-Policy's value is not shared, or can be appended to in place")
	}
}

// TestQuotaWindowCache: Use reuses the current window between requests and
// moves to the next one at its end, for days and months alike.
func TestQuotaWindowCache(t *testing.T) { backends(t, testQuotaWindowCache) }

func testQuotaWindowCache(t *testing.T, newStore func() *fakeStore) {
	ctx := t.Context()
	store := newStore()
	q := newQuotas(store, QuotaOptions{})
	day, month := Quota{N: 10, Period: Day}, Quota{N: 10, Period: Month}
	end := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC) // a day's and a month's end
	for _, tc := range []struct {
		at     time.Time
		quota  Quota
		window time.Duration
		reset  time.Duration
	}{
		{end.Add(-time.Nanosecond), day, 24 * time.Hour, time.Nanosecond},
		{end.Add(-time.Nanosecond), month, 30 * 24 * time.Hour, time.Nanosecond},
		{end, day, 24 * time.Hour, 24 * time.Hour},
		{end, month, 31 * 24 * time.Hour, 31 * 24 * time.Hour},
		{end.Add(-time.Hour), day, 24 * time.Hour, time.Hour}, // the clock went back
		{end.Add(-time.Hour), month, 30 * 24 * time.Hour, time.Hour},
		{end.Add(time.Hour), month, 31 * 24 * time.Hour, 31*24*time.Hour - time.Hour},
	} {
		d := q.Use(ctx, "k", tc.quota, tc.at)
		if !d.Allowed || d.Window != tc.window || d.Reset != tc.reset {
			t.Errorf("%v at %v: %+v, want window %v reset %v", tc.quota, tc.at, d, tc.window, tc.reset)
		}
	}
	if err := q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for counter, want := range map[string]int64{"k.2026-11-30": 2, "k.2026-12-01": 1, "k.2026-11": 2, "k.2026-12": 2} {
		if got := store.get(counter); got != want {
			t.Errorf("%s = %d, want %d", counter, got, want)
		}
	}
}

func TestQuotaUseDoesNotAllocate(t *testing.T) {
	q := newQuotas(newFakeStore(), QuotaOptions{})
	quota := Quota{N: 1 << 40, Period: Month}
	q.Use(context.Background(), "0123456789ab", quota, t0)
	if n := testing.AllocsPerRun(1000, func() { q.Use(context.Background(), "0123456789ab", quota, t0) }); n != 0 {
		t.Errorf("Use of a loaded counter: %v allocations, want 0", n)
	}
}
