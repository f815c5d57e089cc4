package node_test

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/client"
	"github.com/mote-run/mote/internal/node/nodetest"
	"github.com/mote-run/mote/internal/ociimage"
	"github.com/mote-run/mote/internal/ociimage/registrytest"
	"github.com/mote-run/mote/internal/sandbox/oci"
)

var (
	helloImageOnce sync.Once
	helloImageDir  string
	helloImageErr  error
)

// helloContainerImage builds examples/hello-container's image once per
// test process, the way its [build] does, and returns the layout's dir.
func helloContainerImage(t *testing.T) string {
	t.Helper()
	if err := oci.Check(); err != nil {
		t.Skipf("containers cannot run here: %v", err)
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to build the example's image")
	}
	helloImageOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mote-hello-image-")
		if err != nil {
			helloImageErr = err
			return
		}
		helloImageDir = filepath.Join(dir, "image")
		cmd := exec.Command("go", "run", "./examples/hello-container/build", "-o", helloImageDir)
		cmd.Dir = filepath.Join("..", "..")
		out, err := cmd.CombinedOutput()
		if err != nil {
			helloImageErr = &buildError{err: err, out: string(out)}
		}
	})
	if helloImageErr != nil {
		t.Fatalf("build the hello-container image: %v", helloImageErr)
	}
	return helloImageDir
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// containerPkg is hello-container's package with manifest m and the image
// read from dir.
func containerPkg(t *testing.T, m, dir string) client.Package {
	t.Helper()
	img, err := client.ResolveImage(t.Context(), dir, client.ImageOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return client.Package{Manifest: []byte(m), Image: img}
}

// searchableNode starts a node on a data dir every user can pass through,
// so its containers run in a user namespace.
func searchableNode(t *testing.T) *nodetest.Env {
	t.Helper()
	dir, err := os.MkdirTemp("", "mote-containers-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return nodetest.StartDir(t, dir)
}

// TestContainerEndToEnd deploys examples/hello-container and uses it the
// way a user would: requests through the gateway, ps, logs, versions, a
// second version, scale to zero and back, removal.
func TestContainerEndToEnd(t *testing.T) {
	image := helloContainerImage(t)
	e := searchableNode(t)
	ctx := t.Context()
	const m = "name = \"hello-container\"\n[container]\nimage = \"./image\"\n[scale]\nidle = \"1s\"\n[env]\nGREETING = \"one\"\n"

	res, err := e.Client.Deploy(ctx, containerPkg(t, m, image))
	if err != nil {
		t.Fatal(err)
	}
	if res.Version.ABI != api.ABIContainer || res.Version.Number != 1 {
		t.Fatalf("deployed %+v, want version 1 with ABI %q", res.Version, api.ABIContainer)
	}
	status, h, body := e.Get(t, "/hello-container/world?x=1")
	if status != 200 || !strings.Contains(body, "hello from a container") || !strings.Contains(body, "/hello-container/world") {
		t.Fatalf("GET = %d %q", status, body)
	}
	if h.Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id on the container's response")
	}

	insts, err := e.Client.Instances(ctx, "hello-container")
	if err != nil || len(insts) != 1 || insts[0].Version != 1 {
		t.Fatalf("instances = %+v, %v; want one of version 1", insts, err)
	}
	// The server's own stderr line reaches the service's logs.
	waitLogs(t, e.Client, "hello-container", "the container's stderr", func(l api.LogEntry) bool {
		return l.Stream == api.StreamStderr && strings.Contains(l.Message, "listening on")
	}, func(ls []api.LogEntry) bool { return len(ls) > 0 })

	// Idle for [scale] idle: scaled to zero, and a request starts it again.
	nodetest.Eventually(t, 90*time.Second, "hello-container scaled to zero", func() bool {
		insts, err := e.Client.Instances(ctx, "hello-container")
		return err == nil && len(insts) == 0
	})
	if status, _, body := e.Get(t, "/hello-container/again"); status != 200 || !strings.Contains(body, "/hello-container/again") {
		t.Fatalf("GET after scale to zero = %d %q", status, body)
	}

	// A second version takes the traffic; the first one drains.
	res, err = e.Client.Deploy(ctx, containerPkg(t, strings.Replace(m, "one", "two", 1), image))
	if err != nil || res.Version.Number != 2 {
		t.Fatalf("second deploy = %+v, %v", res.Version, err)
	}
	if status, _, _ := e.Get(t, "/hello-container/v2"); status != 200 {
		t.Fatalf("GET version 2 = %d", status)
	}
	nodetest.Eventually(t, 30*time.Second, "only version 2's instances", func() bool {
		insts, err := e.Client.Instances(ctx, "hello-container")
		if err != nil || len(insts) == 0 {
			return false
		}
		for _, in := range insts {
			if in.Version != 2 {
				return false
			}
		}
		return true
	})

	// API management applies as to Wasm: with [auth] require_key, no key
	// is a 401 from the gateway and the container never sees the request.
	res, err = e.Client.Deploy(ctx, containerPkg(t, m+"[auth]\nrequire_key = true\n", image))
	if err != nil || res.Version.Number != 3 {
		t.Fatalf("keyed deploy = %+v, %v", res.Version, err)
	}
	if status, _, body := e.Get(t, "/hello-container/keyed"); status != 401 {
		t.Errorf("GET without a key = %d %q, want 401", status, body)
	}

	if err := e.Client.DeleteService(ctx, "hello-container"); err != nil {
		t.Fatal(err)
	}
	if status, _, _ := e.Get(t, "/hello-container/gone"); status != 404 {
		t.Errorf("GET after remove = %d, want 404", status)
	}
}

// TestContainerDeployRefusals: an image for another platform, and a
// deploy whose layers were never uploaded, are refused before anything is
// stored, with messages that say what to do.
func TestContainerDeployRefusals(t *testing.T) {
	if err := oci.Check(); err != nil {
		t.Skipf("containers cannot run here: %v", err)
	}
	e := nodetest.Start(t)
	ctx := t.Context()
	other := "arm64"
	if runtime.GOARCH == "arm64" {
		other = "amd64"
	}
	b, err := ociimage.Build([]ociimage.File{{Path: "hello", Mode: 0o755, Data: []byte("not a program")}},
		ociimage.ContainerConfig{Entrypoint: []string{"/hello"}}, ociimage.Platform{OS: "linux", Architecture: other})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "image")
	if err := b.WriteLayout(dir); err != nil {
		t.Fatal(err)
	}
	m := "name = \"foreign\"\n[container]\nimage = \"./image\"\n"
	img, err := client.ResolveImage(ctx, dir, client.ImageOptions{Platform: "linux/" + other})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Client.Deploy(ctx, client.Package{Manifest: []byte(m), Image: img})
	ae := wantAPIError(t, err, 400, api.CodeInvalidModule)
	if !strings.Contains(ae.Message, "linux/"+other) || !strings.Contains(ae.Message, "linux/"+runtime.GOARCH) {
		t.Errorf("platform refusal %q does not name both platforms", ae.Message)
	}

	// Only the manifest is uploaded: the deploy names the missing config.
	b, err = ociimage.Build([]ociimage.File{{Path: "hello", Mode: 0o755, Data: []byte("another")}},
		ociimage.ContainerConfig{Entrypoint: []string{"/hello"}}, ociimage.DefaultPlatform())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client.PutBlob(ctx, b.Digest, strings.NewReader(string(b.Manifest)), int64(len(b.Manifest))); err != nil {
		t.Fatal(err)
	}
	_, err = e.Client.DeployRequest(ctx, api.DeployRequest{Manifest: m, Module: b.Digest})
	ae = wantAPIError(t, err, 404, api.CodeNotFound)
	if !strings.Contains(ae.Message, "config") {
		t.Errorf("missing config refusal %q does not say what is missing", ae.Message)
	}
	if svcs, err := e.Client.Services(ctx); err != nil || len(svcs) != 0 {
		t.Errorf("services after refused deploys = %v, %v; want none", svcs, err)
	}
}

// TestContainerFromRegistry deploys an image pulled from a registry that
// asks for a bearer token.
func TestContainerFromRegistry(t *testing.T) {
	image := helloContainerImage(t)
	src, err := ociimage.Resolve(t.Context(), image, ociimage.ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	reg := registrytest.New(t, registrytest.WithBearerAuth("ci", "secret"))
	for _, d := range src.Blobs() {
		r, err := src.Open(t.Context(), d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		reg.PutBlob("team/hello", b)
	}
	reg.PutManifest("team/hello", "1.0", src.Parsed.MediaType, src.Manifest)

	e := nodetest.Start(t)
	img, err := client.ResolveImage(t.Context(), reg.Host()+"/team/hello:1.0", client.ImageOptions{Username: "ci", Password: "secret"})
	if err != nil {
		t.Fatal(err)
	}
	m := "name = \"pulled\"\n[container]\nimage = \"" + reg.Host() + "/team/hello:1.0\"\n"
	if _, err := e.Client.Deploy(t.Context(), client.Package{Manifest: []byte(m), Image: img}); err != nil {
		t.Fatal(err)
	}
	if status, _, body := e.Get(t, "/pulled/x"); status != 200 || !strings.Contains(body, "hello from a container") {
		t.Fatalf("GET = %d %q", status, body)
	}
}
