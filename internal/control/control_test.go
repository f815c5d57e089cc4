package control

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/gateway"
	"github.com/mote-run/mote/internal/sandbox"
	"github.com/mote-run/mote/internal/sandbox/wasm"
	"github.com/mote-run/mote/internal/store"
)

// harness is a controller on a real store and driver, without listeners.
type harness struct {
	c  *Controller
	st *store.Store
	gw *gateway.Gateway
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	return newHarnessWith(t, func(d sandbox.Driver) sandbox.Driver { return d }, nil)
}

// newHarnessWith builds a harness whose driver is wrap(the wasm driver);
// before, when set, runs on the store before the controller starts.
func newHarnessWith(t testing.TB, wrap func(sandbox.Driver) sandbox.Driver, before func(*store.Store)) *harness {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(t.Context(), store.Options{Dir: filepath.Join(dir, "store"), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if before != nil {
		before(st)
	}
	wd, err := wasm.New(wasm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := wrap(wd)
	gw := gateway.New(gateway.Options{})
	c := New(Options{Store: st, Driver: d, Gateway: gw, FilesDir: filepath.Join(dir, "files")})
	if err := os.MkdirAll(filepath.Join(dir, "files"), 0o700); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = c.Close(context.Background())
		_ = d.Close(context.Background())
		_ = st.Close()
	})
	deadline := time.Now().Add(10 * time.Second)
	for !c.Synced() {
		if time.Now().After(deadline) {
			t.Fatal("controller never synced")
		}
		time.Sleep(time.Millisecond)
	}
	return &harness{c: c, st: st, gw: gw}
}

func (h *harness) upload(t testing.TB, b []byte) string {
	t.Helper()
	digest := "sha256:" + sha256hex(b)
	if _, err := h.st.PutBlob(t.Context(), digest, bytesReader(b)); err != nil {
		t.Fatal(err)
	}
	return digest
}

var helloWasm = func() []byte {
	b, err := os.ReadFile("../../examples/hello-c/hello.wasm")
	if err != nil {
		panic(err)
	}
	return b
}()

const helloManifest = "name = \"hello\"\n[wasm]\nmodule = \"hello.wasm\"\n"

func TestDeployNumbersPastAnOrphanVersion(t *testing.T) {
	h := newHarness(t)
	mod := h.upload(t, helloWasm)
	if _, err := h.c.Deploy(t.Context(), api.DeployRequest{Manifest: helloManifest, Module: mod}); err != nil {
		t.Fatal(err)
	}
	// A deploy that stored version 2 and died before making it current.
	if err := h.st.PutVersion(t.Context(), api.Version{Service: "hello", Number: 2, Digest: "sha256:" + sha256hex([]byte("x")), Module: mod, Manifest: helloManifest, ABI: "wagi"}); err != nil {
		t.Fatal(err)
	}
	res, err := h.c.Deploy(t.Context(), api.DeployRequest{Manifest: helloManifest + "[env]\nX = \"1\"\n", Module: mod})
	if err != nil {
		t.Fatal(err)
	}
	if res.Version.Number != 3 || res.Service.Version != 3 {
		t.Fatalf("deployed version %d (service at %d), want 3", res.Version.Number, res.Service.Version)
	}
}

func TestRefusedModuleStoresNothing(t *testing.T) {
	h := newHarness(t)
	bad := h.upload(t, []byte("not wasm at all"))
	_, err := h.c.Deploy(t.Context(), api.DeployRequest{Manifest: helloManifest, Module: bad})
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != api.CodeInvalidModule {
		t.Fatalf("err = %v, want invalid_module", err)
	}
	if _, _, err := h.st.Service(t.Context(), "hello"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("service stored after a refused deploy: %v", err)
	}
	if vs, _ := h.st.Versions(t.Context(), "hello"); len(vs) != 0 {
		t.Errorf("versions stored after a refused deploy: %v", vs)
	}
	if h.gw.Table().Len() != 0 {
		t.Error("a route appeared for a refused deploy")
	}
}

func TestRouteConflict(t *testing.T) {
	h := newHarness(t)
	mod := h.upload(t, helloWasm)
	if _, err := h.c.Deploy(t.Context(), api.DeployRequest{Manifest: helloManifest, Module: mod}); err != nil {
		t.Fatal(err)
	}
	_, err := h.c.Deploy(t.Context(), api.DeployRequest{Manifest: "name = \"other\"\nroute = \"/hello\"\n[wasm]\nmodule = \"x.wasm\"\n", Module: mod})
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != api.CodeConflict || ae.Hint == "" {
		t.Fatalf("err = %#v, want conflict with a hint", err)
	}
}

func TestArtifactDigestIgnoresMapOrder(t *testing.T) {
	a := ArtifactDigest("sha256:m", map[string]string{"a": "1", "b": "2", "c": "3"})
	b := ArtifactDigest("sha256:m", map[string]string{"c": "3", "b": "2", "a": "1"})
	if a != b {
		t.Fatal("digest depends on map order")
	}
	if a == ArtifactDigest("sha256:m", map[string]string{"a": "1", "b": "2"}) {
		t.Fatal("digest ignores a file")
	}
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
