package autoscale

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultSampleEvery is how often a Loop samples InFlight when
// LoopOptions.SampleEvery is zero: ten samples per 1 s bucket, so a bucket's
// average resolves a tenth of a request and any request of 100 ms or more is
// seen. The cold path does not wait for it (Poke decides at once), and a
// sample costs one InFlight call and a Record (tens of ns), so a version
// serving traffic costs ten wakeups a second; a version at zero costs none
// (the loop parks).
const DefaultSampleEvery = 100 * time.Millisecond

// Target is what a Loop scales: one version's instances. The Loop calls its
// methods from Run's goroutine only; they must not block for long.
type Target interface {
	// InFlight is the requests running or waiting for an instance now.
	InFlight() int
	// Ready is the instances started and not stopping.
	Ready() int
	// SetDesired asks for n warm instances; the Target starts and stops
	// instances itself (and may take its time). It is called with the first
	// decision and then whenever the decision changes.
	SetDesired(n int)
}

// RequestCounter is optionally implemented by a Target that counts the
// requests it has begun. A Loop whose Target implements it notices requests
// that start and end between two samples: they keep an instance warm
// (Decider.MarkActive) without counting as concurrency.
type RequestCounter interface {
	// Requests is the number of requests begun so far (it only grows).
	Requests() uint64
}

// Ticker delivers a Loop's sampling ticks; a *time.Ticker does, through
// LoopOptions' default NewTicker.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// LoopOptions are a Loop's timing and hooks. The zero value is valid.
type LoopOptions struct {
	// SampleEvery is the period of InFlight samples. Default
	// DefaultSampleEvery.
	SampleEvery time.Duration
	// Now is the clock decisions are made with. Default time.Now.
	Now func() time.Time
	// NewTicker makes the sampling ticker. Default: a time.Ticker.
	NewTicker func(d time.Duration) Ticker
	// OnDecision, when set, is called after every decision, from Run's
	// goroutine (for logs and metrics); it must not call Run.
	OnDecision func(Decision)
}

// Loop drives one Target with a Decider: it samples InFlight every
// SampleEvery, decides every Config.Tick and at once on Poke or SetConfig,
// and calls SetDesired when the decision changes. While the Target is at
// zero (desired 0, nothing ready, nothing in flight) it stops sampling
// until Poke or SetConfig, so an idle version costs nothing; hence the
// Target must Poke whenever a request has to wait because no instance is
// ready.
//
// Poke, SetConfig, Config and Last are safe for concurrent use, also with
// Run.
type Loop struct {
	target  Target
	counter RequestCounter // nil when target does not count
	opts    LoopOptions

	poke     chan struct{} // buffered 1: coalesces pokes
	reconfig chan struct{} // buffered 1
	running  atomic.Bool

	mu      sync.Mutex
	cfg     Config // the latest config set (repaired); guarded by mu
	pending bool   // cfg is not yet in the Decider; guarded by mu
	last    Decision

	// Owned by Run.
	d        *Decider
	desired  int // the latest SetDesired; -1 before the first
	decided  time.Time
	requests uint64
}

// NewLoop returns a Loop that scales t with c (taken as NewDecider takes
// it) and opts. It does nothing until Run.
func NewLoop(c Config, t Target, opts LoopOptions) *Loop {
	if opts.SampleEvery <= 0 {
		opts.SampleEvery = DefaultSampleEvery
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.NewTicker == nil {
		opts.NewTicker = newTimeTicker
	}
	l := &Loop{
		target:   t,
		opts:     opts,
		poke:     make(chan struct{}, 1),
		reconfig: make(chan struct{}, 1),
		d:        NewDecider(c),
		desired:  -1,
	}
	l.counter, _ = t.(RequestCounter)
	l.cfg = l.d.Config()
	return l
}

// Run samples, decides and scales until ctx ends, starting with a decision
// at once (so Min applies from the start). It leaves the last SetDesired in
// place when it returns (draining a version is the caller's business). A
// second Run while one runs returns at once.
func (l *Loop) Run(ctx context.Context) {
	if ctx.Err() != nil || !l.running.CompareAndSwap(false, true) {
		return
	}
	defer l.running.Store(false)

	var ticker Ticker
	defer func() {
		if ticker != nil {
			ticker.Stop()
		}
	}()
	if l.counter != nil {
		l.requests = l.counter.Requests()
	}
	l.applyConfig()
	parked := l.decide(l.sample())
	for {
		var tick <-chan time.Time
		switch {
		case parked && ticker != nil:
			ticker.Stop()
			ticker = nil
		case !parked && ticker == nil:
			ticker = l.opts.NewTicker(l.opts.SampleEvery)
		}
		if ticker != nil {
			tick = ticker.C()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick:
			inFlight := l.sample()
			if l.opts.Now().Sub(l.decided) >= l.d.Config().Tick {
				parked = l.decide(inFlight)
			}
		case <-l.poke:
			parked = l.decide(l.sample())
		case <-l.reconfig:
			l.applyConfig()
			parked = l.decide(l.sample())
		}
	}
}

// Poke asks for a decision now: call it when a request has to wait because
// no instance is ready (count it in InFlight first), so that scale from zero
// does not wait for a tick. It never blocks; pokes before the next decision
// coalesce. Each poke is a decision, and rates apply per decision, so do not
// poke when an instance is ready.
func (l *Loop) Poke() {
	select {
	case l.poke <- struct{}{}:
	default:
	}
}

// SetConfig changes the config live (as NewDecider takes it), with a
// decision at once, so a new Min or Max applies without waiting for a
// tick. The sampling period (LoopOptions) does not change.
func (l *Loop) SetConfig(c Config) {
	l.mu.Lock()
	l.cfg, l.pending = c.repaired(), true
	l.mu.Unlock()
	select {
	case l.reconfig <- struct{}{}:
	default:
	}
}

// Config returns the latest config set (with defaults and repairs applied).
func (l *Loop) Config() Config {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cfg
}

// Last returns the latest decision (the zero Decision before the first).
func (l *Loop) Last() Decision {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last
}

// applyConfig moves a pending config into the Decider.
func (l *Loop) applyConfig() {
	l.mu.Lock()
	c, pending := l.cfg, l.pending
	l.pending = false
	l.mu.Unlock()
	if pending {
		l.d.SetConfig(c)
	}
}

// sample records the requests in flight now and returns their count.
func (l *Loop) sample() int {
	now := l.opts.Now()
	n := max(l.target.InFlight(), 0)
	l.d.Record(now, float64(n))
	if l.counter != nil {
		if r := l.counter.Requests(); r != l.requests {
			l.requests = r
			l.d.MarkActive(now)
		}
	}
	return n
}

// decide makes a decision, passes it on, and reports whether the loop may
// park (the target is at zero and wants to stay there).
func (l *Loop) decide(inFlight int) (park bool) {
	now := l.opts.Now()
	dec := l.d.Decide(now, l.target.Ready())
	l.decided = now
	if dec.Desired != l.desired {
		l.desired = dec.Desired
		l.target.SetDesired(dec.Desired)
	}
	l.mu.Lock()
	l.last = dec
	l.mu.Unlock()
	if l.opts.OnDecision != nil {
		l.opts.OnDecision(dec)
	}
	return dec.Desired == 0 && dec.Ready == 0 && inFlight == 0
}

// timeTicker adapts a *time.Ticker to Ticker.
type timeTicker struct{ t *time.Ticker }

func newTimeTicker(d time.Duration) Ticker { return timeTicker{time.NewTicker(d)} }

func (t timeTicker) C() <-chan time.Time { return t.t.C }
func (t timeTicker) Stop()               { t.t.Stop() }
