package rootfs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testLayer is a layer whose opens are counted; when gate is set, Open
// waits for it to be closed (or for ctx).
type testLayer struct {
	data  []byte
	opens atomic.Int32
	gate  chan struct{}
}

func (l *testLayer) layer() Layer {
	return Layer{Digest: digestOf(l.data), Open: func(ctx context.Context) (io.ReadCloser, error) {
		l.opens.Add(1)
		if l.gate != nil {
			select {
			case <-l.gate:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return io.NopCloser(bytes.NewReader(l.data)), nil
	}}
}

func newTestLayer(t testing.TB, entries ...entry) *testLayer {
	return &testLayer{data: gzipped(t, tarOf(t, "", entries...))}
}

// waitFor polls cond until it holds or a deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCacheGet(t *testing.T) {
	dir := t.TempDir()
	c, err := NewCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	base := newTestLayer(t, reg("etc/os-release", "test"), reg("bin/app", "v1"), reg("old", "x"))
	top := newTestLayer(t, reg("bin/app", "v2"), reg(".wh.old", ""))
	chain := []Layer{base.layer(), top.layer()}

	p, err := c.Get(t.Context(), chain, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(p) != c.dir || !filepath.IsAbs(p) {
		t.Errorf("path %s not directly in %s", p, c.dir)
	}
	if got := readIn(t, p, "bin/app"); got != "v2" {
		t.Errorf("bin/app = %q, want the top layer's", got)
	}
	if exists(p, "old") {
		t.Error("the whiteout of old was not applied")
	}
	if fi, _ := lstat(t, p, "."); fi.Mode().Perm() != 0o755 {
		t.Errorf("root mode %v, want 0755", fi.Mode())
	}
	// The runtime's mount points are there, so runc never writes to it.
	for name, mode := range map[string]os.FileMode{"proc": os.ModeDir | 0o555, "sys": os.ModeDir | 0o555, "dev": os.ModeDir | 0o755,
		"tmp": os.ModeDir | os.ModeSticky | 0o777, "etc/hosts": 0o644} {
		if fi, _ := lstat(t, p, name); fi.Mode() != mode {
			t.Errorf("mount point %s: mode %v, want %v", name, fi.Mode(), mode)
		}
	}
	if got := names(t, dir); len(got) != 1 {
		t.Errorf("cache dir holds %v, want one root filesystem", got)
	}

	again, err := c.Get(t.Context(), chain, Options{})
	if err != nil || again != p {
		t.Errorf("second Get = %s, %v; want %s", again, err, p)
	}
	c2, err := NewCache(dir) // a restart
	if err != nil {
		t.Fatal(err)
	}
	if again, err := c2.Get(t.Context(), chain, Options{}); err != nil || again != p {
		t.Errorf("Get after restart = %s, %v; want %s", again, err, p)
	}
	if base.opens.Load() != 1 || top.opens.Load() != 1 {
		t.Errorf("layers opened %d and %d times, want once", base.opens.Load(), top.opens.Load())
	}

	for name, other := range map[string][]Layer{
		"one layer":      {base.layer()},
		"reversed":       {top.layer(), base.layer()},
		"no layer":       nil,
		"same layer x2":  {base.layer(), base.layer()},
		"chown no shift": nil,
	} {
		opts := Options{}
		if name == "chown no shift" {
			if os.Geteuid() != 0 {
				continue
			}
			other, opts = chain, Options{Chown: true}
		}
		q, err := c.Get(t.Context(), other, opts)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if q == p {
			t.Errorf("%s: same path as the chain", name)
		}
	}
}

func TestCacheChown(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown needs root")
	}
	c, err := NewCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	l := newTestLayer(t, reg("f", "x"))
	p, err := c.Get(t.Context(), []Layer{l.layer()}, Options{Chown: true, UIDShift: 100000, GIDShift: 100000})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{".", "f"} {
		if _, st := lstat(t, p, name); st.Uid != 100000 || st.Gid != 100000 {
			t.Errorf("%s: owner %d:%d, want 100000:100000", name, st.Uid, st.Gid)
		}
	}
	q, err := c.Get(t.Context(), []Layer{l.layer()}, Options{Chown: true, UIDShift: 200000, GIDShift: 200000})
	if err != nil || q == p {
		t.Errorf("Get with another shift = %s, %v; want another path", q, err)
	}
}

// TestCacheConcurrent has several Gets of one chain wait for one unpack.
func TestCacheConcurrent(t *testing.T) {
	c, err := NewCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	l := newTestLayer(t, reg("f", "x"))
	l.gate = make(chan struct{})
	const n = 8
	paths := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { paths[i], errs[i] = c.Get(t.Context(), []Layer{l.layer()}, Options{}) })
	}
	waitFor(t, "all but one Get to wait", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.waiting == n-1
	})
	close(l.gate)
	wg.Wait()
	for i := range n {
		if errs[i] != nil || paths[i] != paths[0] {
			t.Errorf("Get %d = %s, %v; want %s", i, paths[i], errs[i], paths[0])
		}
	}
	if got := l.opens.Load(); got != 1 {
		t.Errorf("layer opened %d times, want once", got)
	}
}

// TestCacheLeaderCancelled checks a waiting Get unpacks itself when the
// unpacking one is cancelled.
func TestCacheLeaderCancelled(t *testing.T) {
	c, err := NewCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	l := newTestLayer(t, reg("f", "x"))
	l.gate = make(chan struct{}) // never closed: the first Open waits for its ctx
	ctx, cancel := context.WithCancel(t.Context())
	leader := make(chan error, 1)
	go func() {
		_, err := c.Get(ctx, []Layer{l.layer()}, Options{})
		leader <- err
	}()
	waitFor(t, "the first Get to open the layer", func() bool { return l.opens.Load() == 1 })
	follower := make(chan error, 1)
	go func() {
		p, err := c.Get(t.Context(), []Layer{{Digest: digestOf(l.data), Open: func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(l.data)), nil
		}}}, Options{})
		if err == nil && readIn(t, p, "f") != "x" {
			err = errors.New("f not unpacked")
		}
		follower <- err
	}()
	waitFor(t, "the second Get to wait", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.waiting == 1
	})
	cancel()
	if err := <-leader; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Get: %v", err)
	}
	if err := <-follower; err != nil {
		t.Errorf("waiting Get: %v", err)
	}
}

func TestCacheFailuresLeaveNothing(t *testing.T) {
	good := newTestLayer(t, reg("f", "x"))
	hostile := newTestLayer(t, reg("../../x", "x"))
	big := newTestLayer(t, reg("a", "123456"))
	for _, tc := range []struct {
		name    string
		layers  []Layer
		opts    Options
		wantErr error
	}{
		{"refused entry", []Layer{good.layer(), hostile.layer()}, Options{}, ErrRefused},
		{"digest mismatch", []Layer{{Digest: digestOf([]byte("other")), Open: good.layer().Open}}, Options{}, ErrDigest},
		{"limit over the chain", []Layer{big.layer(), big.layer()}, Options{MaxBytes: 10}, ErrLimit},
		{"open fails", []Layer{{Digest: good.layer().Digest, Open: func(context.Context) (io.ReadCloser, error) {
			return nil, os.ErrPermission
		}}}, Options{}, os.ErrPermission},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			c, err := NewCache(dir)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Get(t.Context(), tc.layers, tc.opts)
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("Get: %v, want %v", err, tc.wantErr)
			}
			if got := names(t, dir); len(got) != 0 {
				t.Errorf("cache dir holds %v after a failure", got)
			}
		})
	}
}

func TestCacheBadLayers(t *testing.T) {
	c, err := NewCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	open := newTestLayer(t).layer().Open
	for _, d := range []string{"", "sha256:abc", "md5:d41d8cd98f00b204e9800998ecf8427e", "sha256:" + strings.Repeat("A", 64),
		"sha256:" + strings.Repeat("a", 64) + "\nsha256:" + strings.Repeat("a", 64)} {
		if _, err := c.Get(t.Context(), []Layer{{Digest: d, Open: open}}, Options{}); !errors.Is(err, ErrDigest) {
			t.Errorf("Get with digest %q: %v, want ErrDigest", d, err)
		}
	}
	if _, err := c.Get(t.Context(), []Layer{{Digest: digestOf(nil)}}, Options{}); err == nil {
		t.Error("Get of a layer without Open succeeded")
	}
	sha512 := "sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
	if _, err := c.Get(t.Context(), []Layer{{Digest: sha512, Open: func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(nil)), nil
	}}}, Options{}); err != nil {
		t.Errorf("Get of an empty sha512 layer: %v", err)
	}
}

func TestCacheCrashLeftovers(t *testing.T) {
	dir := t.TempDir()
	c, err := NewCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	kept, err := c.Get(t.Context(), []Layer{newTestLayer(t, reg("f", "x")).layer()}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// What a crash mid-unpack and mid-removal leaves.
	for _, p := range []string{".tmp-0123456789abcdef-42/usr/bin/half", ".tmp-rm-7/gone/etc/passwd"} {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := NewCache(dir); err != nil {
		t.Fatal(err)
	}
	if got := names(t, dir); len(got) != 1 || got[0] != filepath.Base(kept) {
		t.Errorf("cache dir holds %v, want only %s", got, filepath.Base(kept))
	}
}

func TestCacheRemoveKeep(t *testing.T) {
	dir := t.TempDir()
	c, err := NewCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, body := range []string{"a", "b", "c"} {
		p, err := c.Get(t.Context(), []Layer{newTestLayer(t, reg("f", body)).layer()}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	if err := os.Mkdir(filepath.Join(dir, "not-a-rootfs"), 0o755); err != nil {
		t.Fatal(err)
	}

	if _, err := c.Keep([]string{paths[0], "/etc"}); !errors.Is(err, ErrNotInCache) {
		t.Errorf("Keep with a foreign path: %v, want ErrNotInCache", err)
	}
	if len(names(t, dir)) != 4 {
		t.Fatal("Keep with a foreign path removed something")
	}
	removed, err := c.Keep([]string{paths[0], paths[0] + "/"})
	if err != nil || removed != 2 {
		t.Errorf("Keep = %d, %v; want 2 removed", removed, err)
	}
	if got := strings.Join(names(t, dir), ","); got != "not-a-rootfs,"+filepath.Base(paths[0]) &&
		got != filepath.Base(paths[0])+",not-a-rootfs" {
		t.Errorf("cache dir holds %s", got)
	}

	if err := c.Remove(paths[0]); err != nil {
		t.Fatal(err)
	}
	if exists(paths[0], ".") {
		t.Error("Remove left the directory")
	}
	if err := c.Remove(paths[0]); err != nil {
		t.Errorf("Remove of a removed path: %v", err)
	}
	for _, p := range []string{"/etc", filepath.Join(dir, "not-a-rootfs"), filepath.Join(dir, "..", filepath.Base(paths[1]))} {
		if err := c.Remove(p); !errors.Is(err, ErrNotInCache) {
			t.Errorf("Remove(%s): %v, want ErrNotInCache", p, err)
		}
	}
	if got := names(t, dir); len(got) != 1 {
		t.Errorf("cache dir holds %v, want only not-a-rootfs", got)
	}
	// Removed chains unpack again.
	if p, err := c.Get(t.Context(), []Layer{newTestLayer(t, reg("f", "b")).layer()}, Options{}); err != nil || p != paths[1] {
		t.Errorf("Get after Keep = %s, %v; want %s", p, err, paths[1])
	}
}
