package sandboxtest

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/sandbox"
)

// hostOnly is set in the test process's environment, never in a Spec: a
// guest must not see it.
const hostOnly = "MOTE_CONFORM_HOST_ONLY"

func testEnv(t *testing.T, h Harness) {
	t.Setenv(hostOnly, "leaked from the host")
	r := h.load(t, "conform-env", func(s *sandbox.Spec) {
		setEnv(s, map[string]string{
			"CONFORM_GREETING": "hello, world = ✓",
			"CONFORM_EMPTY":    "",
		})
	})
	tests := []struct {
		name   string
		status int
		value  string
	}{
		{"CONFORM_GREETING", http.StatusOK, "hello, world = ✓"},
		{"CONFORM_EMPTY", http.StatusOK, ""},
		{hostOnly, http.StatusNotFound, "unset\n"},
		{"CONFORM_NEVER_SET", http.StatusNotFound, "unset\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := r.try(t, get("/env", "k="+url.QueryEscape(tc.name)))
			if err != nil {
				t.Fatalf("/env?k=%s: %v", tc.name, err)
			}
			if resp.Status != tc.status || string(resp.Body) != tc.value {
				what := "Spec.Env must reach the guest"
				if tc.status == http.StatusNotFound {
					what = "the guest must not see the host's environment"
				}
				t.Errorf("/env?k=%s: %d %s, want %d %q: %s", tc.name, resp.Status, short(resp.Body), tc.status, tc.value, what)
			}
		})
	}
}

func testLogs(t *testing.T, h Harness) {
	r := h.load(t, "conform-logs", nil)
	lines := []string{"conform log line one", "zwei: ünïcödé ✓", "three\twith a tab"}
	q := url.Values{"line": lines}
	req := get("/stderr", q.Encode())
	r.serve(t, req, http.StatusOK)
	var got []api.LogEntry
	waitFor(t, h.StartBudget, "the guest's stderr lines reach Spec.Logs", func() (bool, string) {
		got = got[:0]
		for _, e := range r.logs.all() {
			if e.Stream == api.StreamStderr {
				for _, l := range lines {
					if e.Message == l {
						got = append(got, e)
					}
				}
			}
		}
		return len(got) >= len(lines), fmt.Sprintf("%d of %d lines seen; all entries: %+v", len(got), len(lines), r.logs.all())
	})
	for i, e := range got[:len(lines)] {
		if e.Message != lines[i] {
			t.Errorf("stderr line %d is %q, want %q (lines out of order)", i, e.Message, lines[i])
		}
		if e.Service != r.spec.Service || e.Version != r.spec.Version {
			t.Errorf("stderr line %q came with service %q version %d, want %q version %d", e.Message, e.Service, e.Version, r.spec.Service, r.spec.Version)
		}
		if e.RequestID != "" && e.RequestID != req.ID {
			t.Errorf("stderr line %q came with request id %q; the request's is %q (or none, when the driver cannot tell)", e.Message, e.RequestID, req.ID)
		}
	}
}
