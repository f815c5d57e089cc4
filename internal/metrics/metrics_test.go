package metrics

import (
	"testing"
	"time"
)

func TestColdStartFunc(t *testing.T) {
	m := New()
	pooled, wagi := m.ColdStartFunc("pooled"), m.ColdStartFunc("wagi")
	pooled(300 * time.Microsecond)
	pooled(2 * time.Second)
	wagi(50 * time.Microsecond)
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{}
	for _, f := range families {
		if f.GetName() != "mote_cold_start_seconds" {
			continue
		}
		for _, s := range f.GetMetric() {
			h := s.GetHistogram()
			got[s.GetLabel()[0].GetValue()] = h.GetSampleCount()
			if b := h.GetBucket(); b[0].GetUpperBound() != 0.0001 || b[len(b)-1].GetUpperBound() != 10 {
				t.Errorf("buckets from %g to %g, want 0.0001 to 10", b[0].GetUpperBound(), b[len(b)-1].GetUpperBound())
			}
		}
	}
	if got["pooled"] != 2 || got["wagi"] != 1 {
		t.Errorf("cold starts observed by abi: %v, want pooled 2 and wagi 1", got)
	}
}
