package node_test

import (
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/client"
	"github.com/mote-run/mote/examples"
	"github.com/mote-run/mote/internal/node/nodetest"
)

// fileStamp is what a recompile would change about a cache file.
type fileStamp struct {
	size    int64
	modTime time.Time
}

// cacheFiles lists the regular files under dir.
func cacheFiles(t *testing.T, dir string) map[string]fileStamp {
	t.Helper()
	out := map[string]fileStamp{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = fileStamp{info.Size(), info.ModTime()}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRestart deploys, stops the node, starts another on the same data dir,
// and checks that it serves the same versions, with the logs, without
// compiling anything again.
func TestRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	hello, err := examples.Get("hello-go")
	if err != nil {
		t.Fatal(err)
	}

	env := nodetest.StartDir(t, dir)
	token := env.Node.Token()
	env.Deploy(t, guestPkg(t, guestManifest("guest", "/guest", "")))
	withFiles := guestPkg(t, guestManifest("guest", "/guest", "files = [\"data\"]\n\n[env]\nRUN = \"second\"\n"))
	withFiles.Files = map[string][]byte{"data/kept.txt": []byte("kept across restarts\n")}
	env.Deploy(t, withFiles)
	env.Deploy(t, client.Package{Manifest: hello.Manifest, Module: hello.Module, Files: hello.Files})
	wantServed := func(env *nodetest.Env) {
		t.Helper()
		status, _, body := env.Get(t, "/guest/env")
		if status != 200 || !strings.Contains(body, "RUN=second\n") {
			t.Errorf("guest: %d %q", status, body)
		}
		wantBody(t, env, "/guest/cat?/data/kept.txt", "kept across restarts\n")
		wantBody(t, env, "/hello-go/x", "Hello from Go on mote!\nYou asked for /x\n")
	}
	wantServed(env)
	_, h, _ := env.Get(t, "/guest/stderr")
	stderrID := h.Get("X-Request-Id")
	requestLogs(t, env.Client, "guest", stderrID, func(es []api.LogEntry) bool { return len(es) >= 3 })
	before, err := env.Client.Services(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	versionsBefore, err := env.Client.Versions(t.Context(), "guest")
	if err != nil {
		t.Fatal(err)
	}
	cacheDir := filepath.Join(dir, "cache")
	cacheBefore := cacheFiles(t, cacheDir)
	if len(cacheBefore) < 2 {
		t.Fatalf("the compilation cache %s holds %d files, want one per module at least: %v", cacheDir, len(cacheBefore), cacheBefore)
	}
	nodetest.Stop(t, env.Node)
	if _, err := env.Client.Services(t.Context()); err == nil {
		t.Fatal("the stopped node still answers")
	}

	env = nodetest.StartDir(t, dir)
	if env.Node.Token() != token {
		t.Errorf("the admin token changed across the restart")
	}
	wantServed(env)
	after, err := env.Client.Services(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Fatalf("services before %+v, after %+v", before, after)
	}
	for i := range after {
		b, a := before[i], after[i]
		if a.Name != b.Name || a.Version != b.Version || a.Latest != b.Latest || a.Digest != b.Digest || a.Route != b.Route {
			t.Errorf("service before %+v, after %+v", b, a)
		}
	}
	versionsAfter, err := env.Client.Versions(t.Context(), "guest")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(versionsBefore, versionsAfter, func(a, b api.VersionStatus) bool {
		return a.Number == b.Number && a.Digest == b.Digest && a.Manifest == b.Manifest && a.Created.Equal(b.Created)
	}) {
		t.Errorf("versions before %+v, after %+v", versionsBefore, versionsAfter)
	}
	// Versions keep counting from where they were.
	res, err := env.Client.Deploy(t.Context(), guestPkg(t, guestManifest("guest", "/guest", "\n[env]\nRUN = \"third\"\n")))
	if err != nil || res.Version.Number != 3 {
		t.Errorf("deploy after restart: version %d (err %v), want 3", res.Version.Number, err)
	}

	// Serving both modules again read them from the cache: no file was
	// written again.
	cacheAfter := cacheFiles(t, cacheDir)
	for name, b := range cacheBefore {
		a, ok := cacheAfter[name]
		switch {
		case !ok:
			t.Errorf("cache file %s is gone after the restart", name)
		case a.size != b.size || !a.modTime.Equal(b.modTime):
			t.Errorf("cache file %s was rewritten (recompiled?): %d bytes at %s, then %d bytes at %s", name, b.size, b.modTime, a.size, a.modTime)
		}
	}
	if len(cacheAfter) != len(cacheBefore) {
		t.Errorf("cache files before %v, after %v", cacheBefore, cacheAfter)
	}

	logs, err := collectLogs(t, env.Client, "guest")
	if err != nil {
		t.Fatal(err)
	}
	var stderr []string
	for _, e := range logs {
		if e.RequestID == stderrID {
			stderr = append(stderr, e.Message)
		}
	}
	if len(stderr) != 3 {
		t.Errorf("the stderr lines of request %s after the restart: %q; all logs:\n%s", stderrID, stderr, messages(logs))
	}
}
