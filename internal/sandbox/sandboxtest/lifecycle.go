package sandboxtest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mote-run/mote/internal/sandbox"
)

// hammerGoroutines is how many goroutines the Hammer sub-test runs.
const hammerGoroutines = 50

func testHammer(t *testing.T, h Harness) {
	const maxInstances = 4
	r := h.load(t, "conform-hammer", func(s *sandbox.Spec) {
		s.MaxInstances, s.MaxQueue, s.Timeout = maxInstances, 10*hammerGoroutines, 30*time.Second
	})
	var failures atomic.Int64
	fail := func(format string, args ...any) {
		if failures.Add(1) <= 10 {
			t.Errorf(format, args...)
		}
	}
	var wg sync.WaitGroup
	for g := range hammerGoroutines {
		wg.Go(func() {
			for i := range h.HammerRequests {
				if failures.Load() > 0 {
					return
				}
				req := newRequest("POST", fmt.Sprintf("/hammer/%d/%d", g, i), fmt.Sprintf("g=%d&i=%d", g, i))
				req.Header.Set("X-Conform-Seq", fmt.Sprintf("%d-%d", g, i))
				req.Body = fmt.Appendf(allBytes[:g:g], "\x00%d/%d", g, i)
				resp, err := r.try(t, req)
				if err != nil {
					fail("goroutine %d request %d: %v", g, i, err)
					return
				}
				if resp.Status != http.StatusOK {
					fail("goroutine %d request %d: status %d %s", g, i, resp.Status, short(resp.Body))
					return
				}
				if problems := echoProblems(req, resp); len(problems) > 0 {
					fail("goroutine %d request %d: %s", g, i, strings.Join(problems, "; "))
				}
			}
		})
	}
	wg.Wait()
	if n := len(r.Instances()); n > maxInstances {
		t.Errorf("%d instances live after the hammer, more than MaxInstances %d", n, maxInstances)
	}
	if failures.Load() > 10 {
		t.Errorf("… %d failures in all", failures.Load())
	}
}

func testClose(t *testing.T, h Harness) {
	r := h.load(t, "conform-close", nil)
	r.warm(t, h, 1)
	s := r.scalable(t)
	type result struct {
		resp *sandbox.Response
		err  error
	}
	const hold = 300 * time.Millisecond
	done := make(chan result, 1)
	began := time.Now()
	go func() {
		resp, err := r.try(t, sleep(hold))
		done <- result{resp, err}
	}()
	waitFor(t, h.StartBudget, "the request is in flight", func() (bool, string) {
		n := s.InFlight()
		return n == 1, fmt.Sprintf("InFlight() = %d", n)
	})

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		t.Errorf("Close with a request in flight: %v", err)
	}
	// The guest cannot have answered before it slept hold.
	if took := time.Since(began); took < hold {
		t.Errorf("Close returned %s after the request began, before its guest could answer (it sleeps %s): Close must wait for requests in flight", took, hold)
	}
	select {
	case res := <-done:
		if res.err != nil || res.resp.Status != http.StatusOK {
			t.Errorf("the request in flight at Close: %v %v, want it served", res.err, res.resp)
		}
	case <-time.After(time.Minute):
		t.Fatalf("the request in flight at Close never returned")
	}
	if _, err := r.try(t, get("/after-close", "")); !errors.Is(err, sandbox.ErrClosed) {
		t.Errorf("Serve after Close: got %v, want an error wrapping sandbox.ErrClosed", err)
	}
	if list := r.Instances(); len(list) != 0 {
		t.Errorf("Instances() after Close lists %+v: Close releases them", list)
	}
	if err := r.Close(ctx); err != nil {
		t.Errorf("a second Close: %v", err)
	}
}
