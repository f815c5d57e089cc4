package sandboxtest

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/sandbox"
)

// states are the instance states api.Instance names.
var states = []string{"starting", "idle", "busy", "restarting"}

// checkInstances checks every listed instance names r's service and
// version, has a unique ID and a known state, and returns them.
func checkInstances(t *testing.T, r *runner) []api.Instance {
	t.Helper()
	list := r.Instances()
	seen := map[string]bool{}
	for _, inst := range list {
		if inst.Service != r.spec.Service || inst.Version != r.spec.Version {
			t.Errorf("instance %q lists service %q version %d, want %q version %d", inst.ID, inst.Service, inst.Version, r.spec.Service, r.spec.Version)
		}
		if inst.ID == "" || seen[inst.ID] {
			t.Errorf("instance ID %q is empty or not unique in %+v", inst.ID, list)
		}
		seen[inst.ID] = true
		if !slices.Contains(states, inst.State) {
			t.Errorf("instance %q is in state %q, not one of %q", inst.ID, inst.State, states)
		}
		if inst.Started.IsZero() {
			t.Errorf("instance %q has no Started time", inst.ID)
		}
	}
	return list
}

func testInstances(t *testing.T, h Harness) {
	r := h.load(t, "conform-instances", func(s *sandbox.Spec) { s.MaxInstances = 4 })
	r.serve(t, get("/one", ""), http.StatusOK)
	if list := checkInstances(t, r); len(list) == 0 {
		t.Errorf("Instances() is empty after a request was served (IdleTimeout is the default): the instance that served it is live")
	}
	r.warm(t, h, 2)
	if list := checkInstances(t, r); len(list) < 2 {
		t.Errorf("Instances() lists %d with 2 Ready: %+v", len(list), list)
	}
}

func testScaleToZero(t *testing.T, h Harness) {
	r := h.load(t, "conform-scale", func(s *sandbox.Spec) {
		s.MinInstances, s.MaxInstances, s.IdleTimeout = 0, 4, time.Hour
	})
	s := r.scalable(t)
	ready := func(n int) func() (bool, string) {
		return func() (bool, string) {
			got := s.Ready()
			return got == n, fmt.Sprintf("Ready() = %d, Instances() = %+v", got, r.Instances())
		}
	}

	s.SetDesired(2)
	waitFor(t, h.StartBudget, "SetDesired(2) makes exactly 2 instances Ready", ready(2))
	checkInstances(t, r)
	cold := r.cold.Load()
	r.serve(t, get("/warm", ""), http.StatusOK)
	if got := r.cold.Load(); got != cold {
		t.Errorf("a request with 2 instances Ready and idle cold started (OnColdStart called %d times)", got-cold)
	}

	s.SetDesired(0)
	waitFor(t, h.StartBudget, "SetDesired(0) with MinInstances 0 scales to zero", ready(0))

	cold, waits := r.cold.Load(), r.waits.Load()
	began := time.Now()
	r.serve(t, get("/cold", ""), http.StatusOK)
	took := time.Since(began)
	if r.cold.Load() == cold {
		t.Errorf("a request at zero instances was served without calling OnColdStart")
	}
	if r.waits.Load() == waits {
		t.Errorf("a request at zero instances was served without calling OnWaitForInstance")
	}
	if took > h.StartBudget {
		t.Errorf("the cold start took %s, more than the StartBudget %s", took, h.StartBudget)
	}
	checkInstances(t, r)
}

func testMinInstances(t *testing.T, h Harness) {
	r := h.load(t, "conform-min", func(s *sandbox.Spec) {
		s.MinInstances, s.MaxInstances, s.IdleTimeout = 2, 4, 20*time.Millisecond
	})
	s := r.scalable(t)
	waitFor(t, h.StartBudget, "MinInstances 2 are Ready after Load", func() (bool, string) {
		got := s.Ready()
		return got >= 2, fmt.Sprintf("Ready() = %d", got)
	})
	// Asking for fewer, and many idle timeouts passing, leave MinInstances.
	s.SetDesired(0)
	for end := time.Now().Add(15 * 20 * time.Millisecond); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if got := s.Ready(); got < 2 {
			t.Fatalf("Ready() fell to %d below MinInstances 2 (after SetDesired(0), IdleTimeout 20ms)", got)
		}
	}
	cold := r.cold.Load()
	r.serve(t, get("/warm", ""), http.StatusOK)
	if got := r.cold.Load(); got != cold {
		t.Errorf("a request with MinInstances 2 warm cold started (OnColdStart called %d times)", got-cold)
	}
	checkInstances(t, r)
}
