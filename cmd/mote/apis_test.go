package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/client"
	"github.com/mote-run/mote/internal/node/nodetest"
)

const catalogSpec = `{"openapi": "3.1.0", "info": {"title": "Greeter", "version": "2.0.0"},
  "paths": {"/hello": {"get": {}}}}`

// TestStatsDocsLifecycle drives `mote stats`, `mote docs` and `mote
// lifecycle` against a live node.
func TestStatsDocsLifecycle(t *testing.T) {
	t.Parallel()
	n := newTestNode(t)
	n.Deploy(t, client.Package{
		Manifest: []byte("name = \"greet\"\n[wasm]\nmodule = \"guest.wasm\"\n[openapi]\nspec = \"openapi.json\"\n"),
		Module:   nodetest.ReadFile(t, guestWasmPath),
		Files:    map[string][]byte{"openapi.json": []byte(catalogSpec)},
	})
	for range 3 {
		if status, _, body := n.Get(t, "/greet/hello"); status >= 500 {
			t.Fatalf("request: %d %s", status, body)
		}
	}

	r := n.must(t, "stats", "greet", "--by", "route")
	if !strings.Contains(r.stdout, "ROUTE") || !strings.Contains(r.stdout, "/hello") {
		t.Errorf("stats --by route:\n%s", r.stdout)
	}
	r = n.must(t, "stats", "greet", "-o", "json")
	var st api.Stats
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || len(st.Groups) != 1 || st.Groups[0].Requests != 3 {
		t.Errorf("stats -o json: %v %+v", err, st)
	}
	n.fails(t, []string{"stats", "greet", "--by", "colour"}, "colour")
	n.fails(t, []string{"stats", "greet", "--since", "48h"}, "24h")

	r = n.must(t, "docs")
	if !strings.Contains(r.stdout, "greet") || !strings.Contains(r.stdout, "Greeter") || !strings.Contains(r.stdout, "2.0.0") {
		t.Errorf("docs:\n%s", r.stdout)
	}
	r = n.must(t, "docs", "greet")
	var doc map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || !strings.Contains(r.stdout, n.Gateway+"/greet") {
		t.Errorf("docs greet: %v\n%s", err, r.stdout)
	}

	r = n.must(t, "lifecycle", "greet", "deprecated", "--sunset", "2027-06-30", "--link", "https://example.com/v2")
	if !strings.Contains(r.stdout, "greet is deprecated") {
		t.Errorf("lifecycle: %s", r.stdout)
	}
	_, h, _ := n.Get(t, "/greet/hello")
	if h.Get("Sunset") != "Wed, 30 Jun 2027 00:00:00 GMT" || h.Get("Deprecation") == "" {
		t.Errorf("after deprecation: Sunset %q Deprecation %q", h.Get("Sunset"), h.Get("Deprecation"))
	}
	n.must(t, "lifecycle", "greet", "retired")
	if status, _, _ := n.Get(t, "/greet/hello"); status != 410 {
		t.Errorf("retired: %d, want 410", status)
	}
	n.must(t, "lifecycle", "greet", "--reset")
	if status, _, _ := n.Get(t, "/greet/hello"); status == 410 {
		t.Error("still retired after --reset")
	}
	n.fails(t, []string{"lifecycle", "greet", "obsolete"}, "draft, published, deprecated, retired")
	n.fails(t, []string{"lifecycle", "greet", "deprecated", "--sunset", "soon"}, "--sunset")
	n.fails(t, []string{"lifecycle", "greet"}, "--reset")
	n.fails(t, []string{"docs", "nope"}, "nope")
}
