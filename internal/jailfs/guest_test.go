package jailfs

import (
	"bytes"
	"context"
	_ "embed"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
)

// fsprobe is testdata/fsprobe.c built for wasm32-wasi; see testdata/README.md.
//
//go:embed testdata/fsprobe.wasm
var fsprobe []byte

// probe runs fsprobe under wazero.
type probe struct {
	rt  wazero.Runtime
	mod wazero.CompiledModule
}

func newProbe(t testing.TB) *probe {
	t.Helper()
	ctx := context.Background()
	// The interpreter starts faster than the compiler for a module this
	// small run a handful of times.
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	t.Cleanup(func() { _ = rt.Close(ctx) })
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	mod, err := rt.CompileModule(ctx, fsprobe)
	if err != nil {
		t.Fatal(err)
	}
	return &probe{rt: rt, mod: mod}
}

// run executes the operations in args with fsc mounted and returns one
// "ok ..." or "error ENAME" result per operation, keyed by the operation.
func (p *probe) run(t testing.TB, fsc wazero.FSConfig, args ...string) map[string]string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cfg := wazero.NewModuleConfig().
		WithName("").
		WithArgs(append([]string{"fsprobe"}, args...)...).
		WithStdout(&stdout).
		WithStderr(&stderr).
		WithFSConfig(fsc)
	m, err := p.rt.InstantiateModule(t.Context(), p.mod, cfg)
	if m != nil {
		defer m.Close(t.Context())
	}
	if err != nil {
		if ee, ok := err.(*sys.ExitError); !ok || ee.ExitCode() != 0 {
			t.Fatalf("fsprobe: %v\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
		}
	}
	results := map[string]string{}
	for _, line := range strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n") {
		op, res, ok := strings.Cut(line, ": ")
		if !ok {
			t.Fatalf("fsprobe printed %q", line)
		}
		results[op] = res
	}
	t.Logf("fsprobe output:\n%s", &stdout)
	return results
}

// check compares results with want, where a want of "error" accepts any
// error and every other want is matched exactly.
func check(t *testing.T, got map[string]string, want [][2]string) {
	t.Helper()
	for _, w := range want {
		op, exp := w[0], w[1]
		res, ok := got[op]
		switch {
		case !ok:
			t.Errorf("%s: not run", op)
		case strings.Contains(res, secret):
			t.Errorf("%s: read the secret: %s", op, res)
		case exp == "error" && strings.HasPrefix(res, "error "):
		case res != exp:
			t.Errorf("%s: got %q; want %q", op, res, exp)
		}
	}
}

// ops flattens the operations of want into fsprobe arguments.
func ops(want [][2]string) []string {
	var args []string
	for _, w := range want {
		args = append(args, strings.Fields(w[0])...)
	}
	return args
}

// TestGuest runs a WASI libc program against the jail mounted at "/" and
// at "/data", read-write and read-only.
func TestGuest(t *testing.T) {
	p := newProbe(t)
	for _, mount := range []string{"/", "/data"} {
		for _, readOnly := range []bool{false, true} {
			name := mount + map[bool]string{false: " rw", true: " ro"}[readOnly]
			t.Run(name, func(t *testing.T) {
				jail, outside := tree(t)
				beforeOutside := snapshot(t, outside)
				beforeJail := snapshot(t, jail)
				j := newJail(t, jail, readOnly)
				fsc := wazero.NewFSConfig().(sysfs.FSConfig).WithSysFSMount(j, mount)

				pre := strings.TrimSuffix(mount, "/") // "" or "/data"
				at := func(s string) string { return pre + s }
				listing := "ok abs-in@,chain1@,chain2@,dangle@,empty/,etc@,hello.txt,in@,loop1@,loop2@,out@,sub/,up2@"
				want := [][2]string{
					{"cat " + at("/hello.txt"), "ok hello"},
					{"cat " + at("/sub/up"), "ok hello"},
					{"cat " + at("/in/inner.txt"), "ok inner"},
					{"cat " + at("/in/../hello.txt"), "ok hello"},
					{"cat " + at("/etc/passwd"), "error EPERM"},
					{"cat " + at("/out/secret.txt"), "error EPERM"},
					{"cat " + at("/sub/out"), "error EPERM"},
					{"cat " + at("/chain1"), "error EPERM"},
					{"cat " + at("/up2/outside/secret.txt"), "error EPERM"},
					{"cat " + at("/abs-in"), "error EPERM"},
					{"cat " + at("/loop1"), "error ELOOP"},
					{"cat " + at("/../outside/secret.txt"), "error"},
					{"cat ../../outside/secret.txt", "error"},
					{"cat ../../../../../../etc/passwd", "error"},
					{"cat /proc/self/environ", "error"},
					{"stat " + at("/etc"), "error EPERM"},
					{"lstat " + at("/etc"), "ok link 4"},
					{"readlink " + at("/etc"), "ok /etc"},
					{"readlink " + at("/out"), "ok ../outside"},
					{"ls " + at("/"), listing},
					{"ls " + at("/in"), "ok chain3@,inner.txt,out@,up@"},
					{"ls " + at("/out"), "error EPERM"},
					{"ls " + at("/up2"), "error EPERM"},
					{"ls " + at("/etc"), "error EPERM"},
				}
				if mount == "/" {
					want = append(want, [][2]string{
						{"cat /etc/passwd", "error EPERM"}, // via jail/etc -> /etc
						{"ls /..", "error EPERM"},          // wazero refuses ".."
					}...)
				} else {
					want = append(want, [][2]string{
						{"cat /etc/passwd", "error"}, // nothing is mounted there
						{"ls /", "error"},
						{"cat /data/../hello.txt", "error"},
					}...)
				}
				if readOnly {
					want = append(want, [][2]string{
						{"write " + at("/new.txt") + " hi", "error EROFS"},
						{"append " + at("/hello.txt") + " !", "error EROFS"},
						{"creat-ro " + at("/c"), "error EROFS"},
						{"trunc-ro " + at("/hello.txt"), "error EROFS"},
						{"mkdir " + at("/d"), "error EROFS"},
						{"rmdir " + at("/empty"), "error EROFS"},
						{"rm " + at("/hello.txt"), "error EROFS"},
						{"mv " + at("/hello.txt") + " " + at("/x"), "error EROFS"},
						{"symlink hello.txt " + at("/l"), "error EROFS"},
						{"link " + at("/hello.txt") + " " + at("/l"), "error EROFS"},
						{"cat " + at("/hello.txt"), "ok hello"},
					}...)
				} else {
					want = append(want, [][2]string{
						{"write " + at("/new.txt") + " hi", "ok 2"},
						{"append " + at("/new.txt") + " !", "ok 1"},
						{"cat " + at("/new.txt"), "ok hi!"},
						{"creat-ro " + at("/c"), "ok"},
						{"write " + at("/out/new.txt") + " x", "error EPERM"},
						{"write " + at("/dangle") + " x", "error EPERM"},
						{"write " + at("/up2/outside/new.txt") + " x", "error EPERM"},
						{"symlink ../outside " + at("/esc"), "error EPERM"},
						{"symlink ../../../../../../etc " + at("/esc"), "error EPERM"},
						{"symlink /etc " + at("/esc"), "error EPERM"},
						{"cat " + at("/esc/passwd"), "error ENOENT"},
						{"symlink hello.txt " + at("/lnk"), "ok"},
						{"cat " + at("/lnk"), "ok hello"},
						{"mkdir " + at("/d"), "ok"},
						{"mv " + at("/new.txt") + " " + at("/d/n.txt"), "ok"},
						{"cat " + at("/d/n.txt"), "ok hi!"},
						{"link " + at("/out/secret.txt") + " " + at("/stolen"), "error EPERM"},
						{"mv " + at("/out/secret.txt") + " " + at("/stolen"), "error EPERM"},
						{"mv " + at("/hello.txt") + " " + at("/out/x"), "error EPERM"},
						{"rm " + at("/sub/out"), "ok"},
						{"rmdir " + at("/empty"), "ok"},
					}...)
				}
				got := p.run(t, fsc, ops(want)...)
				check(t, got, want)

				if after := snapshot(t, outside); after != beforeOutside {
					t.Errorf("outside changed:\n%s\nwant:\n%s", after, beforeOutside)
				}
				if readOnly {
					if after := snapshot(t, jail); after != beforeJail {
						t.Errorf("read-only jail changed:\n%s\nwant:\n%s", after, beforeJail)
					}
					return
				}
				for name, content := range map[string]string{"d/n.txt": "hi!", "c": ""} {
					if b, err := os.ReadFile(filepath.Join(jail, name)); err != nil || string(b) != content {
						t.Errorf("jail/%s = %q, %v; want %q", name, b, err, content)
					}
				}
			})
		}
	}
}

// TestGuestWazeroDirMount documents what wazero v1.12.0's own directory
// mounts allow, on the same tree and with the same program; it is why this
// package exists. wazero refuses ".." in guest paths (path.Clean plus
// fs.ValidPath in its WASI layer), but hands symlinks to the host OS:
//
//   - a symlink in the directory that points outside is followed, with
//     WithDirMount and WithReadOnlyDirMount alike;
//   - with WithDirMount the guest can create such a symlink itself (only
//     absolute targets are refused) and then read and write outside;
//   - WithReadOnlyDirMount passes open(O_RDONLY|O_CREAT) and
//     open(O_RDONLY|O_TRUNC) to the host, so a "read-only" guest creates
//     and truncates files.
//
// If a wazero upgrade makes this test fail, its mounts changed: read the
// release notes before deciding this package is still needed.
func TestGuestWazeroDirMount(t *testing.T) {
	p := newProbe(t)
	t.Run("WithDirMount", func(t *testing.T) {
		jail, outside := tree(t)
		fsc := wazero.NewFSConfig().WithDirMount(jail, "/")
		want := [][2]string{
			{"cat ../../outside/secret.txt", "error EPERM"},
			{"cat /../outside/secret.txt", "error EPERM"},
			{"symlink /etc /esc", "error EPERM"},
			{"symlink ../outside /esc", "ok"},
			{"write /esc/planted x", "ok 1"},
		}
		got := p.run(t, fsc, ops(want)...)
		check(t, got, want)
		escaped := p.run(t, fsc, "cat", "/out/secret.txt", "cat", "/esc/secret.txt", "cat", "/sub/out", "cat", "/chain1", "cat", "/etc/hostname")
		for op, res := range escaped {
			if op == "cat /etc/hostname" {
				// jail/etc -> /etc: the host's own file, where there is one.
				if b, err := os.ReadFile("/etc/hostname"); err == nil && res != "ok "+strings.ReplaceAll(string(b), "\n", `\n`) {
					t.Errorf("%s = %q; want the host's /etc/hostname %q", op, res, b)
				}
				continue
			}
			if res != "ok "+secret {
				t.Errorf("%s = %q; want the secret (escape)", op, res)
			}
		}
		if b, err := os.ReadFile(filepath.Join(outside, "planted")); err != nil || string(b) != "x" {
			t.Errorf("outside/planted = %q, %v; want the guest's write", b, err)
		}
	})
	t.Run("WithReadOnlyDirMount", func(t *testing.T) {
		jail, _ := tree(t)
		fsc := wazero.NewFSConfig().WithReadOnlyDirMount(jail, "/")
		want := [][2]string{
			{"write /new.txt x", "error ENOSYS"},
			{"symlink ../outside /esc", "error EROFS"},
			{"creat-ro /created", "ok"},
			{"trunc-ro /hello.txt", "ok"},
		}
		got := p.run(t, fsc, ops(want)...)
		check(t, got, want)
		escaped := p.run(t, fsc, "cat", "/out/secret.txt", "cat", "/sub/out")
		for op, res := range escaped {
			if res != "ok "+secret {
				t.Errorf("%s = %q; want the secret (escape)", op, res)
			}
		}
		if _, err := os.Stat(filepath.Join(jail, "created")); err != nil {
			t.Errorf("read-only guest did not create a file: %v", err)
		}
		if b, err := os.ReadFile(filepath.Join(jail, "hello.txt")); err != nil || len(b) != 0 {
			t.Errorf("read-only guest did not truncate hello.txt: %q, %v", b, err)
		}
	})
}

// TestGuestTwoMounts mounts a read-only jail at "/" and a read-write one at
// "/tmp", as a node gives a guest its package files and a scratch dir.
func TestGuestTwoMounts(t *testing.T) {
	p := newProbe(t)
	pkg, outside := tree(t)
	scratch := t.TempDir()
	beforePkg, beforeOutside := snapshot(t, pkg), snapshot(t, outside)
	ro := newJail(t, pkg, true)
	rw := newJail(t, scratch, false)
	fsc := wazero.NewFSConfig().(sysfs.FSConfig).WithSysFSMount(ro, "/")
	fsc = fsc.(sysfs.FSConfig).WithSysFSMount(rw, "/tmp")
	want := [][2]string{
		{"cat /hello.txt", "ok hello"},
		{"write /hello.txt x", "error EROFS"},
		{"write /tmp/x hi", "ok 2"},
		{"cat /tmp/x", "ok hi"},
		{"ls /tmp", "ok x"},
		{"cat /tmp/../hello.txt", "error EPERM"},
		{"mv /tmp/x /moved", "error ENOSYS"}, // wazero: no rename across mounts
		{"link /tmp/x /linked", "error ENOSYS"},
		{"symlink ../outside /tmp/esc", "error EPERM"},
	}
	got := p.run(t, fsc, ops(want)...)
	check(t, got, want)
	if b, err := os.ReadFile(filepath.Join(scratch, "x")); err != nil || string(b) != "hi" {
		t.Errorf("scratch/x = %q, %v", b, err)
	}
	if snapshot(t, pkg) != beforePkg || snapshot(t, outside) != beforeOutside {
		t.Error("package or outside changed")
	}
}

// TestGuestClosedJail: a guest started on a closed jail gets errors, and
// wazero does not panic opening the mount point.
func TestGuestClosedJail(t *testing.T) {
	p := newProbe(t)
	jail, _ := tree(t)
	j, err := New(jail, false)
	if err != nil {
		t.Fatal(err)
	}
	j.Close()
	fsc := wazero.NewFSConfig().(sysfs.FSConfig).WithSysFSMount(j, "/")
	want := [][2]string{
		{"cat /hello.txt", "error"},
		{"ls /", "error"},
		{"write /x y", "error"},
	}
	check(t, p.run(t, fsc, ops(want)...), want)
}
