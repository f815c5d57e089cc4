package node_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/client"
	"github.com/mote-run/mote/examples"
	"github.com/mote-run/mote/internal/node/nodetest"
)

// TestCapabilityDeniedWithoutGrant deploys counter-go's module with a
// manifest that grants nothing: its key-value calls are refused with a
// message naming the grant, and the service's logs say so.
func TestCapabilityDeniedWithoutGrant(t *testing.T) {
	t.Parallel()
	env := nodetest.Start(t)
	ex, err := examples.Get("counter-go")
	if err != nil {
		t.Fatal(err)
	}
	manifest := "name = \"nokv\"\n[wasm]\nmodule = \"counter.wasm\"\nabi = \"pooled\"\n"
	env.Deploy(t, client.Package{Manifest: []byte(manifest), Module: ex.Module})
	status, h, body := env.Get(t, "/nokv")
	if status != 500 || !strings.Contains(body, "[allow]") || !strings.Contains(body, "kv") {
		t.Fatalf("got %d %q, want a 500 naming the [allow] kv grant", status, body)
	}
	id := h.Get("X-Request-Id")
	nodetest.Eventually(t, 5*time.Second, "a log line about the denial", func() bool {
		for e, err := range env.Client.Logs(t.Context(), "nokv", client.LogOptions{}) {
			if err != nil {
				return false
			}
			if e.RequestID == id && e.Level == "warn" && strings.Contains(e.Message, "kv") {
				return true
			}
		}
		return false
	})
}

// TestDeployRefusesOtherABIVersions: a module built for mote ABI v2 is
// refused at deploy, naming the version and its imports; nothing is stored.
func TestDeployRefusesOtherABIVersions(t *testing.T) {
	t.Parallel()
	env := nodetest.Start(t)
	manifest := "name = \"future\"\n[wasm]\nmodule = \"m.wasm\"\n"
	_, err := env.Client.Deploy(t.Context(), client.Package{Manifest: []byte(manifest), Module: nodetest.ReadFile(t, "../sandbox/wasm/testdata/motev2.wasm")})
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != api.CodeInvalidModule || !strings.Contains(ae.Message, "mote ABI v2") || !strings.Contains(ae.Message, "speaks v1") {
		t.Fatalf("err = %v, want invalid_module naming ABI v2", err)
	}
	if _, err := env.Client.Service(t.Context(), "future"); err == nil {
		t.Error("a refused deploy left a service behind")
	}
}
