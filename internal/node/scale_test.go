package node_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/client"
	"github.com/mote-run/mote/examples"
	"github.com/mote-run/mote/internal/node/nodetest"
)

// TestScaleToZeroAndBack: a pooled service with min 0 loses its last
// instance after [scale] idle without traffic, and the next request starts
// one (a cold start, counted in /metrics) and is answered, not refused.
func TestScaleToZeroAndBack(t *testing.T) {
	t.Parallel()
	env := nodetest.Start(t)
	ex, err := examples.Get("hello-sdk")
	if err != nil {
		t.Fatal(err)
	}
	manifest := "name = \"napper\"\n[wasm]\nmodule = \"hello.wasm\"\nabi = \"pooled\"\n[scale]\nmin = 0\nidle = \"1s\"\n"
	env.Deploy(t, client.Package{Manifest: []byte(manifest), Module: ex.Module})
	if status, _, body := env.Get(t, "/napper/x"); status != 200 {
		t.Fatalf("first request: %d %s", status, body)
	}
	instances := func() int {
		is, err := env.Client.Instances(t.Context(), "napper")
		if err != nil {
			t.Fatal(err)
		}
		return len(is)
	}
	if n := instances(); n < 1 {
		t.Fatalf("%d instances right after a request, want at least 1", n)
	}
	nodetest.Eventually(t, 20*time.Second, "scale to zero after 1s idle", func() bool { return instances() == 0 })

	before := coldStarts(t, env)
	for i := range 3 {
		if status, _, body := env.Get(t, "/napper/x"); status != 200 {
			t.Fatalf("request %d after scaling to zero: %d %s", i, status, body)
		}
	}
	if n := instances(); n < 1 {
		t.Errorf("%d instances after requests, want at least 1", n)
	}
	if after := coldStarts(t, env); after <= before {
		t.Errorf("mote_cold_start_seconds_count{abi=\"pooled\"} went from %v to %v, want an increase", before, after)
	}
}

var coldStartCount = regexp.MustCompile(`(?m)^mote_cold_start_seconds_count\{abi="pooled"\} (\S+)$`)

// coldStarts reads the pooled cold-start count from /metrics (0 before the
// first one).
func coldStarts(t *testing.T, env *nodetest.Env) float64 {
	t.Helper()
	_, _, body := env.Admin(t, "GET", "/metrics", "Bearer "+env.Node.Token(), nil)
	m := coldStartCount.FindStringSubmatch(body)
	if m == nil {
		if strings.Contains(body, "mote_cold_start_seconds") {
			return 0
		}
		return 0
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// TestCanaryRollsBackOnErrors: a split guarded by --rollback-on goes back
// to the stable version by itself when the canary fails too often, and
// says so in the service's logs; a version that mostly fails is unhealthy.
func TestCanaryRollsBackOnErrors(t *testing.T) {
	t.Parallel()
	env := nodetest.Start(t)
	ctx := t.Context()
	hello, err := examples.Get("hello-c")
	if err != nil {
		t.Fatal(err)
	}
	// v1 always answers 200; v2 (echo) answers ?status=500 with a 500.
	env.Deploy(t, client.Package{Manifest: []byte("name = \"canary\"\n[wasm]\nmodule = \"hello.wasm\"\n"), Module: hello.Module})
	env.Deploy(t, echoPackage(t, "name = \"canary\"\n[wasm]\nmodule = \"echo.wasm\"\n", nil))
	if _, err := env.Client.Rollback(ctx, "canary"); err != nil {
		t.Fatal(err)
	}
	svc, err := env.Client.SetTrafficGuarded(ctx, "canary", []api.TrafficSplit{{Version: 1, Weight: 50}, {Version: 2, Weight: 50}},
		&api.CanaryGuard{MaxErrorRate: 0.05, MinRequests: 10})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Guard == nil || svc.Guard.MaxErrorRate != 0.05 {
		t.Fatalf("guard = %+v", svc.Guard)
	}
	failures := 0
	for range 60 {
		if status, _, _ := env.Get(t, "/canary?status=500"); status == 500 {
			failures++
		}
	}
	if failures < 10 {
		t.Fatalf("only %d of 60 requests reached the failing canary", failures)
	}
	nodetest.Eventually(t, 15*time.Second, "the guard to roll back to version 1", func() bool {
		svc, err := env.Client.Service(ctx, "canary")
		return err == nil && len(svc.Traffic) == 1 && svc.Traffic[0].Version == 1 && svc.Traffic[0].Weight == 100 && svc.Guard == nil
	})
	nodetest.Eventually(t, 5*time.Second, "a log line about the rollback", func() bool {
		for e, err := range env.Client.Logs(ctx, "canary", client.LogOptions{}) {
			if err == nil && strings.Contains(e.Message, "over the canary limit of 5.0%: rolled back to version 1") {
				return true
			}
		}
		return false
	})
	for i := range 20 {
		if status, _, body := env.Get(t, "/canary?status=500"); status != 200 {
			t.Fatalf("request %d after the rollback: %d %s", i, status, body)
		}
	}

	// A version that answers mostly 5xx shows as unhealthy.
	env.Deploy(t, echoPackage(t, "name = \"sick\"\n[wasm]\nmodule = \"echo.wasm\"\n", nil))
	for range 25 {
		env.Get(t, "/sick?status=503")
	}
	vs, err := env.Client.Versions(ctx, "sick")
	if err != nil || len(vs) != 1 || vs[0].State != api.VersionUnhealthy {
		t.Errorf("versions of a failing service: %+v, %v; want unhealthy", vs, err)
	}
}
