package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/manifest"
	"github.com/mote-run/mote/internal/sandbox"
)

var guestWasm = func() []byte {
	b, err := os.ReadFile("../sandbox/wasm/testdata/guest.wasm")
	if err != nil {
		panic(err)
	}
	return b
}()

func ptr(n int) *int { return &n }

func wantCode(t *testing.T, err error, code string, msg string) {
	t.Helper()
	var ae *api.Error
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v (%T), want an *api.Error %s", err, err, code)
	}
	if ae.Code != code || !strings.Contains(ae.Message, msg) {
		t.Fatalf("err = %s %q, want %s containing %q", ae.Code, ae.Message, code, msg)
	}
	if ae.Status != api.StatusOf(code) {
		t.Errorf("status %d, want %d", ae.Status, api.StatusOf(code))
	}
}

func TestCheckSplit(t *testing.T) {
	tests := []struct {
		name  string
		split []api.TrafficSplit
		want  []api.TrafficSplit
		err   string
	}{
		{name: "one version", split: []api.TrafficSplit{{Version: 1, Weight: 100}}, want: []api.TrafficSplit{{Version: 1, Weight: 100}}},
		{name: "sorted, untagged zero dropped",
			split: []api.TrafficSplit{{Version: 4, Weight: 10}, {Version: 2}, {Version: 3, Weight: 90}, {Version: 1, Tag: "old"}},
			want:  []api.TrafficSplit{{Version: 1, Tag: "old"}, {Version: 3, Weight: 90}, {Version: 4, Weight: 10}}},
		{name: "empty", split: nil, err: "the split names no version"},
		{name: "sum under", split: []api.TrafficSplit{{Version: 1, Weight: 60}, {Version: 2, Weight: 30}}, err: "the weights sum to 90; they must sum to 100 (1=60 2=30)"},
		{name: "sum over", split: []api.TrafficSplit{{Version: 1, Weight: 60}, {Version: 2, Weight: 60}}, err: "the weights sum to 120"},
		{name: "only tags", split: []api.TrafficSplit{{Version: 1, Tag: "a"}}, err: "the weights sum to 0"},
		{name: "weight over 100", split: []api.TrafficSplit{{Version: 1, Weight: 101}}, err: "version 1: weight 101 is not a percentage from 0 to 100"},
		{name: "negative weight", split: []api.TrafficSplit{{Version: 1, Weight: 110}, {Version: 2, Weight: -10}}, err: "version 1: weight 110"},
		{name: "negative weight alone", split: []api.TrafficSplit{{Version: 2, Weight: -10}}, err: "version 2: weight -10"},
		{name: "version 0", split: []api.TrafficSplit{{Version: 0, Weight: 100}}, err: "version 0: versions are numbered from 1"},
		{name: "duplicate version", split: []api.TrafficSplit{{Version: 1, Weight: 50}, {Version: 1, Weight: 50}}, err: "version 1 is named twice"},
		{name: "bad tag", split: []api.TrafficSplit{{Version: 1, Weight: 100, Tag: "Canary"}}, err: `version 1: tag "Canary" is not 1 to 32 characters`},
		{name: "long tag", split: []api.TrafficSplit{{Version: 1, Weight: 100, Tag: strings.Repeat("a", 33)}}, err: "is not 1 to 32 characters"},
		{name: "tag with @", split: []api.TrafficSplit{{Version: 1, Weight: 100, Tag: "a@b"}}, err: "is not 1 to 32 characters"},
		{name: "duplicate tag", split: []api.TrafficSplit{{Version: 1, Weight: 100, Tag: "x"}, {Version: 2, Tag: "x"}}, err: "tag x is given to versions 1 and 2"},
		{name: "too many", split: func() []api.TrafficSplit {
			var s []api.TrafficSplit
			for i := range MaxSplit + 1 {
				s = append(s, api.TrafficSplit{Version: i + 1})
			}
			return s
		}(), err: "at most 32 may be routed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CheckSplit(tt.split)
			if tt.err != "" {
				wantCode(t, err, api.CodeBadRequest, tt.err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestCheckScale(t *testing.T) {
	tests := []struct {
		name string
		sc   api.Scale
		err  string
	}{
		{"none", api.Scale{}, ""},
		{"both", api.Scale{Min: ptr(0), Max: ptr(1000)}, ""},
		{"min only", api.Scale{Min: ptr(3)}, ""},
		{"negative min", api.Scale{Min: ptr(-1)}, "min -1 is out of range"},
		{"min too big", api.Scale{Min: ptr(1001)}, "min 1001 is out of range"},
		{"zero max", api.Scale{Max: ptr(0)}, "max 0 is out of range; write 1 to 1000"},
		{"min over max", api.Scale{Min: ptr(5), Max: ptr(4)}, "min 5 is above max 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckScale(tt.sc)
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantCode(t, err, api.CodeBadRequest, tt.err)
		})
	}
}

func TestScaleFor(t *testing.T) {
	m := &manifest.Manifest{Scale: manifest.Scale{Min: 2, Max: 10}}
	tests := []struct {
		name     string
		o        *api.Scale
		min, max int
	}{
		{"no override", nil, 2, 10},
		{"both", &api.Scale{Min: ptr(0), Max: ptr(50)}, 0, 50},
		{"min above the manifest's max raises max", &api.Scale{Min: ptr(20)}, 20, 20},
		{"max below the manifest's min lowers min", &api.Scale{Max: ptr(1)}, 1, 1},
		{"max only", &api.Scale{Max: ptr(5)}, 2, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if lo, hi := scaleFor(tt.o, m); lo != tt.min || hi != tt.max {
				t.Errorf("scaleFor = %d, %d; want %d, %d", lo, hi, tt.min, tt.max)
			}
		})
	}
}

func TestRollbackTarget(t *testing.T) {
	tests := []struct {
		name       string
		traffic    []api.TrafficSplit
		stable     []int
		target     int
		wantStable []int
	}{
		{"back one", []api.TrafficSplit{{Version: 3, Weight: 100}}, []int{1, 2, 3}, 2, []int{1, 2}},
		{"mid canary returns to the last 100%", []api.TrafficSplit{{Version: 3, Weight: 90}, {Version: 4, Weight: 10}}, []int{1, 2, 3}, 3, []int{1, 2, 3}},
		{"a version set twice in a row", []api.TrafficSplit{{Version: 3, Weight: 100}}, []int{1, 3, 3}, 1, []int{1}},
		{"current not in stable", []api.TrafficSplit{{Version: 5, Weight: 100}}, []int{1, 2}, 2, []int{1, 2}},
		{"nothing before", []api.TrafficSplit{{Version: 1, Weight: 100}}, []int{1}, 0, nil},
		{"no history", []api.TrafficSplit{{Version: 1, Weight: 100}}, nil, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target, stable, err := rollbackTarget(api.Service{Name: "hello", Traffic: tt.traffic, Stable: tt.stable})
			if tt.target == 0 {
				wantCode(t, err, api.CodeConflict, "hello has no earlier version")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if target != tt.target || !slices.Equal(stable, tt.wantStable) {
				t.Errorf("rollback to %d with stable %v; want %d with %v", target, stable, tt.target, tt.wantStable)
			}
		})
	}
}

func TestPushStable(t *testing.T) {
	var s []int
	for i := 1; i <= api.MaxStable+5; i++ {
		s = pushStable(s, i)
		s = pushStable(s, i) // no repeats
	}
	if len(s) != api.MaxStable || s[0] != 6 || s[len(s)-1] != api.MaxStable+5 {
		t.Errorf("stable = %v", s)
	}
}

// guestManifest is the guest as service svc, version marker v in [env].
func guestManifest(svc, v string) string {
	return fmt.Sprintf("name = %q\n[wasm]\nmodule = \"guest.wasm\"\n[env]\nV = %q\n", svc, v)
}

// get sends GET path through the harness's gateway and returns the status
// and the version marker the guest answered with ("" if none).
func (h *harness) get(t testing.TB, path string, header http.Header) (int, string) {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", path, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	h.gw.ServeHTTP(rec, req)
	body := rec.Body.String()
	for line := range strings.SplitSeq(body, "\n") {
		if v, ok := strings.CutPrefix(line, "V="); ok {
			return rec.Code, v
		}
	}
	return rec.Code, ""
}

func TestTrafficEndToEnd(t *testing.T) {
	h := newHarness(t)
	ctx := t.Context()
	mod := h.upload(t, guestWasm)
	deploy := func(v string, noTraffic bool, tag string) api.DeployResult {
		t.Helper()
		res, err := h.c.Deploy(ctx, api.DeployRequest{Manifest: guestManifest("g", v), Module: mod, NoTraffic: noTraffic, Tag: tag})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	wantServes := func(path string, header http.Header, want string) {
		t.Helper()
		if status, got := h.get(t, path, header); status != 200 || got != want {
			t.Fatalf("GET %s %v: %d version %q, want version %q", path, header, status, got, want)
		}
	}
	states := func() map[int]string {
		t.Helper()
		vs, err := h.c.Versions(ctx, "g")
		if err != nil {
			t.Fatal(err)
		}
		out := map[int]string{}
		for _, v := range vs {
			out[v.Number] = fmt.Sprintf("%s %d%% %s", v.State, v.Weight, v.Tag)
		}
		return out
	}

	_, err := h.c.Deploy(ctx, api.DeployRequest{Manifest: guestManifest("g", "1"), Module: mod, NoTraffic: true})
	wantCode(t, err, api.CodeConflict, "g has no serving version yet")

	deploy("1", false, "")
	res := deploy("2", true, "canary")
	if res.Service.Version != 1 || !slices.Equal(res.Service.Traffic, []api.TrafficSplit{{Version: 1, Weight: 100}, {Version: 2, Tag: "canary"}}) {
		t.Fatalf("after a no-traffic deploy: %+v", res.Service)
	}
	wantServes("/g/env", nil, "1")
	wantServes("/g@canary/env", nil, "2")
	wantServes("/g/env", http.Header{api.HeaderTag: {"canary"}}, "2")
	if s, _ := h.get(t, "/g/env", http.Header{api.HeaderTag: {"nope"}}); s != 404 {
		t.Errorf("unknown tag header: %d, want 404", s)
	}
	if got := states(); got[1] != "serving 100% " || got[2] != "tagged 0% canary" {
		t.Errorf("states: %v", got)
	}

	// The same artifact again, with no traffic, is unchanged; a new tag
	// moves to it.
	res = deploy("2", true, "beta")
	if !res.Unchanged || res.Version.Number != 2 || tagOf(res.Service.Traffic, 2) != "beta" {
		t.Fatalf("unchanged no-traffic deploy with a tag: %+v", res)
	}
	wantServes("/g@beta/env", nil, "2")
	if s, _ := h.get(t, "/g@canary/env", nil); s != 404 {
		t.Errorf("the old tag still routes: %d", s)
	}

	// 90/10: the split holds within 5 standard deviations.
	svc, err := h.c.SetTraffic(ctx, "g", []api.TrafficSplit{{Version: 1, Weight: 90}, {Version: 2, Weight: 10, Tag: "canary"}})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Version != 1 || len(svc.Stable) != 1 {
		t.Errorf("after 90/10: version %d, stable %v", svc.Version, svc.Stable)
	}
	const n = 2000
	count := map[string]int{}
	for range n {
		s, v := h.get(t, "/g/env", nil)
		if s != 200 {
			t.Fatalf("status %d", s)
		}
		count[v]++
	}
	if sd := math.Sqrt(n * 0.1 * 0.9); math.Abs(float64(count["2"])-n*0.1) > 5*sd {
		t.Errorf("version 2 answered %d of %d requests at 10%%, want %d ± %.0f", count["2"], n, n/10, 5*sd)
	}
	if count["1"]+count["2"] != n {
		t.Errorf("answers: %v", count)
	}

	// Errors.
	_, err = h.c.SetTraffic(ctx, "g", []api.TrafficSplit{{Version: 9, Weight: 100}})
	wantCode(t, err, api.CodeNotFound, "g has no version 9 (its latest is 2)")
	_, err = h.c.SetTraffic(ctx, "nosuch", []api.TrafficSplit{{Version: 1, Weight: 100}})
	wantCode(t, err, api.CodeNotFound, "no service named nosuch")
	_, err = h.c.SetTraffic(ctx, "g", []api.TrafficSplit{{Version: 1, Weight: 50}})
	wantCode(t, err, api.CodeBadRequest, "the weights sum to 50")

	// Rollbacks walk back along Stable.
	deploy("3", false, "")
	if svc, _, _ := h.st.Service(ctx, "g"); !slices.Equal(svc.Stable, []int{1, 3}) || !slices.Equal(svc.Traffic, []api.TrafficSplit{{Version: 2, Tag: "canary"}, {Version: 3, Weight: 100}}) {
		t.Fatalf("after deploying 3: stable %v, traffic %+v", svc.Stable, svc.Traffic)
	}
	wantServes("/g/env", nil, "3")
	wantServes("/g@canary/env", nil, "2")
	svc, err = h.c.Rollback(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if svc.Version != 1 || !slices.Equal(svc.Stable, []int{1}) {
		t.Errorf("rollback: version %d, stable %v", svc.Version, svc.Stable)
	}
	wantServes("/g/env", nil, "1")
	wantServes("/g@canary/env", nil, "2")
	nodrain := func() bool {
		got := states()
		return got[3] == "standby 0% " || got[3] == "draining 0% "
	}
	if !nodrain() {
		t.Errorf("version 3 after the rollback: %v", states())
	}
	_, err = h.c.Rollback(ctx, "g")
	wantCode(t, err, api.CodeConflict, "no earlier version")
}

func TestSetScale(t *testing.T) {
	d := &specDriver{}
	h := newHarnessWith(t, func(inner sandbox.Driver) sandbox.Driver { d.Driver = inner; return d }, nil)
	ctx := t.Context()
	mod := h.upload(t, helloWasm)
	if _, err := h.c.Deploy(ctx, api.DeployRequest{Manifest: helloManifest + "[scale]\nmax = 7\n", Module: mod}); err != nil {
		t.Fatal(err)
	}
	if s := d.last(t); s.MinInstances != 0 || s.MaxInstances != 7 {
		t.Fatalf("loaded with min %d max %d, want the manifest's 0, 7", s.MinInstances, s.MaxInstances)
	}
	svc, err := h.c.SetScale(ctx, "hello", &api.Scale{Max: ptr(3)})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Scale == nil || svc.Scale.Max == nil || *svc.Scale.Max != 3 || svc.Scale.Min != nil {
		t.Fatalf("service scale %+v", svc.Scale)
	}
	h.c.mu.Lock()
	vr := h.c.current["hello"].primary()
	h.c.mu.Unlock()
	vr.mu.Lock()
	lo, hi := vr.min, vr.max
	vr.mu.Unlock()
	if lo != 0 || hi != 3 {
		t.Errorf("the runner's bounds are %d, %d; want 0, 3", lo, hi)
	}
	if s, _ := h.get(t, "/hello", nil); s != 200 {
		t.Errorf("GET after scale: %d", s)
	}
	stored, _, _ := h.st.Service(ctx, "hello")
	if stored.Scale == nil || *stored.Scale.Max != 3 {
		t.Errorf("stored scale %+v", stored.Scale)
	}
	// A deploy keeps the override.
	if _, err := h.c.Deploy(ctx, api.DeployRequest{Manifest: helloManifest + "[scale]\nmax = 9\n", Module: mod}); err != nil {
		t.Fatal(err)
	}
	if s := d.last(t); s.MaxInstances != 3 {
		t.Errorf("a new version loaded with max %d, want the override's 3", s.MaxInstances)
	}
	if svc, err = h.c.SetScale(ctx, "hello", nil); err != nil || svc.Scale != nil {
		t.Fatalf("clear: %+v %v", svc.Scale, err)
	}
	_, err = h.c.SetScale(ctx, "hello", &api.Scale{Min: ptr(2), Max: ptr(1)})
	wantCode(t, err, api.CodeBadRequest, "min 2 is above max 1")
	_, err = h.c.SetScale(ctx, "nosuch", &api.Scale{Min: ptr(1)})
	wantCode(t, err, api.CodeNotFound, "no service named nosuch")
}

// TestZeroDowntime keeps 8 clients busy while versions are deployed,
// traffic is split and moved, tags change, the scale changes and
// rollbacks happen: every request must succeed. It runs with runners that
// change their bounds live and with runners that are replaced instead.
func TestZeroDowntime(t *testing.T) {
	t.Run("live scale", func(t *testing.T) { zeroDowntime(t, newHarness(t)) })
	t.Run("reloaded runners", func(t *testing.T) {
		d := &plainDriver{}
		zeroDowntime(t, newHarnessWith(t, func(inner sandbox.Driver) sandbox.Driver { d.Driver = inner; return d }, nil))
	})
}

func zeroDowntime(t *testing.T, h *harness) {
	ctx := t.Context()
	mod := h.upload(t, helloWasm)
	deploy := func(i int, noTraffic bool) {
		t.Helper()
		m := helloManifest + fmt.Sprintf("[env]\nRUN = \"%d\"\n", i)
		if _, err := h.c.Deploy(ctx, api.DeployRequest{Manifest: m, Module: mod, NoTraffic: noTraffic}); err != nil {
			t.Fatal(err)
		}
	}
	deploy(0, false)
	srv := httptest.NewServer(h.gw)
	defer srv.Close()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer hc.CloseIdleConnections()

	var (
		stop     atomic.Bool
		total    atomic.Int64
		mu       sync.Mutex
		failures []string
		wg       sync.WaitGroup
	)
	for range 8 {
		wg.Go(func() {
			for !stop.Load() {
				resp, err := hc.Get(srv.URL + "/hello/x")
				if err != nil {
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				total.Add(1)
				if resp.StatusCode != 200 {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%d %s", resp.StatusCode, b))
					mu.Unlock()
				}
			}
		})
	}
	step := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v", what, err)
		}
	}
	for i := 1; i <= 3; i++ {
		deploy(i, false) // version 2i: 100%
		deploy(i+100, true)
		latest := 2*i + 1
		_, err := h.c.SetTraffic(ctx, "hello", []api.TrafficSplit{{Version: latest - 1, Weight: 50}, {Version: latest, Weight: 50, Tag: "canary"}})
		step("split", err)
		_, err = h.c.SetScale(ctx, "hello", &api.Scale{Max: ptr(2 + i)})
		step("scale", err)
		_, err = h.c.SetTraffic(ctx, "hello", []api.TrafficSplit{{Version: latest, Weight: 100}})
		step("move", err)
		_, err = h.c.Rollback(ctx, "hello")
		step("rollback", err)
		_, err = h.c.Rollback(ctx, "hello")
		step("rollback again", err)
	}
	// Let the clients run against the final state too.
	for deadline := time.Now().Add(5 * time.Second); total.Load() < 200 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	if len(failures) > 0 {
		t.Errorf("%d of %d requests failed; first: %s", len(failures), total.Load(), failures[0])
	}
	t.Logf("%d requests, %d failed", total.Load(), len(failures))
	if total.Load() < 100 {
		t.Errorf("only %d requests were made", total.Load())
	}
}

// BenchmarkSetTraffic measures the time from a traffic change to the
// gateway serving the new split: SetTraffic returns only then.
func BenchmarkSetTraffic(b *testing.B) {
	h := newHarness(b)
	ctx := b.Context()
	mod := h.upload(b, helloWasm)
	for i := range 2 {
		if _, err := h.c.Deploy(ctx, api.DeployRequest{Manifest: helloManifest + fmt.Sprintf("[env]\nRUN = \"%d\"\n", i), Module: mod}); err != nil {
			b.Fatal(err)
		}
	}
	splits := [][]api.TrafficSplit{
		{{Version: 1, Weight: 90}, {Version: 2, Weight: 10}},
		{{Version: 1, Weight: 10}, {Version: 2, Weight: 90}},
	}
	i := 0
	for b.Loop() {
		if _, err := h.c.SetTraffic(ctx, "hello", splits[i%2]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// plainDriver hides every method of its runners but sandbox.Runner's, as
// a driver whose runners cannot change their bounds live.
type plainDriver struct{ specDriver }

type plainRunner struct{ sandbox.Runner }

func (d *plainDriver) Load(ctx context.Context, spec sandbox.Spec) (sandbox.Runner, error) {
	r, err := d.specDriver.Load(ctx, spec)
	if err != nil {
		return nil, err
	}
	return plainRunner{r}, nil
}

// TestSetScaleReloadsRunner: a runner that cannot change its bounds is
// replaced by one loaded with the new ones, while requests keep succeeding.
func TestSetScaleReloadsRunner(t *testing.T) {
	d := &plainDriver{}
	h := newHarnessWith(t, func(inner sandbox.Driver) sandbox.Driver { d.Driver = inner; return d }, nil)
	ctx := t.Context()
	mod := h.upload(t, helloWasm)
	if _, err := h.c.Deploy(ctx, api.DeployRequest{Manifest: helloManifest, Module: mod}); err != nil {
		t.Fatal(err)
	}
	if s, _ := h.get(t, "/hello", nil); s != 200 {
		t.Fatalf("GET: %d", s)
	}
	if _, err := h.c.SetScale(ctx, "hello", &api.Scale{Max: ptr(3)}); err != nil {
		t.Fatal(err)
	}
	if s, _ := h.get(t, "/hello", nil); s != 200 {
		t.Fatalf("GET after the scale change: %d", s)
	}
	d.mu.Lock()
	n := len(d.specs)
	d.mu.Unlock()
	if s := d.last(t); n != 2 || s.MaxInstances != 3 {
		t.Errorf("%d loads, the last with max %d; want a reload with max 3", n, s.MaxInstances)
	}
}

// sickDriver's runners report that their last instance starts failed.
type sickDriver struct{ sandbox.Driver }

type sickRunner struct{ sandbox.Runner }

func (sickRunner) Health() sandbox.Health {
	return sandbox.Health{ConsecutiveStartFailures: unhealthyStartFailures, LastError: "trap in _initialize"}
}

func (d sickDriver) Load(ctx context.Context, spec sandbox.Spec) (sandbox.Runner, error) {
	r, err := d.Driver.Load(ctx, spec)
	if err != nil || spec.Version != 2 {
		return r, err
	}
	return sickRunner{r}, nil
}

func TestVersionStates(t *testing.T) {
	h := newHarnessWith(t, func(inner sandbox.Driver) sandbox.Driver { return sickDriver{inner} }, nil)
	ctx := t.Context()
	mod := h.upload(t, helloWasm)
	for i, noTraffic := range []bool{false, true, true} {
		m := helloManifest + fmt.Sprintf("[env]\nRUN = \"%d\"\n", i)
		tag := ""
		if i == 1 {
			tag = "canary"
		}
		if _, err := h.c.Deploy(ctx, api.DeployRequest{Manifest: m, Module: mod, NoTraffic: noTraffic, Tag: tag}); err != nil {
			t.Fatal(err)
		}
	}
	states := func() []string {
		vs, err := h.c.Versions(ctx, "hello")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, v := range vs {
			out = append(out, fmt.Sprintf("%d:%s", v.Number, v.State))
		}
		return out
	}
	// Version 2 was loaded by its deploy, and its starts fail.
	if got, want := states(), []string{"3:standby", "2:unhealthy", "1:serving"}; !slices.Equal(got, want) {
		t.Errorf("states %v, want %v", got, want)
	}
	h.c.opts.Unhealthy = func(service string, version int) bool { return service == "hello" && version == 1 }
	if got, want := states(), []string{"3:standby", "2:unhealthy", "1:unhealthy"}; !slices.Equal(got, want) {
		t.Errorf("with the health tracker: states %v, want %v", got, want)
	}
	_, err := h.c.Versions(ctx, "nosuch")
	wantCode(t, err, api.CodeNotFound, "no service named nosuch")
}
