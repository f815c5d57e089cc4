package autoscale

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	return c.now
}

// fakeTicker ticks when the test sends on c (unbuffered: a send returns
// once the loop has taken the tick, so after two sends the first one's work
// is done).
type fakeTicker struct {
	c       chan time.Time
	stopped chan struct{} // closed by Stop
	once    sync.Once
}

func (t *fakeTicker) C() <-chan time.Time { return t.c }
func (t *fakeTicker) Stop()               { t.once.Do(func() { close(t.stopped) }) }

// fakeTarget counts what the loop asks; with follow, ready becomes the
// desired count at once.
type fakeTarget struct {
	mu       sync.Mutex
	inFlight int
	ready    int
	follow   bool
	requests uint64
	desired  chan int
}

func newFakeTarget(follow bool) *fakeTarget {
	return &fakeTarget{follow: follow, desired: make(chan int, 1000)}
}

func (f *fakeTarget) InFlight() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.inFlight
}

func (f *fakeTarget) Ready() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ready
}

func (f *fakeTarget) SetDesired(n int) {
	f.mu.Lock()
	if f.follow {
		f.ready = n
	}
	f.mu.Unlock()
	f.desired <- n
}

func (f *fakeTarget) setInFlight(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inFlight = n
}

// countingTarget also implements RequestCounter.
type countingTarget struct{ *fakeTarget }

func (c countingTarget) Requests() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.requests
}

// loopRig runs a Loop on a fake clock and ticker.
type loopRig struct {
	t         *testing.T
	clock     *fakeClock
	target    *fakeTarget
	loop      *Loop
	tickers   chan *fakeTicker
	ticker    *fakeTicker
	decisions chan Decision
	done      chan struct{}
	cancel    context.CancelFunc
}

func newLoopRig(t *testing.T, c Config, target Target, ft *fakeTarget) *loopRig {
	r := &loopRig{
		t:         t,
		clock:     &fakeClock{now: t0},
		target:    ft,
		tickers:   make(chan *fakeTicker, 10),
		decisions: make(chan Decision, 1000),
		done:      make(chan struct{}),
	}
	r.loop = NewLoop(c, target, LoopOptions{
		SampleEvery: sampleEvery,
		Now:         r.clock.Now,
		NewTicker: func(d time.Duration) Ticker {
			if d != sampleEvery {
				t.Errorf("ticker period %v, want %v", d, sampleEvery)
			}
			tk := &fakeTicker{c: make(chan time.Time), stopped: make(chan struct{})}
			r.tickers <- tk
			return tk
		},
		OnDecision: func(d Decision) { r.decisions <- d },
	})
	ctx, cancel := context.WithCancel(t.Context())
	r.cancel = cancel
	go func() {
		defer close(r.done)
		r.loop.Run(ctx)
	}()
	t.Cleanup(r.stop)
	return r
}

func (r *loopRig) stop() {
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(5 * time.Second):
		r.t.Fatal("Run did not return after its context ended")
	}
}

// decision waits for the next decision.
func (r *loopRig) decision() Decision {
	r.t.Helper()
	select {
	case d := <-r.decisions:
		return d
	case <-time.After(5 * time.Second):
		r.t.Fatal("no decision within 5 s")
		return Decision{}
	}
}

// desired waits for the next SetDesired.
func (r *loopRig) desired() int {
	r.t.Helper()
	select {
	case n := <-r.target.desired:
		return n
	case <-time.After(5 * time.Second):
		r.t.Fatal("no SetDesired within 5 s")
		return 0
	}
}

// newTicker waits for the loop to start sampling.
func (r *loopRig) newTicker() {
	r.t.Helper()
	select {
	case r.ticker = <-r.tickers:
	case <-time.After(5 * time.Second):
		r.t.Fatal("the loop did not start its ticker")
	}
}

// tick moves the clock one sample period and ticks; it reports false when
// the loop has stopped its ticker (parked) instead.
func (r *loopRig) tick() bool {
	r.t.Helper()
	now := r.clock.advance(sampleEvery)
	select {
	case r.ticker.c <- now:
		return true
	case <-r.ticker.stopped:
		return false
	case <-time.After(5 * time.Second):
		r.t.Fatal("the loop did not take a tick")
		return false
	}
}

// mustTick ticks and fails if the loop has parked.
func (r *loopRig) mustTick() {
	r.t.Helper()
	if !r.tick() {
		r.t.Fatalf("the loop parked; last decision %+v", r.loop.Last())
	}
}

// noDecisionYet fails if a decision was made (by a tick before the last
// one sent, which the loop has finished).
func (r *loopRig) noDecisionYet() {
	r.t.Helper()
	if n := len(r.decisions); n != 0 {
		r.t.Fatalf("%d decisions before the tick was due", n)
	}
}

func TestLoop(t *testing.T) {
	ft := newFakeTarget(true)
	r := newLoopRig(t, Config{Tick: 2 * time.Second, ScaleToZeroGrace: 10 * time.Second}, ft, ft)

	// At start: one decision at once; at zero, so no ticker (parked).
	if d := r.decision(); d.Desired != 0 {
		t.Fatalf("first decision %+v, want 0", d)
	}
	if n := r.desired(); n != 0 {
		t.Fatalf("first SetDesired(%d), want 0", n)
	}

	// A request waits for a cold instance: Poke decides without a tick.
	ft.setInFlight(1)
	r.loop.Poke()
	if n := r.desired(); n != 1 {
		t.Fatalf("after Poke: SetDesired(%d), want 1", n)
	}
	if d := r.decision(); d.Desired != 1 || d.Reason == "" {
		t.Fatalf("after Poke: %+v", d)
	}
	r.newTicker()

	// Samples every tick, a decision every Tick (2 s = 20 samples).
	for range 19 {
		r.mustTick()
	}
	r.noDecisionYet()
	r.mustTick() // 2 s since the poke: due
	r.mustTick() // returns once the previous tick is handled
	if d := r.decision(); d.Desired != 2 {
		t.Fatalf("one request in flight for 2 s: %+v, want 2 (one spare)", d)
	}
	if n := r.desired(); n != 2 {
		t.Fatalf("SetDesired(%d), want 2", n)
	}
	if r.loop.Last().Desired != 2 {
		t.Errorf("Last() = %+v", r.loop.Last())
	}

	// A live config change decides at once.
	r.loop.SetConfig(Config{Min: 3, Tick: 2 * time.Second, ScaleToZeroGrace: 10 * time.Second})
	if n := r.desired(); n != 3 {
		t.Fatalf("after SetConfig min 3: SetDesired(%d), want 3", n)
	}
	if d := r.decision(); d.Reason != ReasonMin {
		t.Fatalf("after SetConfig: %+v, want reason min", d)
	}
	if got := r.loop.Config(); got.Min != 3 || got.StableWindow != DefaultStableWindow {
		t.Fatalf("Config() = %+v", got)
	}

	// Traffic stops, min back to 0: zero only after the grace, then the
	// loop parks (stops its ticker).
	ft.setInFlight(0)
	idleFrom := r.clock.Now()
	r.loop.SetConfig(Config{Tick: 2 * time.Second, ScaleToZeroGrace: 10 * time.Second})
	for r.tick() {
		select {
		case n := <-ft.desired:
			if n == 0 && r.clock.Now().Sub(idleFrom) < 10*time.Second {
				t.Fatalf("zero %v after the last request, before the grace", r.clock.Now().Sub(idleFrom))
			}
		default:
		}
		if r.clock.Now().Sub(idleFrom) > time.Minute {
			t.Fatal("the loop did not park a minute after the last request")
		}
	}
	if ft.Ready() != 0 {
		t.Fatalf("parked with %d ready", ft.Ready())
	}

	// Parked: a poke wakes it with a new ticker.
	ft.setInFlight(1)
	r.loop.Poke()
	if n := r.desired(); n != 1 {
		t.Fatalf("from zero again: SetDesired(%d), want 1", n)
	}
	r.newTicker()
}

func TestLoopRequestCounterKeepsWarm(t *testing.T) {
	ft := newFakeTarget(true)
	c := Config{Tick: time.Second, StableWindow: 2 * time.Second, ScaleToZeroGrace: 5 * time.Second}
	r := newLoopRig(t, c, countingTarget{ft}, ft)
	r.decision()
	ft.setInFlight(1)
	r.loop.Poke()
	r.newTicker()
	ft.setInFlight(0)
	// For 30 s a request begins and ends between samples every 2 s: no
	// sample sees it in flight, yet one instance stays.
	for i := range 300 {
		if i%20 == 0 {
			ft.mu.Lock()
			ft.requests++
			ft.mu.Unlock()
		}
		r.mustTick()
	}
	r.mustTick()
	for len(r.decisions) > 0 {
		if d := <-r.decisions; d.Desired == 0 {
			t.Fatalf("scaled to zero under short requests: %+v", d)
		}
	}
	// Without them: zero after the grace.
	for i := 0; r.tick(); i++ {
		if i > 100 {
			t.Fatal("the loop did not park 10 s after the short requests stopped")
		}
	}
	if ft.Ready() != 0 {
		t.Fatalf("ready %d, want 0 once the short requests stopped", ft.Ready())
	}
}

func TestLoopSecondRunReturns(t *testing.T) {
	ft := newFakeTarget(true)
	r := newLoopRig(t, Config{}, ft, ft)
	r.decision()
	done := make(chan struct{})
	go func() {
		r.loop.Run(t.Context())
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("a second Run did not return")
	}
}

// atomicTarget is a Target for the race test.
type atomicTarget struct {
	inFlight, ready, desired atomic.Int64
}

func (a *atomicTarget) InFlight() int { return int(a.inFlight.Load()) }
func (a *atomicTarget) Ready() int    { return int(a.ready.Load()) }
func (a *atomicTarget) SetDesired(n int) {
	a.desired.Store(int64(n))
	a.ready.Store(int64(n))
}

// TestLoopRace pokes, reconfigures and reads a running Loop from several
// goroutines on the real clock; run it with -race.
func TestLoopRace(t *testing.T) {
	target := &atomicTarget{}
	var decisions atomic.Int64
	var bad atomic.Value
	l := NewLoop(Config{Tick: 3 * time.Millisecond, StableWindow: 50 * time.Millisecond, PanicWindow: 10 * time.Millisecond,
		Bucket: 5 * time.Millisecond, ScaleToZeroGrace: 20 * time.Millisecond, Max: 50},
		target, LoopOptions{SampleEvery: time.Millisecond, OnDecision: func(d Decision) {
			decisions.Add(1)
			if d.Desired < 0 || d.Desired > 50 {
				bad.Store(d)
			}
		}})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.Run(ctx)
	}()

	var wg sync.WaitGroup
	stop := time.Now().Add(300 * time.Millisecond)
	for g := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for time.Now().Before(stop) {
				switch g {
				case 0:
					l.Poke()
				case 1:
					lo := rng.IntN(5)
					l.SetConfig(Config{Min: lo, Max: lo + 1 + rng.IntN(45), Tick: time.Duration(1+rng.IntN(5)) * time.Millisecond,
						StableWindow: 50 * time.Millisecond, Bucket: 5 * time.Millisecond, ScaleToZeroGrace: 20 * time.Millisecond})
				case 2:
					target.inFlight.Store(int64(rng.IntN(3) * rng.IntN(30)))
				case 3:
					_ = l.Last()
					_ = l.Config()
				}
				time.Sleep(100 * time.Microsecond)
			}
		})
	}
	wg.Wait()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	if d := bad.Load(); d != nil {
		t.Fatalf("decision out of [0, 50]: %+v", d)
	}
	if decisions.Load() < 10 {
		t.Fatalf("%d decisions in 300 ms", decisions.Load())
	}
}
