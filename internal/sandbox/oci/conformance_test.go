package oci

import (
	"sync"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/sandbox"
	"github.com/mote-run/mote/internal/sandbox/sandboxtest"
)

var conformOnce sync.Once

// TestConformance runs the sandbox conformance suite against containers:
// the same handler the Wasm driver's suite runs as a pooled guest, here a
// static Linux server in the test rootfs.
func TestConformance(t *testing.T) {
	rootfs := testRootfs(t)
	conformOnce.Do(func() { sandboxtest.BuildServer(t, rootfs) })
	d := newTestDriver(t)
	sandboxtest.Run(t, sandboxtest.Harness{
		Driver:     d,
		Concurrent: true,
		Spec: func(t *testing.T, name string) sandbox.Spec {
			return sandbox.Spec{
				Service: name, ABI: api.ABIContainer, MemoryLimit: 256 << 20,
				Container: &sandbox.Container{
					Rootfs:       rootfs,
					Args:         []string{"/conform-server"},
					Env:          []string{"PATH=/"},
					Grace:        2 * time.Second,
					StartTimeout: 20 * time.Second,
				},
			}
		},
		StartBudget: 20 * time.Second,
	})
}
