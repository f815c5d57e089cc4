package sandboxtest

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mote-run/mote/internal/sandbox"
	"github.com/mote-run/mote/internal/sandbox/sandboxtest/conform"
)

// sleep returns a request for /sleep?ms=d.
func sleep(d time.Duration) *sandbox.Request {
	return get("/sleep", "ms="+strconv.FormatInt(d.Milliseconds(), 10))
}

func testTimeout(t *testing.T, h Harness) {
	r := h.load(t, "conform-timeout", func(s *sandbox.Spec) { s.Timeout = h.Timeout })
	r.warm(t, h, 1)
	began := time.Now()
	_, err := r.try(t, sleep(3*h.Timeout))
	took := time.Since(began)
	if !errors.Is(err, sandbox.ErrTimeout) {
		t.Fatalf("a request sleeping 3× Timeout (%s): got %v, want an error wrapping sandbox.ErrTimeout", h.Timeout, err)
	}
	if took < h.Timeout {
		t.Errorf("the request timed out after %s, before its Timeout %s", took, h.Timeout)
	}
	// The next request may need a new instance: the one that timed out
	// may be gone.
	r.serve(t, sleep(time.Millisecond), http.StatusOK)
	r.serve(t, get("/after-timeout", ""), http.StatusOK)
}

func testTimeoutPrompt(t *testing.T, h Harness) {
	r := h.load(t, "conform-timeoutprompt", func(s *sandbox.Spec) { s.Timeout = h.Timeout })
	r.warm(t, h, 1)
	guestSleeps := max(10*h.Timeout, h.Timeout+3*h.Slack)
	began := time.Now()
	_, err := r.try(t, sleep(guestSleeps))
	took := time.Since(began)
	if !errors.Is(err, sandbox.ErrTimeout) {
		t.Fatalf("a request sleeping %s: got %v, want an error wrapping sandbox.ErrTimeout", guestSleeps, err)
	}
	if took > h.Timeout+h.Slack {
		t.Errorf("a request whose guest sleeps %s failed after %s, later than Timeout %s + Slack %s: a timed-out request must fail when its Timeout passes, not when the guest is done",
			guestSleeps, took, h.Timeout, h.Slack)
	}
}

func testExit(t *testing.T, h Harness) {
	r := h.load(t, "conform-exit", nil)
	r.warm(t, h, 1)
	r.serve(t, get("/before", ""), http.StatusOK)
	resp, err := r.try(t, get("/panic", ""))
	var ge *sandbox.GuestError
	switch {
	case !errors.As(err, &ge):
		t.Errorf("a guest that exits: got %v (response %v), want a *sandbox.GuestError", err, resp != nil)
	case !errors.Is(err, sandbox.ErrGuestFailed):
		t.Errorf("a guest that exits: %v does not wrap sandbox.ErrGuestFailed", err)
	case ge.Kind != "exit":
		t.Errorf("a guest that exits: GuestError Kind %q (%v), want \"exit\"", ge.Kind, ge)
	case ge.ExitCode != 0 && ge.ExitCode != conform.ExitCode:
		t.Errorf("a guest that exits with %d: GuestError ExitCode %d (%v), want %d (or 0 when the driver cannot know it)", conform.ExitCode, ge.ExitCode, ge, conform.ExitCode)
	}
	// No retry: the next request is served, by a new instance if need be.
	r.serve(t, get("/after-exit", ""), http.StatusOK)
	r.serve(t, get("/after-exit-2", ""), http.StatusOK)
}

func testNoCapacity(t *testing.T, h Harness) {
	r := h.load(t, "conform-nocapacity", func(s *sandbox.Spec) {
		s.MaxInstances, s.MaxQueue = 1, 1
		if s.Container != nil {
			s.Container.Concurrency = 1
		}
	})
	r.warm(t, h, 1)
	s := r.scalable(t)
	inFlight := func(n int) func() (bool, string) {
		return func() (bool, string) {
			got := s.InFlight()
			return got == n, fmt.Sprintf("InFlight() = %d", got)
		}
	}

	// The first request holds the only instance (and its only slot), the
	// second waits in the one-place queue: a third finds no room.
	hold := time.Second
	var wg sync.WaitGroup
	errs := make([]error, 2)
	serveAsync := func(i int, req *sandbox.Request) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := r.try(t, req)
			if err == nil && resp.Status != http.StatusOK {
				err = fmt.Errorf("status %d", resp.Status)
			}
			errs[i] = err
		}()
	}
	serveAsync(0, sleep(hold))
	waitFor(t, h.StartBudget, "the first request is in flight", inFlight(1))
	serveAsync(1, sleep(time.Millisecond))
	waitFor(t, h.StartBudget, "the second request is queued", inFlight(2))

	began := time.Now()
	_, err := r.try(t, get("/overload", ""))
	took := time.Since(began)
	if !errors.Is(err, sandbox.ErrNoCapacity) {
		t.Errorf("with MaxInstances 1 busy and MaxQueue 1 full, a third request: got %v, want an error wrapping sandbox.ErrNoCapacity", err)
	}
	if took > hold/2 {
		t.Errorf("the refused request took %s: with the queue full it must be refused at once", took)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("request %d of the two admitted: %v", i+1, err)
		}
	}
}

func testConcurrency(t *testing.T, h Harness) {
	r := h.load(t, "conform-concurrency", func(s *sandbox.Spec) { s.MaxInstances, s.MaxQueue = 1, 10 })
	r.warm(t, h, 1)
	const n = 4
	const each = 250 * time.Millisecond
	var wg sync.WaitGroup
	began := time.Now()
	for range n {
		wg.Go(func() {
			resp, err := r.try(t, sleep(each))
			if err != nil {
				t.Errorf("sleep: %v", err)
			} else if resp.Status != http.StatusOK {
				t.Errorf("sleep: status %d", resp.Status)
			}
		})
	}
	wg.Wait()
	took := time.Since(began)
	if h.Concurrent {
		if took >= n*each*3/4 {
			t.Errorf("%d requests sleeping %s each took %s on one instance (MaxInstances 1): a Concurrent driver's instance serves them at once", n, each, took)
		}
	} else if took < n*each {
		t.Errorf("%d requests sleeping %s each took %s on one instance (MaxInstances 1): one at a time they take at least %s", n, each, took, n*each)
	}
	if got := len(r.Instances()); got > 1 {
		t.Errorf("%d instances live with MaxInstances 1", got)
	}
}
