package ratelimit_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/mote-run/mote/internal/ratelimit"
)

// memStore is a QuotaStore in memory, for the example.
type memStore map[string]int64

func (m memStore) LoadQuota(_ context.Context, c string) (int64, error) { return m[c], nil }
func (m memStore) AddQuota(_ context.Context, c string, d int64) (int64, error) {
	m[c] += d
	return m[c], nil
}

// The gateway checks the rate, then the quota, and writes the headers of
// both; a denial becomes a 429 (or a 503 when Decision.Err is set).
func Example() {
	rate, _ := ratelimit.ParseRate("2/s")
	quota, _ := ratelimit.ParseQuota("1000/day")
	limiter := ratelimit.NewLimiter()
	quotas := ratelimit.NewQuotas(memStore{}, ratelimit.QuotaOptions{})
	now := time.Date(2026, 11, 27, 23, 0, 0, 0, time.UTC)

	for range 3 {
		h := http.Header{}
		r := limiter.Allow("0123456789ab", rate, 0, now)
		ds := []*ratelimit.Decision{&r}
		if r.Allowed {
			q := quotas.Use(context.Background(), "0123456789ab", quota, now)
			ds = append(ds, &q)
		}
		ratelimit.WriteHeaders(h, ds...)
		fmt.Printf("allowed=%v RateLimit: %s Retry-After: %q\n", r.Allowed, h.Get("RateLimit"), h.Get("Retry-After"))
	}
	// Output:
	// allowed=true RateLimit: "rate";r=1;t=1, "quota";r=999;t=3600 Retry-After: ""
	// allowed=true RateLimit: "rate";r=0;t=1, "quota";r=998;t=3600 Retry-After: ""
	// allowed=false RateLimit: "rate";r=0;t=1 Retry-After: "1"
}
