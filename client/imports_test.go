package client

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportsStdlibOnly checks that the SDK, with everything it imports,
// is the standard library plus package api and the image reader (itself
// standard library only): users of the SDK pull in nothing else.
func TestImportsStdlibOnly(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to list the imports with")
	}
	cmd := exec.CommandContext(t.Context(), goTool, "list", "-deps",
		"-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	allowed := map[string]bool{
		"github.com/mote-run/mote/client": true,
		"github.com/mote-run/mote/api":    true,
		// Reads container images for Deploy; its own imports are listed
		// here too, so anything it adds fails this test.
		"github.com/mote-run/mote/internal/ociimage": true,
	}
	seen := 0
	for _, p := range strings.Fields(string(out)) {
		seen++
		if !allowed[p] {
			t.Errorf("package client depends on %s; only the standard library, package api and internal/ociimage are allowed", p)
		}
	}
	if seen != len(allowed) {
		t.Errorf("go list found %d non-standard packages (%s), want exactly %d", seen, out, len(allowed))
	}
}
