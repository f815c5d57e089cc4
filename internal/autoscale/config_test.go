package autoscale

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestWithDefaults(t *testing.T) {
	got := Config{}.WithDefaults()
	want := Config{Target: 1, TargetUtilization: 0.7, StableWindow: 60 * time.Second, PanicWindow: 6 * time.Second,
		PanicThreshold: 2, MaxScaleUpRate: 1000, MaxScaleDownRate: 2, ScaleToZeroGrace: 30 * time.Second,
		Tick: 2 * time.Second, Bucket: time.Second}
	if got != want {
		t.Fatalf("defaults:\n got %+v\nwant %+v", got, want)
	}
	if got := (Config{StableWindow: 2 * time.Minute}).WithDefaults().PanicWindow; got != 12*time.Second {
		t.Errorf("panic window for a 2 m stable window: %v, want 12 s (10%%)", got)
	}
	if got := (Config{StableWindow: 2 * time.Second}).WithDefaults().PanicWindow; got != time.Second {
		t.Errorf("panic window for a 2 s stable window: %v, want one bucket", got)
	}
	if got := (Config{Min: 2, Max: 7}).WithDefaults(); got.Min != 2 || got.Max != 7 {
		t.Errorf("bounds changed: %+v", got)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    Config
		want string // a part of the error; "" for valid
	}{
		{"zero value", Config{}, ""},
		{"bounds", Config{Min: 2, Max: 10}, ""},
		{"min equals max", Config{Min: 3, Max: 3}, ""},
		{"no max with min", Config{Min: 3}, ""},
		{"short windows", Config{StableWindow: 2 * time.Second, PanicWindow: time.Second}, ""},
		{"fine buckets", Config{Bucket: 10 * time.Millisecond, StableWindow: time.Second}, ""},
		{"negative target", Config{Target: -1}, "target -1"},
		{"NaN target", Config{Target: math.NaN()}, "target NaN"},
		{"infinite target", Config{Target: math.Inf(1)}, "target +Inf"},
		{"utilization above 1", Config{TargetUtilization: 1.5}, "target utilization 1.5"},
		{"panic threshold 1", Config{PanicThreshold: 1}, "panic threshold 1"},
		{"up rate 1", Config{MaxScaleUpRate: 1}, "max scale-up rate 1"},
		{"down rate 0.5", Config{MaxScaleDownRate: 0.5}, "max scale-down rate 0.5"},
		{"panic beyond stable", Config{StableWindow: 10 * time.Second, PanicWindow: 20 * time.Second}, "panic window 20s"},
		{"panic below a bucket", Config{PanicWindow: time.Millisecond}, "panic window 1ms"},
		{"stable too long", Config{StableWindow: 2 * time.Hour}, "stable window 2h0m0s"},
		{"negative bucket", Config{Bucket: -time.Second}, "bucket -1s"},
		{"huge bucket", Config{Bucket: time.Hour}, "bucket 1h0m0s"},
		{"negative min", Config{Min: -1}, "min -1"},
		{"negative max", Config{Max: -1}, "max -1"},
		{"min above max", Config{Min: 5, Max: 2}, "min 5 is above max 2"},
		{"negative grace", Config{ScaleToZeroGrace: -time.Second}, "grace -1s"},
		{"negative tick", Config{Tick: -time.Second}, "tick -1s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want ErrConfig mentioning %q", err, tc.want)
			}
			// A Decider runs on a repaired config all the same.
			if err := NewDecider(tc.c).Config().Validate(); err != nil {
				t.Fatalf("NewDecider kept an invalid config: %v", err)
			}
		})
	}
	if err := (Config{Target: -1, Min: -1}).Validate(); strings.Count(err.Error(), "\n") != 1 {
		t.Errorf("want both problems reported: %v", err)
	}
}
