package autoscale

import (
	"math"
	"testing"
	"time"
)

// t0 is the fake clock's origin.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// sim drives a Decider on synthetic load with a fake clock: a sample every
// 100 ms, a decision every tick, and (with follow) a target whose ready
// count becomes the decision at once.
type sim struct {
	d      *Decider
	now    time.Time
	next   time.Time // the next decision
	ready  int
	follow bool
	log    []Decision
	at     []time.Duration // when each decision was made, since t0
}

func newSim(c Config, ready int, follow bool) *sim {
	return &sim{d: NewDecider(c), now: t0, next: t0, ready: ready, follow: follow}
}

const sampleEvery = 100 * time.Millisecond

// load records concurrency c for dur, deciding when due.
func (s *sim) load(dur time.Duration, c float64) *sim {
	for end := s.now.Add(dur); s.now.Before(end); s.now = s.now.Add(sampleEvery) {
		s.d.Record(s.now, c)
		if !s.now.Before(s.next) {
			s.decide()
		}
	}
	return s
}

func (s *sim) decide() Decision {
	dec := s.d.Decide(s.now, s.ready)
	s.log = append(s.log, dec)
	s.at = append(s.at, s.now.Sub(t0))
	if s.follow {
		s.ready = dec.Desired
	}
	s.next = s.now.Add(s.d.Config().Tick)
	return dec
}

func (s *sim) lastDecision() Decision { return s.log[len(s.log)-1] }

// since returns the decisions made at or after d since t0.
func (s *sim) since(d time.Duration) []Decision {
	for i, at := range s.at {
		if at >= d {
			return s.log[i:]
		}
	}
	return nil
}

func TestSteadyLoad(t *testing.T) {
	for _, tc := range []struct {
		name string
		conc float64
		want int
	}{
		{"one in flight", 1, 2}, // ceil(1 / 0.7): one spare
		{"seven in flight", 7, 10},
		{"seventy in flight", 70, 100},
		{"fractional", 2.5, 4},
		{"none", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(Config{}, 0, true).load(4*time.Minute, tc.conc)
			for _, dec := range s.since(3 * time.Minute) {
				if dec.Desired != tc.want || dec.Panicking {
					t.Fatalf("steady %v: got %+v, want desired %d, calm", tc.conc, dec, tc.want)
				}
			}
		})
	}
}

func TestStepUpPanicsAndScalesFast(t *testing.T) {
	s := newSim(Config{}, 0, true).load(3*time.Minute, 1)
	if dec := s.lastDecision(); dec.Desired != 2 || dec.Panicking {
		t.Fatalf("before the step: %+v, want 2 calm", dec)
	}
	step := s.now.Sub(t0)
	s.load(20*time.Second, 20)
	after := s.since(step)
	if !after[0].Panicking {
		t.Errorf("first decision after the step is calm: %+v", after[0])
	}
	// The panic window (6 s) catches up within it: 29 = ceil(20 / 0.7).
	reached := -1
	for i, dec := range after {
		if i > 0 && dec.Desired < after[i-1].Desired {
			t.Errorf("scaled down in panic: %+v after %+v", dec, after[i-1])
		}
		if dec.Desired >= 29 && reached < 0 {
			reached = i
		}
	}
	if reached < 0 || s.at[len(s.at)-len(after)+reached]-step > 8*time.Second {
		t.Fatalf("did not reach 29 within 8 s of the step: %+v", after)
	}
	// The stable window alone would still be far below.
	if after[1].StableAvg > 5 {
		t.Errorf("stable average %v: the test does not show panic at work", after[1].StableAvg)
	}
}

func TestSpikeShorterThanPanicWindow(t *testing.T) {
	t.Run("small spike: no panic, no change", func(t *testing.T) {
		s := newSim(Config{}, 0, true).load(3*time.Minute, 1)
		mark := s.now.Sub(t0)
		s.load(time.Second, 2).load(2*time.Minute, 1)
		for _, dec := range s.since(mark) {
			if dec.Desired != 2 || dec.Panicking {
				t.Fatalf("a 1 s spike to 2 moved the decision: %+v", dec)
			}
		}
	})
	t.Run("big spike: panic holds, then a limited scale-down", func(t *testing.T) {
		s := newSim(Config{}, 0, true).load(3*time.Minute, 1)
		mark := s.now.Sub(t0)
		s.load(time.Second, 20).load(3*time.Minute, 1)
		after := s.since(mark)
		peak, calm := 0, -1
		for i, dec := range after {
			if dec.Panicking && i > 0 && dec.Desired < after[i-1].Desired {
				t.Fatalf("scaled down in panic: %+v", dec)
			}
			peak = max(peak, dec.Desired)
			if !dec.Panicking && calm < 0 && i > 0 {
				calm = i
			}
		}
		if peak <= 2 {
			t.Fatalf("a 1 s spike to 20 did not scale up: %+v", after)
		}
		// Panic lasts one stable window after its condition last held.
		if d := s.at[len(s.at)-len(after)+calm] - mark; d < 60*time.Second || d > 70*time.Second {
			t.Errorf("panic ended %v after the spike, want a stable window (60 s) later", d)
		}
		for i := calm; i < len(after); i++ {
			if prev := after[i-1].Desired; after[i].Desired < prev/2 {
				t.Errorf("scale-down from %d to %d beyond the rate (2)", prev, after[i].Desired)
			}
		}
		if dec := s.lastDecision(); dec.Desired != 2 {
			t.Errorf("after the spike: %+v, want back to 2", dec)
		}
	})
}

func TestScaleDownRate(t *testing.T) {
	// No traffic within the grace: the stable count is 0; each decision
	// halves what is ready, and one stays warm until the grace ends.
	d := NewDecider(Config{ScaleToZeroGrace: time.Hour})
	d.Record(t0, 0)
	for _, tc := range []struct {
		ready, want int
		reason      string
	}{
		{40, 20, ReasonDownRate},
		{20, 10, ReasonDownRate},
		{10, 5, ReasonDownRate},
		{5, 2, ReasonDownRate},
		{3, 1, ReasonDownRate},
		{2, 1, ReasonDownRate},
		{1, 1, ReasonKeepWarm},
		{0, 0, ReasonStable}, // nothing warm and nothing asked for
	} {
		dec := d.Decide(t0.Add(time.Minute), tc.ready)
		if dec.Desired != tc.want || dec.Reason != tc.reason {
			t.Errorf("ready %d: got %d (%s), want %d (%s)", tc.ready, dec.Desired, dec.Reason, tc.want, tc.reason)
		}
	}

	t.Run("ramp down", func(t *testing.T) {
		s := newSim(Config{StableWindow: 6 * time.Second, ScaleToZeroGrace: time.Hour}, 0, true)
		s.load(30*time.Second, 28)
		if got := s.lastDecision().Desired; got != 40 {
			t.Fatalf("load 28: desired %d, want 40", got)
		}
		mark := s.now.Sub(t0)
		s.load(30*time.Second, 0)
		after, limited := s.since(mark), false
		for i := 1; i < len(after); i++ {
			prev, got := after[i-1].Desired, after[i].Desired
			if got > prev || got < prev/2 {
				t.Fatalf("ramp down %d -> %d: want within [prev/2, prev]", prev, got)
			}
			limited = limited || after[i].Reason == ReasonDownRate
		}
		if !limited {
			t.Errorf("the down rate never bound: %+v", after)
		}
		if got := s.lastDecision(); got.Desired != 1 || got.Reason != ReasonKeepWarm {
			t.Errorf("after the ramp: %+v, want 1 kept warm", got)
		}
	})
}

func TestIdleToZeroAfterGrace(t *testing.T) {
	for _, grace := range []time.Duration{10 * time.Second, 30 * time.Second, 2 * time.Minute} {
		t.Run(grace.String(), func(t *testing.T) {
			s := newSim(Config{ScaleToZeroGrace: grace}, 0, true).load(20*time.Second, 1)
			stop := s.now.Sub(t0) - sampleEvery // the last busy sample
			s.load(grace+time.Minute, 0)
			zero := time.Duration(-1)
			for i, dec := range s.log {
				if dec.Desired == 0 && zero < 0 {
					zero = s.at[i]
				}
				if dec.Desired == 0 && s.at[i]-stop < grace {
					t.Fatalf("zero %v after the last request, before the grace %v", s.at[i]-stop, grace)
				}
				if zero >= 0 && dec.Desired != 0 {
					t.Fatalf("back from zero without traffic: %+v", dec)
				}
			}
			// Two instances (one spare) halve to one, then zero: within two
			// ticks of the grace.
			if zero < 0 || zero-stop > grace+2*DefaultTick+sampleEvery {
				t.Fatalf("zero at %v, want within the grace %v (+2 ticks) of %v", zero, grace, stop)
			}
			if dec := s.lastDecision(); dec.Panicking || dec.Reason != ReasonIdle {
				t.Errorf("at zero: %+v, want calm, idle", dec)
			}
		})
	}
	t.Run("a request between samples keeps one warm", func(t *testing.T) {
		d := NewDecider(Config{ScaleToZeroGrace: 10 * time.Second})
		d.Record(t0, 1)
		for i := range 60 {
			now := t0.Add(time.Duration(i) * time.Second)
			d.Record(now, 0)
			if i%5 == 0 {
				d.MarkActive(now)
			}
			if dec := d.Decide(now, 1); dec.Desired != 1 {
				t.Fatalf("%d s: %+v, want 1 kept warm", i, dec)
			}
		}
		if dec := d.Decide(t0.Add(70*time.Second), 1); dec.Desired != 0 {
			t.Fatalf("after the grace: %+v, want 0", dec)
		}
	})
}

func TestMinMax(t *testing.T) {
	for _, tc := range []struct {
		name     string
		c        Config
		conc     float64
		want     int
		reason   string
		panicked bool
	}{
		{"max caps load", Config{Max: 5}, 100, 5, ReasonMax, false},
		{"min keeps warm without load", Config{Min: 3}, 0, 3, ReasonMin, false},
		{"min below load", Config{Min: 3}, 7, 10, ReasonStable, false},
		{"max equal min", Config{Min: 4, Max: 4}, 50, 4, ReasonMax, false},
		{"no limit", Config{}, 1000, 1429, ReasonStable, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSim(tc.c, 0, true).load(3*time.Minute, tc.conc)
			for _, dec := range s.log {
				if dec.Desired < tc.c.Min || (tc.c.Max > 0 && dec.Desired > tc.c.Max) {
					t.Fatalf("%+v outside [%d, %d]", dec, tc.c.Min, tc.c.Max)
				}
			}
			if dec := s.lastDecision(); dec.Desired != tc.want || dec.Reason != tc.reason {
				t.Fatalf("got %+v, want %d (%s)", dec, tc.want, tc.reason)
			}
		})
	}
}

func TestScaleFromZero(t *testing.T) {
	for _, tc := range []struct {
		name string
		idle time.Duration // at zero this long first
	}{
		{"fresh decider", 0},
		{"after a long idle", 10 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecider(Config{})
			if tc.idle > 0 {
				for i := time.Duration(0); i < tc.idle; i += sampleEvery {
					d.Record(t0.Add(i), 0)
				}
				if dec := d.Decide(t0.Add(tc.idle), 0); dec.Desired != 0 {
					t.Fatalf("idle: %+v, want 0", dec)
				}
			}
			now := t0.Add(tc.idle + time.Millisecond)
			d.Record(now, 1) // a request waits for a cold instance
			dec := d.Decide(now, 0)
			if dec.Desired < 1 {
				t.Fatalf("one request at zero: %+v, want >= 1", dec)
			}
			if tc.idle > 0 && (dec.Desired != 1 || dec.Panicking) {
				t.Errorf("one request after idle: %+v, want exactly 1, calm", dec)
			}
		})
	}
	t.Run("in flight without a fresh sample", func(t *testing.T) {
		d := NewDecider(Config{})
		d.Record(t0, 1) // the latest sample: one request in flight
		if dec := d.Decide(t0.Add(time.Hour), 0); dec.Desired != 1 || dec.Reason != ReasonInFlight {
			t.Fatalf("%+v, want 1 (in flight)", dec)
		}
	})
	t.Run("in flight beats a tiny average", func(t *testing.T) {
		d := NewDecider(Config{StableWindow: time.Hour, ScaleToZeroGrace: time.Second})
		for i := range 3600 {
			d.Record(t0.Add(time.Duration(i)*time.Second), 0)
		}
		now := t0.Add(time.Hour)
		d.Record(now, 1e-12)
		if dec := d.Decide(now, 0); dec.Desired != 1 {
			t.Fatalf("%+v, want 1", dec)
		}
	})
}

func TestConfigChangeLive(t *testing.T) {
	t.Run("max lowered applies at once", func(t *testing.T) {
		s := newSim(Config{}, 0, true).load(3*time.Minute, 7)
		s.d.SetConfig(Config{Max: 3})
		if dec := s.decide(); dec.Desired != 3 || dec.Reason != ReasonMax {
			t.Fatalf("%+v, want 3 (max)", dec)
		}
	})
	t.Run("min raised applies at once", func(t *testing.T) {
		s := newSim(Config{}, 0, true).load(3*time.Minute, 0)
		s.d.SetConfig(Config{Min: 8})
		if dec := s.decide(); dec.Desired != 8 || dec.Reason != ReasonMin {
			t.Fatalf("%+v, want 8 (min)", dec)
		}
	})
	t.Run("min lowered to zero waits for the grace", func(t *testing.T) {
		s := newSim(Config{Min: 2}, 0, true).load(time.Minute, 0)
		s.d.SetConfig(Config{Min: 0, ScaleToZeroGrace: 5 * time.Minute})
		if dec := s.decide(); dec.Desired != 1 || dec.Reason != ReasonDownRate {
			t.Fatalf("%+v, want 1 (down rate)", dec)
		}
		s.load(time.Minute, 0)
		if dec := s.lastDecision(); dec.Desired != 1 {
			t.Fatalf("%+v, want 1 kept warm", dec)
		}
		s.load(4*time.Minute, 0)
		if dec := s.lastDecision(); dec.Desired != 0 {
			t.Fatalf("%+v, want 0 after the grace", dec)
		}
	})
	t.Run("windows resized keep history", func(t *testing.T) {
		s := newSim(Config{}, 0, true).load(3*time.Minute, 7)
		for _, c := range []Config{{StableWindow: 2 * time.Minute}, {StableWindow: 10 * time.Second}, {}} {
			s.d.SetConfig(c)
			s.d.Record(s.now, 7) // a sample in the bucket decided in
			if dec := s.decide(); dec.Desired != 10 || dec.StableAvg != 7 {
				t.Fatalf("after %+v: %+v, want 10 on average 7", c, dec)
			}
		}
	})
	t.Run("bucket change restarts history", func(t *testing.T) {
		s := newSim(Config{}, 0, true).load(3*time.Minute, 7)
		s.d.SetConfig(Config{Bucket: 500 * time.Millisecond})
		s.load(time.Second, 7)
		if dec := s.lastDecision(); dec.Desired != 10 || dec.StableAvg != 7 {
			t.Fatalf("%+v, want 10 on average 7", dec)
		}
	})
}

func TestDeciderOddInput(t *testing.T) {
	d := NewDecider(Config{})
	d.Record(t0.Add(time.Minute), 7)
	d.Record(t0, 7) // earlier than seen: counts as the latest time
	d.Record(t0.Add(time.Minute), math.NaN())
	d.Record(t0.Add(time.Minute), -5) // counts as 0
	dec := d.Decide(t0, -3)
	if want := 14.0 / 3; math.Abs(dec.StableAvg-want) > 1e-9 || dec.Ready != 0 {
		t.Fatalf("%+v, want average %v, ready 0", dec, want)
	}
	d.Record(t0.Add(time.Minute), math.Inf(1))
	if dec := d.Decide(t0.Add(time.Minute), math.MaxInt); dec.Desired != MaxDesired {
		t.Fatalf("huge load: %+v, want %d", dec, MaxDesired)
	}
}

func TestCeil(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want float64
	}{
		{7 / 0.7, 10}, {0.7 / 0.7, 1}, {1e-12, 1}, {0, 0}, {10.5, 11}, {2.1 / 0.7, 3},
	} {
		if got := ceil(tc.in); got != tc.want {
			t.Errorf("ceil(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func BenchmarkRecordDecide(b *testing.B) {
	// One decision period of a busy version: 20 samples then a decision.
	d := NewDecider(Config{})
	now := t0
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		for range 20 {
			now = now.Add(sampleEvery)
			d.Record(now, float64(i%50))
		}
		d.Decide(now, 20)
	}
}

func BenchmarkRecord(b *testing.B) {
	d := NewDecider(Config{})
	now := t0
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		now = now.Add(sampleEvery)
		d.Record(now, float64(i%50))
	}
}

func BenchmarkDecide(b *testing.B) {
	for _, w := range []time.Duration{DefaultStableWindow, time.Hour} {
		b.Run(w.String(), func(b *testing.B) {
			d := NewDecider(Config{StableWindow: w})
			for i := range int(w / time.Second) {
				d.Record(t0.Add(time.Duration(i)*time.Second), float64(i%50))
			}
			now := t0.Add(w)
			b.ReportAllocs()
			for b.Loop() {
				d.Decide(now, 20)
			}
		})
	}
}
