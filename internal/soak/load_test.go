package soak

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// target is one kind of request in the mix.
type target struct {
	name   string
	method string
	url    string
	header http.Header
	body   []byte
	weight int // share of the mix, in requests per round of the mix
}

// mix is the request sequence the load cycles through: each target
// weight times, interleaved so that every short stretch has every kind.
type mix []*target

func newMix(ts []*target) mix {
	var m mix
	for round := 0; ; round++ {
		added := false
		for _, t := range ts {
			if round < t.weight {
				m = append(m, t)
				added = true
			}
		}
		if !added {
			return m
		}
	}
}

// do sends one request and reads the whole answer; a transport error, a
// status other than 200 or a read error is an error naming the target.
func (t *target) do(ctx context.Context, hc *http.Client) error {
	var body io.Reader
	if t.body != nil {
		body = bytes.NewReader(t.body)
	}
	req, err := http.NewRequestWithContext(ctx, t.method, t.url, body)
	if err != nil {
		return fmt.Errorf("%s: %w", t.name, err)
	}
	for k, v := range t.header {
		req.Header[k] = v
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", t.name, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("%s: read answer: %w", t.name, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: status %d: %.200s", t.name, resp.StatusCode, b)
	}
	return nil
}

func newHTTPClient(conns int) *http.Client {
	return &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}}
}

// closedLoop sends the mix from conns workers, each waiting for its answer
// before the next request, for d; it returns the rate of answered requests
// and the first error (any error ends the run).
func closedLoop(ctx context.Context, m mix, conns int, d time.Duration) (float64, error) {
	hc := newHTTPClient(conns)
	defer hc.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		next, done atomic.Int64
		wg         sync.WaitGroup
		once       sync.Once
		first      error
	)
	start := time.Now()
	for range conns {
		wg.Go(func() {
			for ctx.Err() == nil {
				t := m[int(next.Add(1))%len(m)]
				if err := t.do(ctx, hc); err != nil {
					if ctx.Err() == nil {
						once.Do(func() { first = err; cancel() })
					}
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	return float64(done.Load()) / time.Since(start).Seconds(), first
}

// openLoop sends the mix at a fixed rate, whatever the answers' speed,
// with at most conns requests in flight. Each request is timed from when it
// was due, so a request that waits for a free connection counts its wait
// (no coordinated omission). Read the counts with take.
type openLoop struct {
	m     mix
	rate  float64
	conns int

	mu       sync.Mutex
	lat      []time.Duration // answered since the last take
	errs     int             // since the last take
	done     int64           // answered in all
	failed   int64           // errors in all
	firstErr []string        // the first few errors
}

// interval is what take returns: the requests that ended since the last
// take.
type interval struct {
	done, errors       int
	p50, p99           time.Duration
	totalDone, totalEr int64
}

// run sends requests until ctx ends, then waits for those in flight.
func (o *openLoop) run(ctx context.Context) {
	hc := newHTTPClient(o.conns)
	defer hc.CloseIdleConnections()
	sem := make(chan struct{}, o.conns)
	var wg sync.WaitGroup
	step := time.Duration(float64(time.Second) / o.rate)
	start := time.Now()
	for i := 0; ; i++ {
		due := start.Add(time.Duration(i) * step)
		if wait := time.Until(due); wait > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
		}
		if ctx.Err() != nil {
			break
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		t := o.m[i%len(o.m)]
		wg.Go(func() {
			defer func() { <-sem }()
			// Requests in flight at the end finish on their own
			// context: the end of the run is not an error.
			rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err := t.do(rctx, hc)
			cancel()
			took := time.Since(due)
			o.mu.Lock()
			defer o.mu.Unlock()
			if err != nil {
				o.errs++
				o.failed++
				if len(o.firstErr) < 10 {
					o.firstErr = append(o.firstErr, time.Now().UTC().Format("15:04:05")+" "+err.Error())
				}
				return
			}
			o.lat = append(o.lat, took)
			o.done++
		})
	}
	wg.Wait()
}

// take returns the counts and latency quantiles of the requests that ended
// since the last take, and starts a new interval.
func (o *openLoop) take() interval {
	o.mu.Lock()
	lat, errs := o.lat, o.errs
	o.lat, o.errs = make([]time.Duration, 0, len(lat)), 0
	iv := interval{done: len(lat), errors: errs, totalDone: o.done, totalEr: o.failed}
	o.mu.Unlock()
	slices.Sort(lat)
	iv.p50, iv.p99 = quantile(lat, 0.50), quantile(lat, 0.99)
	return iv
}

// errorsSeen returns the first few errors, with their times.
func (o *openLoop) errorsSeen() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.firstErr)
}

// quantile of sorted durations (0 for none).
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}
