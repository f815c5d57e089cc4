package autoscale

import (
	"math"
	"testing"
	"time"
)

// FuzzDecider feeds random sample sequences, ready counts and config
// changes to a Decider and checks the invariants every decision keeps.
func FuzzDecider(f *testing.F) {
	f.Add(uint8(0), uint8(0), uint8(5), []byte{1, 5, 200, 1, 0, 200, 3, 40, 200, 1, 0, 0})
	f.Add(uint8(1), uint8(10), uint8(1), []byte{1, 100, 3, 1, 1, 200, 255, 7, 9, 40, 0, 200})
	f.Add(uint8(0), uint8(3), uint8(30), []byte{21, 1, 0, 21, 250, 200, 101, 0, 5, 3, 39, 50})
	f.Fuzz(func(t *testing.T, lo, hi, grace uint8, ops []byte) {
		c := fuzzConfig(lo, hi, grace, 0)
		d := NewDecider(c)
		now, ready := t0, 0
		var prev Decision
		calmSince := true // no config change since prev
		for i := 0; i+2 < len(ops); i += 3 {
			b0, b1, b2 := ops[i], ops[i+1], ops[i+2]
			now = now.Add(time.Duration(b0>>1) * 50 * time.Millisecond)
			if b0 == 255 {
				c = fuzzConfig(b1, b2, grace, b1^b2)
				d.SetConfig(c)
				calmSince = false
				continue
			}
			conc := float64(b1 % 40)
			if b1 >= 200 {
				conc = 0
			}
			if b1 == 199 {
				d.MarkActive(now)
			} else {
				d.Record(now, conc)
			}
			if b2 < 200 {
				ready = int(b2 % 60)
			}
			if b0&1 == 0 {
				continue
			}
			dec := d.Decide(now, ready)
			checkDecision(t, d.Config(), dec, prev, calmSince, d.last)
			prev, calmSince = dec, true
			if b2 >= 200 { // a target that follows at once
				ready = dec.Desired
			}
		}
	})
}

// fuzzConfig makes a small config (windows of seconds) from a few bytes.
func fuzzConfig(lo, hi, grace, x uint8) Config {
	c := Config{
		Min:              int(lo % 5),
		StableWindow:     time.Duration(2+x%10) * time.Second,
		PanicWindow:      time.Duration(1+x%2) * time.Second,
		ScaleToZeroGrace: time.Duration(1+grace%40) * time.Second,
		MaxScaleUpRate:   []float64{0, 1.5, 3}[x%3],
		MaxScaleDownRate: []float64{0, 1.1, 4}[x/3%3],
		PanicThreshold:   []float64{0, 1.2, 5}[x/9%3],
	}
	if hi%4 != 0 {
		c.Max = c.Min + 1 + int(hi%30)
	}
	return c
}

func checkDecision(t *testing.T, c Config, dec, prev Decision, sameConfig bool, last float64) {
	t.Helper()
	upper := MaxDesired
	if c.Max > 0 {
		upper = c.Max
	}
	if dec.Desired < c.Min || dec.Desired > upper {
		t.Fatalf("%+v outside [%d, %d]", dec, c.Min, upper)
	}
	if last > 0 && dec.Desired < 1 {
		t.Fatalf("%v in flight but %+v", last, dec)
	}
	if dec.Panicking && sameConfig && prev.Panicking && dec.Desired < prev.Desired {
		t.Fatalf("scaled down in panic: %+v after %+v", dec, prev)
	}
	if dec.Panicking && dec.Desired < min(dec.Ready, upper) {
		t.Fatalf("in panic below ready: %+v", dec)
	}
	if math.IsNaN(dec.StableAvg) || math.IsNaN(dec.PanicAvg) || dec.StableAvg < 0 || dec.PanicAvg < 0 {
		t.Fatalf("bad averages: %+v", dec)
	}
	if !dec.Panicking {
		r := float64(max(dec.Ready, 1))
		lo, hi := int(math.Floor(r/c.MaxScaleDownRate)), int(math.Ceil(r*c.MaxScaleUpRate))
		switch dec.Reason {
		case ReasonMin, ReasonMax, ReasonInFlight, ReasonKeepWarm:
		default:
			if dec.Desired < lo || dec.Desired > hi {
				t.Fatalf("%+v beyond the rates [%d, %d]", dec, lo, hi)
			}
		}
	}
}

// FuzzConfig checks that any config validates without panicking and that
// a Decider always runs on a valid one.
func FuzzConfig(f *testing.F) {
	f.Add(1.0, 0.7, 2.0, 1000.0, 2.0, int64(60e9), int64(6e9), int64(30e9), int64(2e9), int64(1e9), 0, 0)
	f.Add(-1.0, 2.0, 1.0, 1.0, 0.5, int64(-1), int64(1<<62), int64(-5), int64(-1), int64(1<<62), 5, 2)
	f.Fuzz(func(t *testing.T, target, util, thr, up, down float64, stable, panicW, grace, tick, bucket int64, lo, hi int) {
		c := Config{Target: target, TargetUtilization: util, PanicThreshold: thr, MaxScaleUpRate: up, MaxScaleDownRate: down,
			StableWindow: time.Duration(stable), PanicWindow: time.Duration(panicW), ScaleToZeroGrace: time.Duration(grace),
			Tick: time.Duration(tick), Bucket: time.Duration(bucket), Min: lo, Max: hi}
		_ = c.Validate()
		r := c.repaired()
		if err := r.Validate(); err != nil {
			t.Fatalf("repaired %+v: %v", r, err)
		}
		if c.Validate() == nil && r != c.WithDefaults() {
			t.Fatalf("repair changed a valid config: %+v -> %+v", c.WithDefaults(), r)
		}
		d := NewDecider(c)
		d.Record(t0, 3)
		dec := d.Decide(t0.Add(time.Second), 1)
		checkDecision(t, d.Config(), dec, Decision{}, false, 3)
	})
}
