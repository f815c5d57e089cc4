package main

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/node/nodetest"
)

// decode parses a command's JSON output into v, failing the test if it is
// not exactly one JSON value of that shape.
func decode(t *testing.T, out string, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("output is not the JSON expected: %v\n%s", err, out)
	}
	if dec.More() {
		t.Fatalf("output has more than one JSON value:\n%s", out)
	}
}

// row returns the line of a table whose first column is first, or "".
func row(table, first string) string {
	for _, line := range strings.Split(table, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == first {
			return line
		}
	}
	return ""
}

func TestListings(t *testing.T) {
	t.Parallel()
	n := newTestNode(t)
	dir := serviceDir(t, "name = \"guest\"\n\n[wasm]\nmodule = \"guest.wasm\"\n", map[string][]byte{"guest.wasm": nodetest.ReadFile(t, guestWasmPath)})
	n.must(t, "deploy", dir)

	t.Run("ls", func(t *testing.T) {
		r := n.must(t, "ls")
		if !strings.HasPrefix(r.stdout, "NAME ") {
			t.Errorf("no header:\n%s", r.stdout)
		}
		got := strings.Fields(row(r.stdout, "guest"))
		if len(got) < 6 || got[1] != "/guest" || got[2] != "1" || got[3] != "wagi" || got[len(got)-1] != n.Gateway+"/guest" {
			t.Errorf("row for guest: %q\n%s", got, r.stdout)
		}
		if r2 := n.must(t, "list"); r2.stdout != r.stdout {
			t.Errorf("list differs from ls:\n%s", r2.stdout)
		}
	})
	t.Run("ls -o json", func(t *testing.T) {
		var svcs []api.Service
		decode(t, n.must(t, "ls", "-o", "json").stdout, &svcs)
		if len(svcs) != 1 {
			t.Fatalf("want 1 service, got %+v", svcs)
		}
		s := svcs[0]
		if s.Name != "guest" || s.Route != "/guest" || s.Version != 1 || s.URL != n.Gateway+"/guest" || !strings.HasPrefix(s.Digest, "sha256:") {
			t.Errorf("service: %+v", s)
		}
	})
	t.Run("inspect", func(t *testing.T) {
		var d api.ServiceDetail
		decode(t, n.must(t, "inspect", "guest").stdout, &d)
		if d.Name != "guest" || len(d.Versions) != 1 || d.Versions[0].Number != 1 || d.Versions[0].Digest != d.Digest {
			t.Errorf("detail: %+v", d)
		}
		n.fails(t, []string{"inspect", "nosuch"}, "Error: no service named nosuch", "Try: ")
	})
	t.Run("versions", func(t *testing.T) {
		// A second version takes all the traffic.
		n.deployGuest(t, "guest", "\n[env]\nV = \"2\"\n")
		r := n.must(t, "versions", "guest")
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "VERSION ") {
			t.Fatalf("want a header and 2 versions:\n%s", r.stdout)
		}
		if f := strings.Fields(lines[1]); f[0] != "2" || f[1] != "100%" {
			t.Errorf("newest first with 100%%: %q", lines[1])
		}
		if f := strings.Fields(lines[2]); f[0] != "1" || f[1] != "0%" {
			t.Errorf("old version with 0%%: %q", lines[2])
		}
		var vs []api.VersionStatus
		decode(t, n.must(t, "versions", "guest", "-o", "json").stdout, &vs)
		if len(vs) != 2 || vs[0].Number != 2 || vs[1].Number != 1 || vs[0].State != api.VersionServing || vs[0].Weight != 100 {
			t.Errorf("versions JSON: %+v", vs)
		}
		n.fails(t, []string{"versions", "nosuch"}, "Error: no service named nosuch")
	})
	t.Run("ps", func(t *testing.T) {
		r := n.must(t, "ps")
		if !strings.HasPrefix(r.stdout, "ID ") || !strings.Contains(r.stdout, "SERVICE") {
			t.Errorf("no header:\n%s", r.stdout)
		}
		var insts []api.Instance
		decode(t, n.must(t, "ps", "guest", "-o", "json").stdout, &insts)
		if len(insts) != 0 {
			t.Errorf("instances with no request in flight: %+v", insts)
		}
	})
	t.Run("ps while a request runs", func(t *testing.T) {
		n.deployGuest(t, "slow", "\n[limits]\ntimeout = \"2s\"\n")
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, n.Gateway+"/slow/sleep", nil)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
		defer func() { cancel(); <-done }()
		var insts []api.Instance
		nodetest.Eventually(t, 5*time.Second, "an instance of slow in mote ps", func() bool {
			insts = nil
			decode(t, n.must(t, "ps", "slow", "-o", "json").stdout, &insts)
			return len(insts) > 0
		})
		if in := insts[0]; in.Service != "slow" || in.Version != 1 || in.ID == "" {
			t.Errorf("instance: %+v", in)
		}
		r := n.must(t, "ps")
		if f := strings.Fields(row(r.stdout, insts[0].ID)); len(f) < 2 || f[1] != "slow" {
			t.Errorf("ps does not list the instance %s:\n%s", insts[0].ID, r.stdout)
		}
		if r := n.must(t, "ps", "guest"); strings.Contains(r.stdout, "slow") {
			t.Errorf("ps guest lists slow:\n%s", r.stdout)
		}
	})
	t.Run("rm", func(t *testing.T) {
		r := n.must(t, "rm", "guest")
		if r.stdout != "Removed guest\n" {
			t.Errorf("stdout: %q", r.stdout)
		}
		if r := n.must(t, "ls"); row(r.stdout, "guest") != "" {
			t.Errorf("ls still lists guest:\n%s", r.stdout)
		}
		var svcs []api.Service
		decode(t, n.must(t, "ls", "-o", "json").stdout, &svcs)
		for _, s := range svcs {
			if s.Name == "guest" {
				t.Errorf("ls -o json still lists guest: %+v", svcs)
			}
		}
		if status, _, _ := n.Get(t, "/guest/status/200"); status != http.StatusNotFound {
			t.Errorf("GET /guest after rm: %d, want 404", status)
		}
	})
	t.Run("rm missing", func(t *testing.T) {
		r := n.fails(t, []string{"rm", "missing"}, "Error: no service named missing\n", "\nTry: ")
		if r.stdout != "" {
			t.Errorf("stdout: %q", r.stdout)
		}
	})
	t.Run("ls -o json with no services is an empty list", func(t *testing.T) {
		n.must(t, "rm", "slow")
		r := n.must(t, "ls", "-o", "json")
		if !regexp.MustCompile(`^\[\s*\]\n$`).MatchString(r.stdout) {
			t.Errorf("want [], got %q", r.stdout)
		}
	})
}
