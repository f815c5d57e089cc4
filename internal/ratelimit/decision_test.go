package ratelimit

import (
	"errors"
	"net/http"
	"reflect"
	"testing"
	"time"
)

func TestWriteHeaders(t *testing.T) {
	rateOK := &Decision{Allowed: true, Policy: "rate", Limit: 100, Remaining: 42, Window: time.Second, Reset: 580 * time.Millisecond}
	rateDenied := &Decision{Allowed: false, Policy: "rate", Limit: 100, Remaining: 0, Window: time.Second, Reset: time.Second, RetryAfter: 10 * time.Millisecond}
	quotaOK := &Decision{Allowed: true, Policy: "quota", Limit: 1000, Remaining: 999, Window: 24 * time.Hour, Reset: 3599*time.Second + time.Millisecond}
	quotaLow := &Decision{Allowed: true, Policy: "quota", Limit: 1000, Remaining: 3, Window: 30 * 24 * time.Hour, Reset: 90 * time.Second}
	quotaDenied := &Decision{Allowed: false, Policy: "quota", Limit: 1000, Remaining: 0, Window: 24 * time.Hour, Reset: 2 * time.Hour, RetryAfter: 2 * time.Hour}

	tests := []struct {
		name string
		ds   []*Decision
		want http.Header
	}{
		{
			name: "rate only",
			ds:   []*Decision{rateOK},
			want: http.Header{
				"Ratelimit-Policy":      {`"rate";q=100;w=1`},
				"Ratelimit":             {`"rate";r=42;t=1`},
				"X-Ratelimit-Limit":     {"100"},
				"X-Ratelimit-Remaining": {"42"},
				"X-Ratelimit-Reset":     {"1"},
			},
		},
		{
			name: "rate and quota, quota has fewer left",
			ds:   []*Decision{rateOK, quotaLow},
			want: http.Header{
				"Ratelimit-Policy":      {`"rate";q=100;w=1, "quota";q=1000;w=2592000`},
				"Ratelimit":             {`"rate";r=42;t=1, "quota";r=3;t=90`},
				"X-Ratelimit-Limit":     {"1000"},
				"X-Ratelimit-Remaining": {"3"},
				"X-Ratelimit-Reset":     {"90"},
			},
		},
		{
			name: "rate and quota, rate has fewer left",
			ds:   []*Decision{rateOK, quotaOK},
			want: http.Header{
				"Ratelimit-Policy":      {`"rate";q=100;w=1, "quota";q=1000;w=86400`},
				"Ratelimit":             {`"rate";r=42;t=1, "quota";r=999;t=3600`},
				"X-Ratelimit-Limit":     {"100"},
				"X-Ratelimit-Remaining": {"42"},
				"X-Ratelimit-Reset":     {"1"},
			},
		},
		{
			name: "rate denied: Retry-After at least 1",
			ds:   []*Decision{rateDenied, nil},
			want: http.Header{
				"Ratelimit-Policy":      {`"rate";q=100;w=1`},
				"Ratelimit":             {`"rate";r=0;t=1`},
				"X-Ratelimit-Limit":     {"100"},
				"X-Ratelimit-Remaining": {"0"},
				"X-Ratelimit-Reset":     {"1"},
				"Retry-After":           {"1"},
			},
		},
		{
			name: "both denied: the longer wait wins",
			ds:   []*Decision{rateDenied, quotaDenied},
			want: http.Header{
				"Ratelimit-Policy":      {`"rate";q=100;w=1, "quota";q=1000;w=86400`},
				"Ratelimit":             {`"rate";r=0;t=1, "quota";r=0;t=7200`},
				"X-Ratelimit-Limit":     {"1000"},
				"X-Ratelimit-Remaining": {"0"},
				"X-Ratelimit-Reset":     {"7200"},
				"Retry-After":           {"7200"},
			},
		},
		{
			name: "a denial beats fewer remaining",
			ds:   []*Decision{quotaLow, rateDenied},
			want: http.Header{
				"Ratelimit-Policy":      {`"quota";q=1000;w=2592000, "rate";q=100;w=1`},
				"Ratelimit":             {`"quota";r=3;t=90, "rate";r=0;t=1`},
				"X-Ratelimit-Limit":     {"100"},
				"X-Ratelimit-Remaining": {"0"},
				"X-Ratelimit-Reset":     {"1"},
				"Retry-After":           {"1"},
			},
		},
		{
			name: "nothing applies",
			ds:   []*Decision{nil, {Allowed: true, Policy: "rate"}},
			want: http.Header{},
		},
		{
			name: "odd policy name is escaped",
			ds:   []*Decision{{Allowed: true, Policy: "a\"b\\c\n", Limit: 1, Window: 1500 * time.Millisecond}},
			want: http.Header{
				"Ratelimit-Policy":      {`"a\"b\\c";q=1;w=2`},
				"Ratelimit":             {`"a\"b\\c";r=0;t=0`},
				"X-Ratelimit-Limit":     {"1"},
				"X-Ratelimit-Remaining": {"0"},
				"X-Ratelimit-Reset":     {"0"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			WriteHeaders(h, tt.ds...)
			if !reflect.DeepEqual(h, tt.want) {
				t.Errorf("headers\n got %v\nwant %v", h, tt.want)
			}
		})
	}
}

// TestWriteHeadersFromLimiter ties Allow's Decision to the header text.
func TestWriteHeadersFromLimiter(t *testing.T) {
	l := NewLimiter()
	r := Rate{N: 100, Per: time.Second}
	var d Decision
	for range 58 {
		d = l.Allow("k", r, 0, t0)
	}
	h := http.Header{}
	WriteHeaders(h, &d)
	if got, want := h.Get("RateLimit-Policy"), `"rate";q=100;w=1`; got != want {
		t.Errorf("RateLimit-Policy = %s, want %s", got, want)
	}
	if got, want := h.Get("RateLimit"), `"rate";r=42;t=1`; got != want {
		t.Errorf("RateLimit = %s, want %s", got, want)
	}
}

func TestCeilSeconds(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want int64
	}{
		{-time.Second, 0},
		{0, 0},
		{1, 1},
		{time.Second, 1},
		{time.Second + 1, 2},
		{1<<63 - 1, 9223372037},
	}
	for _, tt := range tests {
		if got := ceilSeconds(tt.d); got != tt.want {
			t.Errorf("ceilSeconds(%v) = %d, want %d", tt.d, got, tt.want)
		}
	}
}

func TestDecisionString(t *testing.T) {
	tests := []struct {
		d    Decision
		want string
	}{
		{Decision{Allowed: true, Policy: "rate", Limit: 100, Remaining: 42}, "rate allowed 42/100"},
		{Decision{Policy: "quota", Limit: 1000, RetryAfter: 1500 * time.Millisecond}, "quota denied 0/1000 retry in 2s"},
		{Decision{Policy: "quota", Limit: 1000, Err: errors.New("boom")}, "quota denied 0/1000 retry in 1s (boom)"},
	}
	for _, tt := range tests {
		if got := tt.d.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

// TestWriteIETFHeaders: the IETF pair only, plus Retry-After on a denial.
func TestWriteIETFHeaders(t *testing.T) {
	allowed := &Decision{Allowed: true, Policy: PolicyRate, Limit: 100, Remaining: 42, Window: time.Second, Reset: time.Second}
	h := http.Header{}
	WriteIETFHeaders(h, allowed)
	want := http.Header{"Ratelimit-Policy": {`"rate";q=100;w=1`}, "Ratelimit": {`"rate";r=42;t=1`}}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("allowed: %v, want %v", h, want)
	}
	denied := &Decision{Policy: PolicyRate, Limit: 100, Window: time.Second, Reset: time.Second, RetryAfter: 2500 * time.Millisecond}
	h = http.Header{}
	WriteIETFHeaders(h, denied)
	if h.Get("Retry-After") != "3" || h.Get("X-RateLimit-Limit") != "" || h.Get("RateLimit") != `"rate";r=0;t=1` {
		t.Errorf("denied: %v", h)
	}
}
