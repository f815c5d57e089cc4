package control_test

import (
	"slices"
	"testing"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/client"
	"github.com/mote-run/mote/internal/node/nodetest"
)

// TestTrafficAndScaleSurviveRestart: an acknowledged split, tag, rollback
// history and scale override are the node's state after a restart.
func TestTrafficAndScaleSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	env := nodetest.StartDir(t, dir)
	ctx := t.Context()
	wasm := nodetest.ReadFile(t, "../../examples/hello-c/hello.wasm")
	pkg := func(v string) client.Package {
		return client.Package{Manifest: []byte("name = \"hello\"\n[wasm]\nmodule = \"hello.wasm\"\n[env]\nV = \"" + v + "\"\n"), Module: wasm}
	}
	env.Deploy(t, pkg("1"))
	env.Deploy(t, pkg("2"))
	if _, err := env.Client.Deploy(ctx, pkg("3"), client.NoTraffic(), client.Tag("canary")); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Client.SetTraffic(ctx, "hello", []api.TrafficSplit{{Version: 2, Weight: 80}, {Version: 3, Weight: 20, Tag: "canary"}}); err != nil {
		t.Fatal(err)
	}
	lo, hi := 0, 4
	before, err := env.Client.SetScale(ctx, "hello", api.Scale{Min: &lo, Max: &hi})
	if err != nil {
		t.Fatal(err)
	}
	nodetest.Stop(t, env.Node)

	env = nodetest.StartDir(t, dir)
	d, err := env.Client.Service(ctx, "hello")
	if err != nil {
		t.Fatal(err)
	}
	after := d.Service
	if !slices.Equal(after.Traffic, before.Traffic) || !slices.Equal(after.Stable, []int{1, 2}) || after.Version != 2 ||
		after.Scale == nil || *after.Scale.Min != 0 || *after.Scale.Max != 4 {
		t.Fatalf("after the restart: traffic %+v stable %v version %d scale %+v; before: %+v %v", after.Traffic, after.Stable, after.Version, after.Scale, before.Traffic, before.Stable)
	}
	if s, _, b := env.Get(t, "/hello@canary"); s != 200 {
		t.Errorf("the tag route after the restart: %d %s", s, b)
	}
	svc, err := env.Client.Rollback(ctx, "hello")
	if err != nil || svc.Version != 2 {
		t.Fatalf("rollback after the restart: version %d, %v", svc.Version, err)
	}
	vs, err := env.Client.Versions(ctx, "hello")
	if err != nil {
		t.Fatal(err)
	}
	states := map[int]string{}
	for _, v := range vs {
		states[v.Number] = v.State
	}
	if states[2] != api.VersionServing || states[3] != api.VersionTagged || (states[1] != api.VersionStandby) {
		t.Errorf("states after the rollback: %v", states)
	}
}
