package wasm

import (
	"context"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/sandbox"
	"github.com/mote-run/mote/internal/sandbox/sandboxtest"
)

// conformWasm is the conformance guest as a pooled Go SDK guest; its source
// and rebuild command are in internal/sandbox/sandboxtest/conform/wasm.
var conformWasm = mustRead("../sandboxtest/conform/wasm/conform.wasm")

// TestConformance runs the sandbox conformance suite against the pooled
// ABI.
func TestConformance(t *testing.T) {
	if raceEnabled {
		t.Skip("compiling the 5.7 MB Go guest takes minutes under the race detector; the suite runs in the plain test pass (and the OCI driver's runs it under -race)")
	}
	d := newDriver(t)
	spec := func(t *testing.T, name string) sandbox.Spec {
		return sandbox.Spec{
			Service: name, ABI: api.ABIPooled, Digest: "sha256:conform",
			Module: conformWasm, MemoryLimit: 64 << 20,
		}
	}
	// A runner holding the compiled module for the whole run, so each
	// sub-test's Load finds it compiled instead of compiling it again.
	keep, err := d.Load(t.Context(), spec(t, "conform-keep"))
	if err != nil {
		t.Fatalf("load the conformance guest: %v", err)
	}
	t.Cleanup(func() { _ = keep.Close(context.Background()) })
	sandboxtest.Run(t, sandboxtest.Harness{
		Driver:      d,
		Spec:        spec,
		StartBudget: 5 * time.Second,
		// Timeout bounds _initialize too: room for a Go runtime's start
		// on a busy machine.
		Timeout: 500 * time.Millisecond,
	})
}
