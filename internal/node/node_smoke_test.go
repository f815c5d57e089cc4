package node_test

import (
	"strings"
	"testing"

	"github.com/mote-run/mote/client"
	"github.com/mote-run/mote/internal/node/nodetest"
)

func TestSmokeDeployAndServe(t *testing.T) {
	env := nodetest.Start(t)
	module := nodetest.ReadFile(t, "../../examples/hello-c/hello.wasm")
	manifest := []byte("name = \"hello\"\n[wasm]\nmodule = \"hello.wasm\"\n")
	res, err := env.Client.Deploy(t.Context(), client.Package{Manifest: manifest, Module: module})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res)
	status, h, body := env.Get(t, "/hello/world")
	t.Logf("%d %v %q", status, h, body)
	if status != 200 || !strings.Contains(body, "Hello") {
		t.Fatalf("got %d %q", status, body)
	}
}
