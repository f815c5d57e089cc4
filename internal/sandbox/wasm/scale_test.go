package wasm

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/guest/abi"
	"github.com/mote-run/mote/internal/sandbox"
)

// gateHost is a Host whose KVGet blocks until the test opens the gate (or
// the request's context ends): a guest calling kv_get is a slow request
// the test controls. Everything else is not found.
type gateHost struct {
	gate    chan struct{}
	entered atomic.Int64 // KVGet calls so far
}

func newGateHost() *gateHost { return &gateHost{gate: make(chan struct{})} }

func (h *gateHost) open() { close(h.gate) }

func (h *gateHost) KVGet(ctx context.Context, key string) ([]byte, error) {
	h.entered.Add(1)
	select {
	case <-h.gate:
		return []byte("v"), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (h *gateHost) KVSet(context.Context, string, []byte, time.Duration) error {
	return sandbox.ErrNotFound
}
func (h *gateHost) KVDelete(context.Context, string) error           { return sandbox.ErrNotFound }
func (h *gateHost) KVList(context.Context, string) ([]string, error) { return nil, sandbox.ErrNotFound }
func (h *gateHost) Config(context.Context, string) (string, error)   { return "", sandbox.ErrNotFound }
func (h *gateHost) Fetch(context.Context, *abi.Request) (*abi.Response, error) {
	return nil, sandbox.ErrNotFound
}
func (h *gateHost) Call(context.Context, string, *abi.Request) (*abi.Response, error) {
	return nil, sandbox.ErrNotFound
}

// gated is a request that waits at the gate: pooled.wasm's /one/kv_get.
func gated(id string) *sandbox.Request {
	req := request("/one/kv_get", "k")
	req.ID = id
	return req
}

// coldStarts records OnColdStart and OnWaitForInstance calls.
type coldStarts struct {
	mu     sync.Mutex
	waits  []time.Duration
	begins atomic.Int64
}

func (c *coldStarts) begin() { c.begins.Add(1) }

func (c *coldStarts) observe(d time.Duration) {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	c.mu.Unlock()
}

func (c *coldStarts) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waits)
}

// loadScalable loads pooled.wasm with MinInstances 0, a long IdleTimeout
// (tests that want the reaper shorten it) and OnColdStart recorded, then
// scales it to zero.
func loadScalable(t testing.TB, d *Driver, edit func(*sandbox.Spec)) (*pooledRunner, *coldStarts) {
	t.Helper()
	cs := &coldStarts{}
	r := loadPooled(t, d, func(s *sandbox.Spec) {
		s.IdleTimeout, s.OnColdStart, s.OnWaitForInstance = time.Hour, cs.observe, cs.begin
		if edit != nil {
			edit(s)
		}
	}).(*pooledRunner)
	r.SetDesired(0)
	if n := len(r.Instances()); n != r.min {
		t.Fatalf("%d instances after SetDesired(0), want min (%d)", n, r.min)
	}
	return r, cs
}

// With min 0 the reaper stops every instance after IdleTimeout without
// traffic; the next request starts one (a cold start) and gets its answer.
func TestPooledScaleToZeroAndBack(t *testing.T) {
	d := newDriver(t)
	cs := &coldStarts{}
	r := loadPooled(t, d, func(s *sandbox.Spec) {
		s.IdleTimeout, s.OnColdStart = 30*time.Millisecond, cs.observe
	}).(*pooledRunner)
	for round := 1; round <= 2; round++ {
		waitFor(t, "the reaper to stop every instance", func() bool { return len(r.Instances()) == 0 })
		if r.Ready() != 0 || r.InFlight() != 0 {
			t.Fatalf("at zero: Ready %d, InFlight %d", r.Ready(), r.InFlight())
		}
		d.mu.Lock()
		held := len(d.modules)
		d.mu.Unlock()
		if held != 1 {
			t.Errorf("at zero the compiled code is not held (%d modules): scaling back up would recompile", held)
		}
		if n := served(t, r); n != 1 {
			t.Errorf("round %d: the request was the instance's request %d, want a fresh instance", round, n)
		}
		if got := cs.count(); got != round {
			t.Errorf("round %d: %d cold starts recorded, want %d", round, got, round)
		}
		if n := r.Ready(); n != 1 {
			t.Errorf("round %d: Ready %d after the cold start, want 1", round, n)
		}
	}
	if got := r.Instances(); len(got) > 1 {
		t.Errorf("instances %+v", got)
	}
	// Load's first instance is a start but not a cold start: no request
	// waited for it.
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for _, w := range cs.waits {
		if w <= 0 || w > 5*time.Second {
			t.Errorf("cold start wait %s", w)
		}
	}
}

// MaxInstances 1 and MaxQueue 2: one request runs, two wait, the fourth is
// refused at once with ErrNoCapacity; the three admitted ones succeed, on
// one instance.
func TestPooledQueueBound(t *testing.T) {
	for _, fromZero := range []bool{true, false} {
		t.Run("from zero="+strconv.FormatBool(fromZero), func(t *testing.T) {
			host := newGateHost()
			r, cs := loadScalable(t, newDriver(t), func(s *sandbox.Spec) {
				s.MaxInstances, s.MaxQueue, s.Host = 1, 2, host
			})
			if !fromZero {
				r.SetDesired(1)
				waitFor(t, "a warm instance", func() bool { return r.Ready() == 1 })
			}
			errs := make(chan error, 3)
			send := func(id string) {
				go func() {
					resp, err := r.Serve(t.Context(), gated(id))
					if err == nil && string(resp.Body) != "ret=1\nv" {
						err = errors.New(id + " answered " + strconv.Quote(string(resp.Body)))
					}
					errs <- err
				}()
			}
			send("r1")
			waitFor(t, "r1 in the guest", func() bool { return host.entered.Load() == 1 })
			send("r2")
			send("r3")
			waitFor(t, "r2 and r3 queued", func() bool { return r.InFlight() == 3 })

			_, err := r.Serve(t.Context(), gated("r4"))
			if !errors.Is(err, sandbox.ErrNoCapacity) || !strings.Contains(err.Error(), "all 1 instances are busy and 2 requests are waiting") {
				t.Fatalf("r4: %v, want ErrNoCapacity for a full queue", err)
			}
			if n, q := len(r.Instances()), r.InFlight(); n != 1 || q != 3 {
				t.Errorf("%d instances and %d in flight after r4, want 1 and 3", n, q)
			}
			host.open()
			for range 3 {
				if err := <-errs; err != nil {
					t.Error(err)
				}
			}
			want := 0
			if fromZero {
				want = 1
			}
			if got, begins := cs.count(), cs.begins.Load(); got != want || begins != int64(want) {
				t.Errorf("%d cold starts (%d waits announced), want %d", got, begins, want)
			}
			if n := r.Requests(); n != 4 {
				t.Errorf("Requests %d, want 4 (the refused one counts)", n)
			}
			if insts := r.Instances(); len(insts) != 1 || insts[0].Requests != 3 {
				t.Errorf("instances %+v, want one that served 3 requests", insts)
			}
		})
	}
}

// Concurrent requests at zero each start an instance, up to max; the ones
// after find them warm.
func TestPooledColdStartsPerConcurrentRequest(t *testing.T) {
	host := newGateHost()
	r, cs := loadScalable(t, newDriver(t), func(s *sandbox.Spec) { s.MaxInstances, s.Host = 3, host })
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			if _, err := r.Serve(t.Context(), gated("c"+strconv.Itoa(i))); err != nil {
				t.Error(err)
			}
		})
	}
	waitFor(t, "3 requests in the guest", func() bool { return host.entered.Load() == 3 })
	if n, ready, begins := cs.count(), r.Ready(), cs.begins.Load(); n != 3 || ready != 3 || begins != 3 {
		t.Errorf("%d cold starts (%d waits announced) and %d ready, want 3 (3) and 3", n, begins, ready)
	}
	host.open()
	wg.Wait()
	for range 5 {
		served(t, r)
	}
	if n, begins := cs.count(), cs.begins.Load(); n != 3 || begins != 3 {
		t.Errorf("%d cold starts (%d waits announced) after warm requests, want still 3", n, begins)
	}
	if n := r.Requests(); n != 8 {
		t.Errorf("Requests %d, want 8", n)
	}
}

func TestPooledSetDesired(t *testing.T) {
	host := newGateHost()
	r, cs := loadScalable(t, newDriver(t), func(s *sandbox.Spec) { s.MaxInstances, s.Host = 4, host })

	r.SetDesired(3)
	waitFor(t, "3 warm instances", func() bool { return r.Ready() == 3 && countState(r, stateIdle) == 3 })
	r.SetDesired(100) // clamped to max
	waitFor(t, "4 warm instances", func() bool { return r.Ready() == 4 })
	if n := len(r.Instances()); n != 4 {
		t.Fatalf("%d instances, want max (4)", n)
	}
	r.SetDesired(1) // idle ones beyond it stop before SetDesired returns
	if n := len(r.Instances()); n != 1 {
		t.Errorf("%d instances right after SetDesired(1), want 1", n)
	}

	// Busy instances are never stopped.
	r.SetDesired(2)
	waitFor(t, "2 warm instances", func() bool { return r.Ready() == 2 })
	done := make(chan error, 2)
	for i := range 2 {
		go func() {
			_, err := r.Serve(t.Context(), gated("busy"+strconv.Itoa(i)))
			done <- err
		}()
	}
	waitFor(t, "2 busy instances", func() bool { return host.entered.Load() == 2 })
	r.SetDesired(0)
	if n := countState(r, stateBusy); n != 2 || len(r.Instances()) != 2 {
		t.Errorf("after SetDesired(0): %d busy of %d instances, want 2 of 2", n, len(r.Instances()))
	}
	host.open()
	for range 2 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	if n := countState(r, stateIdle); n != 2 {
		t.Errorf("%d idle after the requests, want 2 (stopped by the next SetDesired or the reaper)", n)
	}
	r.SetDesired(0)
	if n := len(r.Instances()); n != 0 {
		t.Errorf("%d instances after SetDesired(0) with none busy", n)
	}
	if n := cs.count(); n != 0 {
		t.Errorf("%d cold starts: the background starts ran ahead of every request, want 0", n)
	}
}

// desired raises the floor the reaper keeps; min stays a floor under it.
func TestPooledReaperKeepsDesired(t *testing.T) {
	r, _ := loadScalable(t, newDriver(t), func(s *sandbox.Spec) {
		s.MaxInstances, s.MinInstances, s.IdleTimeout = 4, 1, 20*time.Millisecond
	})
	r.SetDesired(3)
	waitFor(t, "3 warm instances", func() bool { return r.Ready() == 3 })
	// Several reaper ticks pass; none of the 3 may go.
	deadline := time.Now().Add(150 * time.Millisecond)
	for time.Now().Before(deadline) {
		if n := len(r.Instances()); n != 3 {
			t.Fatalf("%d instances while desired is 3", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.SetDesired(0) // min 1 holds
	if n := len(r.Instances()); n != 1 {
		t.Errorf("%d instances after SetDesired(0) with min 1, want 1", n)
	}
}

func TestPooledSetScale(t *testing.T) {
	host := newGateHost()
	r, _ := loadScalable(t, newDriver(t), func(s *sandbox.Spec) { s.MaxInstances, s.MaxQueue, s.Host = 4, 10, host })

	r.SetScale(2, 2) // raising min starts instances
	waitFor(t, "min 2 warm", func() bool { return r.Ready() == 2 })

	done := make(chan error, 4)
	serveGated := func(id string) {
		go func() {
			_, err := r.Serve(t.Context(), gated(id))
			done <- err
		}()
	}
	serveGated("a")
	serveGated("b")
	serveGated("c")
	waitFor(t, "2 running and 1 queued", func() bool { return host.entered.Load() == 2 && r.InFlight() == 3 })
	if n := len(r.Instances()); n != 2 {
		t.Fatalf("%d instances with max 2", n)
	}

	r.SetScale(0, 3) // raising max admits the queued request
	waitFor(t, "the queued request running", func() bool { return host.entered.Load() == 3 })

	r.SetScale(0, 1) // lowering max stops nothing busy and admits no one
	serveGated("d")
	waitFor(t, "d queued", func() bool { return r.InFlight() == 4 })
	if n := countState(r, stateBusy); n != 3 {
		t.Errorf("%d busy after lowering max to 1, want the 3 running", n)
	}
	if got := host.entered.Load(); got != 3 {
		t.Errorf("%d requests entered the guest, want 3: d must wait", got)
	}
	host.open()
	for range 4 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	waitFor(t, "instances down to max 1", func() bool { return len(r.Instances()) == 1 })
	if r.InFlight() != 0 {
		t.Errorf("InFlight %d after every request finished", r.InFlight())
	}

	r.SetScale(3, 0) // max 0 is the default max; min 3 starts instances
	waitFor(t, "min 3 warm", func() bool { return r.Ready() == 3 })
	if r.max != DefaultMaxInstances || r.slots.getLimit() != DefaultMaxInstances {
		t.Errorf("max %d, slots %d; want the default %d", r.max, r.slots.getLimit(), DefaultMaxInstances)
	}
	r.SetScale(5, 2) // min clamped to max
	if n := len(r.Instances()); n != 2 || r.min != 2 {
		t.Errorf("%d instances and min %d after SetScale(5, 2), want 2 and 2", n, r.min)
	}
}

// Requests run while SetDesired and SetScale change the pool underneath:
// every request gets its own answer, the pool never outgrows the largest
// max, and nothing leaks.
func TestPooledScaleHammer(t *testing.T) {
	before := liveMemories.Load()
	d := newDriver(t)
	r, _ := loadScalable(t, d, func(s *sandbox.Spec) {
		s.MaxInstances, s.MaxQueue, s.IdleTimeout = 4, 10000, 10*time.Millisecond
	})
	var workers, scalers sync.WaitGroup
	stop := make(chan struct{})
	var peak atomic.Int64
	for w := range 6 {
		workers.Go(func() {
			for i := range 40 {
				id := "w" + strconv.Itoa(w) + "-" + strconv.Itoa(i)
				req := request("/echo", "")
				if i%5 == 0 {
					req = request("/nap", "1")
				}
				req.ID = id
				resp, err := r.Serve(t.Context(), req)
				if err != nil {
					t.Errorf("%s: %v", id, err)
					continue
				}
				if i%5 != 0 && !strings.Contains(string(resp.Body), "\nid="+id+"\n") {
					t.Errorf("%s got %q", id, resp.Body)
				}
			}
		})
	}
	scalers.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			r.SetDesired(rand.IntN(7))
			time.Sleep(time.Duration(rand.IntN(500)) * time.Microsecond)
		}
	})
	scalers.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			r.SetScale(rand.IntN(3), 1+rand.IntN(4))
			time.Sleep(time.Duration(rand.IntN(500)) * time.Microsecond)
		}
	})
	scalers.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			peak.Store(max(peak.Load(), int64(len(r.Instances()))))
			_, _, _ = r.Ready(), r.InFlight(), r.Health()
			time.Sleep(100 * time.Microsecond)
		}
	})
	workers.Wait()
	close(stop)
	scalers.Wait()
	if p := peak.Load(); p > 4 {
		t.Errorf("a peak of %d instances, over the largest max (4)", p)
	}
	r.SetScale(0, 2)
	r.SetDesired(0)
	if n, q := len(r.Instances()), r.InFlight(); n != 0 || q != 0 {
		t.Errorf("%d instances and %d in flight at rest after SetDesired(0)", n, q)
	}
	if h := r.Health(); h.ConsecutiveStartFailures != 0 {
		t.Errorf("health %+v", h)
	}
	r.SetDesired(2)
	waitFor(t, "2 warm instances", func() bool { return r.Ready() == 2 })
	served(t, r)
	if err := r.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := liveMemories.Load() - before; n != 0 {
		t.Errorf("%d linear memories not freed", n)
	}
}

// Failed starts count up in Health until one succeeds; the request that
// hit one gets the start error.
func TestPooledHealth(t *testing.T) {
	r, _ := loadScalable(t, newDriver(t), nil)
	if h := r.Health(); h != (sandbox.Health{}) {
		t.Fatalf("fresh runner: %+v", h)
	}
	r.fault.set(&sandbox.GuestError{Kind: "start", Detail: "_initialize: unreachable"})
	for i := 1; i <= 3; i++ {
		_, err := r.Serve(t.Context(), request("/counter", ""))
		var ge *sandbox.GuestError
		if !errors.As(err, &ge) || ge.Kind != "start" {
			t.Fatalf("request %d: %v, want a start failure", i, err)
		}
		if h := r.Health(); h.ConsecutiveStartFailures != i || !strings.Contains(h.LastError, "unreachable") {
			t.Errorf("after %d failures: %+v", i, h)
		}
	}
	// Background starts count too.
	r.SetDesired(1)
	waitFor(t, "a failed background start", func() bool { return r.Health().ConsecutiveStartFailures >= 4 })
	r.fault.set(nil)
	waitFor(t, "the background start to succeed", func() bool { return r.Ready() == 1 })
	if h := r.Health(); h != (sandbox.Health{}) {
		t.Errorf("after a successful start: %+v", h)
	}
}

// WAGI: InFlight counts running and queued requests, SetScale bounds
// concurrency live, SetDesired does nothing, Ready is always 0, and
// OnColdStart gets each request's instantiation time.
func TestWAGIScalable(t *testing.T) {
	host := newGateHost()
	cs := &coldStarts{}
	r := load(t, newDriver(t), func(s *sandbox.Spec) {
		s.Module, s.Digest, s.Host = mustRead("testdata/wagicaps.wasm"), "sha256:wagicaps", host
		s.MaxInstances, s.OnColdStart = 2, cs.observe
	}).(*wagiRunner)
	req := func() *sandbox.Request { return request("/kv_get", "k") }
	r.SetScale(0, 1)
	r.SetDesired(5)
	done := make(chan error, 2)
	for range 2 {
		go func() {
			resp, err := r.Serve(t.Context(), req())
			if err == nil && !strings.HasPrefix(string(resp.Body), "ret=1\nv") {
				err = errors.New("answered " + strconv.Quote(string(resp.Body)))
			}
			done <- err
		}()
	}
	waitFor(t, "one running, one queued", func() bool { return host.entered.Load() == 1 && r.InFlight() == 2 })
	if r.Ready() != 0 {
		t.Errorf("Ready %d, want 0 under WAGI", r.Ready())
	}
	r.SetScale(0, 2)
	waitFor(t, "both running", func() bool { return host.entered.Load() == 2 })
	host.open()
	for range 2 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	if r.InFlight() != 0 {
		t.Errorf("InFlight %d at rest", r.InFlight())
	}
	start := time.Now()
	serve(t, r, req())
	took := time.Since(start)
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if len(cs.waits) != 3 {
		t.Fatalf("%d cold starts for 3 requests", len(cs.waits))
	}
	if w := cs.waits[2]; w <= 0 || w > took {
		t.Errorf("instantiation took %s of a %s request", w, took)
	}
}

func TestWAGIHealth(t *testing.T) {
	r := load(t, newDriver(t), nil).(*wagiRunner)
	r.fault.set(errors.New("out of memory"))
	for i := 1; i <= 2; i++ {
		_, err := r.Serve(t.Context(), request("/echo", ""))
		var ge *sandbox.GuestError
		if !errors.As(err, &ge) || ge.Kind != "start" || !strings.Contains(ge.Detail, "out of memory") {
			t.Fatalf("request %d: %v, want a start failure", i, err)
		}
	}
	if h := r.Health(); h.ConsecutiveStartFailures != 2 || !strings.Contains(h.LastError, "out of memory") {
		t.Errorf("health %+v", h)
	}
	r.fault.set(nil)
	serve(t, r, request("/echo", ""))
	if h := r.Health(); h != (sandbox.Health{}) {
		t.Errorf("after a good request: %+v", h)
	}
}

// The slots on their own: FIFO order, a live limit, queue bounds that
// follow the limit unless fixed, giving up, and close.
func TestSlots(t *testing.T) {
	ctx := t.Context()
	t.Run("fifo and raise", func(t *testing.T) {
		s := newSlots(1, 5)
		if err := s.acquire(ctx, time.Second); err != nil {
			t.Fatal(err)
		}
		order := make(chan int, 3)
		for i := range 3 {
			go func() {
				if err := s.acquire(ctx, 5*time.Second); err != nil {
					t.Error(err)
				}
				order <- i
			}()
			waitFor(t, "queued", func() bool { return s.inFlight() == i+2 })
		}
		if s.tryAcquire() {
			t.Error("a background start passed queued requests")
		}
		s.release()
		if got := <-order; got != 0 {
			t.Errorf("first admitted: %d, want 0", got)
		}
		s.setLimit(4) // admits both waiters at once
		got := []int{<-order, <-order}
		if !slices.Contains(got, 1) || !slices.Contains(got, 2) {
			t.Errorf("admitted %v, want 1 and 2", got)
		}
		if !s.tryAcquire() || s.tryAcquire() {
			t.Error("tryAcquire with exactly one slot left")
		}
		if n := s.inFlight(); n != 3 {
			t.Errorf("inFlight %d, want 3: a background start is not a request", n)
		}
		s.releaseBackground()
	})
	t.Run("lower", func(t *testing.T) {
		s := newSlots(2, 5)
		for range 2 {
			if err := s.acquire(ctx, time.Second); err != nil {
				t.Fatal(err)
			}
		}
		s.setLimit(1)
		s.release()
		admitted := make(chan error, 1)
		go func() { admitted <- s.acquire(ctx, 5*time.Second) }()
		waitFor(t, "queued", func() bool { return s.inFlight() == 2 })
		select {
		case err := <-admitted:
			t.Fatalf("admitted over the lowered limit: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		s.release()
		if err := <-admitted; err != nil {
			t.Fatal(err)
		}
	})
	t.Run("queue follows the limit", func(t *testing.T) {
		fixed, follows := newSlots(2, 3), newSlots(2, 0)
		follows.setLimit(4)
		fixed.setLimit(4)
		if fixed.maxQueue != 3 || follows.maxQueue != 4*queuePerSlot {
			t.Errorf("queues %d and %d, want 3 and %d", fixed.maxQueue, follows.maxQueue, 4*queuePerSlot)
		}
	})
	t.Run("give up", func(t *testing.T) {
		s := newSlots(1, 5)
		if err := s.acquire(ctx, time.Second); err != nil {
			t.Fatal(err)
		}
		if err := s.acquire(ctx, 10*time.Millisecond); !errors.Is(err, sandbox.ErrNoCapacity) {
			t.Errorf("wait ran out: %v, want ErrNoCapacity", err)
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := s.acquire(cctx, time.Second); !errors.Is(err, context.Canceled) {
			t.Errorf("canceled: %v", err)
		}
		if n := s.inFlight(); n != 1 {
			t.Errorf("inFlight %d after two gave up, want 1", n)
		}
	})
	t.Run("close", func(t *testing.T) {
		s := newSlots(1, 5)
		if err := s.acquire(ctx, time.Second); err != nil {
			t.Fatal(err)
		}
		queued := make(chan error, 1)
		go func() { queued <- s.acquire(ctx, 5*time.Second) }()
		waitFor(t, "queued", func() bool { return s.inFlight() == 2 })
		short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
		defer cancel()
		if err := s.close(short); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("close with requests in flight: %v", err)
		}
		if err := s.acquire(ctx, time.Second); !errors.Is(err, sandbox.ErrClosed) {
			t.Errorf("after close: %v", err)
		}
		closed := make(chan error, 1)
		go func() { closed <- s.close(ctx) }()
		s.release()
		if err := <-queued; err != nil {
			t.Errorf("the queued request: %v", err)
		}
		s.release()
		if err := <-closed; err != nil {
			t.Error(err)
		}
	})
}

// BenchmarkScaleFromZero is the latency of a request that finds no warm
// instance:
//   - pooled-c, pooled-go: a pooled runner at zero instances (SetDesired(0)
//     between requests, compiled code held): the request's slot, a new
//     instance (_initialize), the request. C is hellopooled.wasm, Go the
//     reactor without the SDK (goreactor.wasm);
//   - wagi-c: WAGI's every request (examples/hello-c), which is a fresh
//     instance; instantiate-p50/p99 is the part before _start (what
//     OnColdStart reports).
func BenchmarkScaleFromZero(b *testing.B) {
	pooled := func(file, digest, want string) func(b *testing.B) {
		return func(b *testing.B) {
			var cold atomic.Int64
			r := load(b, newDriver(b), func(s *sandbox.Spec) {
				s.ABI, s.Module, s.Digest, s.MemoryLimit = api.ABIPooled, mustRead(file), digest, 64<<20
				s.OnColdStart = func(time.Duration) { cold.Add(1) }
			}).(*pooledRunner)
			req := benchRequest()
			took := make([]time.Duration, 0, b.N)
			for b.Loop() {
				r.SetDesired(0)
				start := time.Now()
				resp, err := r.Serve(context.Background(), req)
				took = append(took, time.Since(start))
				if err != nil || !strings.HasPrefix(string(resp.Body), want) {
					b.Fatalf("%v %v", resp, err)
				}
			}
			if n := cold.Load(); n != int64(len(took)) {
				b.Fatalf("%d cold starts for %d requests", n, len(took))
			}
			reportPercentiles(b, took)
		}
	}
	b.Run("pooled-c", pooled("testdata/hellopooled.wasm", "sha256:hellopooled", "Hello from mote"))
	b.Run("pooled-go", pooled("testdata/goreactor.wasm", "sha256:goreactor", "Hello from Go"))
	b.Run("wagi-c", func(b *testing.B) {
		var mu sync.Mutex
		var inst []time.Duration
		r := load(b, newDriver(b), func(s *sandbox.Spec) {
			s.Module, s.Digest, s.MemoryLimit = mustRead("../../../examples/hello-c/hello.wasm"), "sha256:hello-c", 16<<20
			s.OnColdStart = func(d time.Duration) { mu.Lock(); inst = append(inst, d); mu.Unlock() }
		})
		timeServes(b, r, "Hello")
		mu.Lock()
		defer mu.Unlock()
		if len(inst) == 0 {
			return
		}
		slices.Sort(inst)
		b.ReportMetric(float64(inst[len(inst)/2].Nanoseconds()), "instantiate-p50-ns")
		b.ReportMetric(float64(inst[len(inst)*99/100].Nanoseconds()), "instantiate-p99-ns")
	})
}
