package main

import (
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/node/nodetest"
)

func TestTrafficChange(t *testing.T) {
	svc := api.Service{Name: "hello", Latest: 4, Traffic: []api.TrafficSplit{{Version: 3, Weight: 90}, {Version: 4, Weight: 10, Tag: "canary"}}}
	tests := []struct {
		name         string
		weights      []string
		tags, untags []string
		want         []api.TrafficSplit
		wantErr      string
		svcOverride  *api.Service
	}{
		{name: "whole split", weights: []string{"3=50", "4=50"},
			want: []api.TrafficSplit{{Version: 3, Weight: 50}, {Version: 4, Weight: 50, Tag: "canary"}}},
		{name: "named sum to 100 drops the rest", weights: []string{"4=100"},
			want: []api.TrafficSplit{{Version: 3}, {Version: 4, Weight: 100, Tag: "canary"}}},
		{name: "latest", weights: []string{"latest=100"},
			want: []api.TrafficSplit{{Version: 3}, {Version: 4, Weight: 100, Tag: "canary"}}},
		{name: "partial keeps the others", weights: []string{"4=0"}, tags: []string{"4=beta"},
			svcOverride: &api.Service{Name: "hello", Latest: 4, Traffic: []api.TrafficSplit{{Version: 3, Weight: 100}}},
			want:        []api.TrafficSplit{{Version: 3, Weight: 100}, {Version: 4, Tag: "beta"}}},
		{name: "partial that does not sum", weights: []string{"4=0"}, wantErr: "the weights would sum to 90% (3=90%)"},
		{name: "tag moves", tags: []string{"3=canary"},
			want: []api.TrafficSplit{{Version: 3, Weight: 90, Tag: "canary"}, {Version: 4, Weight: 10}}},
		{name: "untag", untags: []string{"canary"},
			want: []api.TrafficSplit{{Version: 3, Weight: 90}, {Version: 4, Weight: 10}}},
		{name: "untag unknown", untags: []string{"beta"}, wantErr: `no version of hello is tagged "beta"`},
		{name: "not a pair", weights: []string{"3"}, wantErr: "is not VERSION=WEIGHT"},
		{name: "bad weight", weights: []string{"3=101"}, wantErr: "not a percentage"},
		{name: "negative weight", weights: []string{"3=-1"}, wantErr: "not a percentage"},
		{name: "bad version", weights: []string{"x=1"}, wantErr: "not a number from 1"},
		{name: "version 0", weights: []string{"0=100"}, wantErr: "not a number from 1"},
		{name: "twice", weights: []string{"3=50", "3=50"}, wantErr: "version 3 is given a weight twice"},
		{name: "bad tag", tags: []string{"3=Canary"}, wantErr: "not 1 to 32 characters"},
		{name: "tag without version", tags: []string{"canary"}, wantErr: "is not VERSION=TAG"},
		{name: "percent sign", weights: []string{"3=90%", "4=10%"},
			want: []api.TrafficSplit{{Version: 3, Weight: 90}, {Version: 4, Weight: 10, Tag: "canary"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := svc
			if tt.svcOverride != nil {
				s = *tt.svcOverride
			}
			ch, err := parseTrafficChange(tt.weights, tt.tags, tt.untags, s.Latest)
			var got []api.TrafficSplit
			if err == nil {
				got, err = ch.apply(s)
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("split = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func FuzzTrafficChange(f *testing.F) {
	f.Add("3=90", "4=canary", "beta")
	f.Add("latest=100", "@latest=x", "")
	f.Add("v3=50%", "=", "canary")
	svc := api.Service{Name: "hello", Latest: 4, Traffic: []api.TrafficSplit{{Version: 3, Weight: 90}, {Version: 4, Weight: 10, Tag: "canary"}}}
	f.Fuzz(func(t *testing.T, weight, tag, untag string) {
		ch, err := parseTrafficChange([]string{weight, "4=0"}, []string{tag}, []string{untag}, svc.Latest)
		if err != nil {
			return
		}
		split, err := ch.apply(svc)
		if err != nil {
			return
		}
		sum := 0
		tags := map[string]bool{}
		for _, s := range split {
			if s.Version < 1 || s.Weight < 0 || s.Weight > 100 {
				t.Fatalf("bad entry %+v from %q %q %q", s, weight, tag, untag)
			}
			if s.Tag != "" {
				if tags[s.Tag] {
					t.Fatalf("tag %q twice in %+v", s.Tag, split)
				}
				tags[s.Tag] = true
			}
			sum += s.Weight
		}
		if sum != 100 {
			t.Fatalf("weights sum to %d: %+v", sum, split)
		}
	})
}

// TestTrafficCommands drives traffic, tags, rollback and scale through the
// CLI against a node.
func TestTrafficCommands(t *testing.T) {
	t.Parallel()
	n := newTestNode(t)
	n.deployGuest(t, "greet", "\n[env]\nV = \"1\"\n")
	dir := serviceDir(t, "name = \"greet\"\n\n[wasm]\nmodule = \"guest.wasm\"\n\n[env]\nV = \"2\"\n", map[string][]byte{"guest.wasm": nodetest.ReadFile(t, guestWasmPath)})

	r := n.must(t, "deploy", dir, "--no-traffic", "--tag", "canary", "--no-build")
	if !strings.Contains(r.stdout, "Deployed greet version 2") || !strings.Contains(r.stdout, "with 0% of the traffic") ||
		!strings.Contains(r.stdout, n.Gateway+"/greet@canary") {
		t.Errorf("deploy --no-traffic --tag:\n%s", r.stdout)
	}
	body := func(path string, h http.Header) string {
		t.Helper()
		status, _, b := n.Do(t, "GET", path, h, nil)
		if status != 200 {
			t.Fatalf("GET %s: %d %s", path, status, b)
		}
		return b
	}
	if b := body("/greet/env", nil); !strings.Contains(b, "V=1\n") {
		t.Errorf("the route serves %q, want version 1", b)
	}
	if b := body("/greet@canary/env", nil); !strings.Contains(b, "V=2\n") {
		t.Errorf("the tag route serves %q, want version 2", b)
	}
	if b := body("/greet/env", http.Header{"X-Mote-Tag": {"canary"}}); !strings.Contains(b, "V=2\n") {
		t.Errorf("the tag header gets %q, want version 2", b)
	}

	r = n.must(t, "versions", "greet")
	if f := strings.Fields(row(r.stdout, "2")); len(f) < 4 || f[1] != "0%" || f[2] != "canary" || f[3] != "tagged" {
		t.Errorf("version 2 row: %q\n%s", f, r.stdout)
	}
	if f := strings.Fields(row(r.stdout, "1")); len(f) < 4 || f[1] != "100%" || f[2] != "-" || f[3] != "serving" {
		t.Errorf("version 1 row: %q\n%s", f, r.stdout)
	}

	r = n.must(t, "traffic", "greet", "1=90", "2=10")
	if f := strings.Fields(row(r.stdout, "2")); len(f) < 4 || f[1] != "10%" || f[2] != "canary" || f[3] != n.Gateway+"/greet@canary" {
		t.Errorf("traffic output:\n%s", r.stdout)
	}
	n.fails(t, []string{"traffic", "greet", "2=50"}, "Error: the weights would sum to 140%", "Try: mote traffic greet 2=100")
	n.fails(t, []string{"traffic", "greet", "7=100"}, "Error: greet has no version 7", "Try: list its versions")
	n.fails(t, []string{"traffic", "nosuch", "1=100"}, "Error: no service named nosuch")

	n.must(t, "traffic", "greet", "latest=100")
	if b := body("/greet/env", nil); !strings.Contains(b, "V=2\n") {
		t.Errorf("after latest=100 the route serves %q, want version 2", b)
	}
	r = n.must(t, "rollback", "greet")
	if !strings.Contains(r.stdout, "Rolled greet back to version 1") {
		t.Errorf("rollback: %s", r.stdout)
	}
	if b := body("/greet/env", nil); !strings.Contains(b, "V=1\n") {
		t.Errorf("after rollback the route serves %q, want version 1", b)
	}
	n.fails(t, []string{"rollback", "greet"}, "Error: greet has no earlier version", "Try: choose a version with: mote traffic greet VERSION=100")

	r = n.must(t, "scale", "greet", "--min", "1", "--max", "5")
	if !strings.Contains(r.stdout, "scale override min 1, max 5") {
		t.Errorf("scale: %s", r.stdout)
	}
	if r := n.must(t, "scale", "greet"); !strings.Contains(r.stdout, "min 1, max 5") {
		t.Errorf("scale (show): %s", r.stdout)
	}
	n.fails(t, []string{"scale", "greet", "--min", "6", "--max", "5"}, "Error: min 6 is above max 5")
	if r := n.must(t, "scale", "greet", "--reset"); !strings.Contains(r.stdout, "no scale override") {
		t.Errorf("scale --reset: %s", r.stdout)
	}

	r = n.must(t, "ps", "greet")
	if !strings.HasPrefix(r.stdout, "VERSION ") || row(r.stdout, "1") == "" {
		t.Errorf("ps greet has no summary of version 1:\n%s", r.stdout)
	}
}

func TestParseGuard(t *testing.T) {
	tests := []struct {
		rate    string
		min     int
		minSet  bool
		want    *api.CanaryGuard
		wantErr string
	}{
		{"", 20, false, nil, ""},
		{"5%", 20, false, &api.CanaryGuard{MaxErrorRate: 0.05, MinRequests: 20}, ""},
		{"0.5%", 100, true, &api.CanaryGuard{MaxErrorRate: 0.005, MinRequests: 100}, ""},
		{"0.1", 20, false, &api.CanaryGuard{MaxErrorRate: 0.1, MinRequests: 20}, ""},
		{"100%", 1, true, &api.CanaryGuard{MaxErrorRate: 1, MinRequests: 1}, ""},
		{"0%", 20, false, nil, "above 0"},
		{"150%", 20, false, nil, "at most 100%"},
		{"lots", 20, false, nil, "like 5%"},
		{"5%", 0, true, nil, "--min-requests 0"},
		{"", 30, true, nil, "goes with --rollback-on"},
	}
	for _, tt := range tests {
		got, err := parseGuard(tt.rate, tt.min, tt.minSet)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseGuard(%q, %d): err %v, want %q", tt.rate, tt.min, err, tt.wantErr)
			}
			continue
		}
		if err != nil || (got == nil) != (tt.want == nil) || got != nil && *got != *tt.want {
			t.Errorf("parseGuard(%q, %d) = %+v, %v; want %+v", tt.rate, tt.min, got, err, tt.want)
		}
	}
}
