package client

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
)

// blobRequests returns "METHOD digest" of the blob requests in reqs, sorted.
func blobRequests(reqs []seenRequest) []string {
	var out []string
	for _, r := range reqs {
		if d, ok := strings.CutPrefix(r.Path, "/v1/blobs/"); ok {
			out = append(out, r.Method+" "+d)
		}
	}
	slices.Sort(out)
	return out
}

func TestDeployUploadsOnlyMissingBlobs(t *testing.T) {
	f := newFakeNode(t)
	c := f.client(t)
	ctx := t.Context()
	manifest := []byte("name = \"hello\"\nroute = \"/hello\"\n")
	module := []byte("\x00asm module v1")
	pkg := Package{Manifest: manifest, Module: module, Files: map[string][]byte{
		"static/index.html": []byte("<h1>hi</h1>"),
		"static/copy.html":  []byte("<h1>hi</h1>"), // same content: one blob
		"data/empty":        {},
	}}
	dIndex, dEmpty, dModule := Digest([]byte("<h1>hi</h1>")), Digest(nil), Digest(module)

	var events []BlobEvent
	res, err := c.Deploy(ctx, pkg, OnBlob(func(e BlobEvent) { events = append(events, e) }))
	if err != nil {
		t.Fatal(err)
	}
	if res.Unchanged || res.Version.Number != 1 || res.Service.Name != "hello" || res.Version.Module != dModule {
		t.Errorf("first deploy: %+v", res)
	}
	if res.Version.Files["static/copy.html"] != dIndex || res.Version.Files["data/empty"] != dEmpty {
		t.Errorf("files %v", res.Version.Files)
	}
	reqs := f.requests()
	want := []string{"HEAD " + dEmpty, "HEAD " + dIndex, "HEAD " + dModule, "PUT " + dEmpty, "PUT " + dIndex, "PUT " + dModule}
	slices.Sort(want)
	if got := blobRequests(reqs); !slices.Equal(got, want) {
		t.Errorf("blob requests:\n got %q\nwant %q", got, want)
	}
	if last := reqs[len(reqs)-1]; last.Method != "POST" || last.Path != "/v1/deploy" {
		t.Errorf("last request %s %s, want the deploy", last.Method, last.Path)
	}
	if len(events) != 3 {
		t.Errorf("%d blob events, want 3: %+v", len(events), events)
	}
	for _, e := range events {
		if !e.Uploaded {
			t.Errorf("event %+v: want Uploaded", e)
		}
	}

	// The same package again: every blob is there, nothing changes.
	events = nil
	res, err = c.Deploy(ctx, pkg, OnBlob(func(e BlobEvent) { events = append(events, e) }))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Unchanged || res.Version.Number != 1 {
		t.Errorf("identical deploy: %+v", res)
	}
	for _, r := range f.requests() {
		if r.Method == "PUT" {
			t.Errorf("identical deploy uploaded %s", r.Path)
		}
	}
	if len(events) != 3 || events[0].Uploaded {
		t.Errorf("events of the identical deploy: %+v", events)
	}

	// One changed file: only it is uploaded.
	pkg.Files["static/index.html"] = []byte("<h1>hello</h1>")
	res, err = c.Deploy(ctx, pkg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Unchanged || res.Version.Number != 2 {
		t.Errorf("changed deploy: %+v", res)
	}
	var puts []string
	for _, r := range blobRequests(f.requests()) {
		if strings.HasPrefix(r, "PUT ") {
			puts = append(puts, r)
		}
	}
	if want := []string{"PUT " + Digest([]byte("<h1>hello</h1>"))}; !slices.Equal(puts, want) {
		t.Errorf("uploads %q, want %q", puts, want)
	}
}

func TestDeployErrors(t *testing.T) {
	f := newFakeNode(t)
	c := f.client(t)
	ctx := t.Context()

	invalid := []Package{
		{Module: []byte("m")},
		{Manifest: []byte(`name = "a"`)},
		{Manifest: []byte(`name = "a"`), Module: []byte("m"), Files: map[string][]byte{"": []byte("x")}},
	}
	for _, p := range invalid {
		if _, err := c.Deploy(ctx, p); !errors.Is(err, ErrInvalidPackage) {
			t.Errorf("Deploy(%+v): %v, want ErrInvalidPackage", p, err)
		}
	}
	if reqs := f.requests(); len(reqs) != 0 {
		t.Errorf("an invalid package reached the node: %+v", reqs)
	}

	_, err := c.Deploy(ctx, Package{Manifest: []byte("route = \"/x\"\n"), Module: []byte("m")})
	e := wantAPIError(t, err, 400, api.CodeInvalidManifest, "problems")
	if len(e.Details) != 1 || !strings.Contains(e.Details[0], "name") {
		t.Errorf("details %q", e.Details)
	}

	if _, err := c.Deploy(ctx, Package{Manifest: []byte(`name = "a"`), Module: []byte("m")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Deploy(ctx, Package{Manifest: []byte("name = \"b\"\nroute = \"/a\""), Module: []byte("m")})
	wantAPIError(t, err, 409, api.CodeConflict, "route /a")

	// A failed upload names the blob, keeps the node's error, and stops
	// the deploy before it is posted.
	bad := []byte("too big")
	f.mu.Lock()
	f.putStatus[Digest(bad)] = api.CodeBodyTooLarge
	f.mu.Unlock()
	f.requests()
	_, err = c.Deploy(ctx, Package{Manifest: []byte(`name = "c"`), Module: []byte("m2"), Files: map[string][]byte{"big": bad}})
	wantAPIError(t, err, 413, api.CodeBodyTooLarge, "refused")
	if !strings.Contains(err.Error(), Digest(bad)) {
		t.Errorf("error %q does not name the blob", err)
	}
	for _, r := range f.requests() {
		if r.Path == "/v1/deploy" {
			t.Error("the deploy was posted after an upload failed")
		}
	}

	// A deploy that names a blob the node lacks.
	_, err = c.DeployRequest(ctx, api.DeployRequest{Manifest: `name = "d"`, Module: Digest([]byte("never uploaded"))})
	wantAPIError(t, err, 404, api.CodeNotFound, Digest([]byte("never uploaded")))
}

// TestDeployUploadsInParallel checks that a Deploy has exactly
// uploadConcurrency blob requests in flight at its busiest: the first ones
// wait until that many are in flight together, then hold a little longer
// so that one too many, if the client sent it, would be seen.
func TestDeployUploadsInParallel(t *testing.T) {
	f := newFakeNode(t)
	c := f.client(t)
	var (
		mu             sync.Mutex
		inFlight, most int
		arrived        int
		full           = make(chan struct{})
	)
	f.blobGate = func() {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		arrived++
		first := arrived <= uploadConcurrency
		if arrived == uploadConcurrency {
			close(full)
		}
		mu.Unlock()
		if first {
			select {
			case <-full:
				time.Sleep(20 * time.Millisecond) // a window for an extra request
			case <-time.After(5 * time.Second):
				t.Errorf("not %d blob requests in flight together after 5s", uploadConcurrency)
			}
		}
		mu.Lock()
		inFlight--
		mu.Unlock()
	}
	files := map[string][]byte{}
	for i := range 10 {
		files[fmt.Sprintf("f%d", i)] = fmt.Appendf(nil, "file %d", i)
	}
	if _, err := c.Deploy(t.Context(), Package{Manifest: []byte(`name = "many"`), Module: []byte("m"), Files: files}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if most != uploadConcurrency {
		t.Errorf("at most %d blob requests in flight, want %d", most, uploadConcurrency)
	}
	if arrived != 2*11 {
		t.Errorf("%d blob requests, want a HEAD and a PUT for each of 11 blobs", arrived)
	}
}

func TestDigest(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	}
	for _, tt := range tests {
		if got := Digest([]byte(tt.in)); got != tt.want {
			t.Errorf("Digest(%q) = %s, want %s", tt.in, got, tt.want)
		}
		if err := checkDigest(tt.want); err != nil {
			t.Errorf("checkDigest(%s): %v", tt.want, err)
		}
	}
}
