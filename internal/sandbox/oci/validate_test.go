package oci

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mote-run/mote/internal/sandbox"
)

// testImage makes a rootfs with programs, links and traps for the
// entrypoint lookup.
func testImage(t testing.TB) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"bin", "bin/dir", "usr", "srv"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]os.FileMode{"bin/app": 0o755, "bin/noexec": 0o644, "srv/run": 0o700}
	for name, mode := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte("#!"), mode); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"usr/bin":  "/bin",                   // absolute: inside the image
		"bin/sh":   "app",                    // relative
		"escape":   "../../../../etc/passwd", // climbs out: stays at the image's root
		"hosttrue": "/usr/bin/true",          // a host program, absent from the image
		"loop1":    "/loop2",
		"loop2":    "loop1",
		"viafile":  "bin/app/x",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestValidate(t *testing.T) {
	image := testImage(t)
	spec := func(c sandbox.Container) sandbox.Spec {
		if c.Rootfs == "" {
			c.Rootfs = image
		}
		return sandbox.Spec{Service: "v", Container: &c}
	}
	tests := []struct {
		name string
		spec sandbox.Spec
		want string // "" for valid
	}{
		{"absolute", spec(sandbox.Container{Args: []string{"/bin/app"}}), ""},
		{"through an absolute link", spec(sandbox.Container{Args: []string{"/usr/bin/app"}}), ""},
		{"on the PATH", spec(sandbox.Container{Args: []string{"app"}, Env: []string{"PATH=/nowhere:/usr/bin"}}), ""},
		{"default PATH", spec(sandbox.Container{Args: []string{"sh"}}), ""},
		{"relative to the working dir", spec(sandbox.Container{Args: []string{"./run"}, WorkDir: "/srv"}), ""},
		{"nil container", sandbox.Spec{Service: "v"}, "Spec.Container is nil"},
		{"no rootfs", spec(sandbox.Container{Rootfs: filepath.Join(image, "nope"), Args: []string{"/bin/app"}}), "is not a directory"},
		{"no entrypoint", spec(sandbox.Container{}), "no entrypoint; set ENTRYPOINT or CMD"},
		{"missing", spec(sandbox.Container{Args: []string{"/app"}}), "image entrypoint /app not found in the image; set ENTRYPOINT or CMD"},
		{"not on the PATH", spec(sandbox.Container{Args: []string{"run"}}), "not found on the image's PATH"},
		{"not executable", spec(sandbox.Container{Args: []string{"/bin/noexec"}}), "is not executable"},
		{"a directory", spec(sandbox.Container{Args: []string{"/bin/dir"}}), "is a directory"},
		{"link out of the image", spec(sandbox.Container{Args: []string{"/escape"}}), "not found in the image"},
		{"link to a host program", spec(sandbox.Container{Args: []string{"/hosttrue"}}), "not found in the image"},
		{"link loop", spec(sandbox.Container{Args: []string{"/loop1"}}), "too many levels of symbolic links"},
		{"through a file", spec(sandbox.Container{Args: []string{"/viafile"}}), "not found in the image"},
		{"bad port", spec(sandbox.Container{Args: []string{"/bin/app"}, Port: 70000}), "set [container] port to 1..65535"},
		{"relative working dir", spec(sandbox.Container{Args: []string{"/bin/app"}, WorkDir: "srv"}), "is not absolute"},
		{"bad env", spec(sandbox.Container{Args: []string{"/bin/app"}, Env: []string{"NOEQUALS"}}), "is not KEY=value"},
		{"NUL in args", spec(sandbox.Container{Args: []string{"/bin/app", "a\x00b"}}), "NUL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validate(tt.spec)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if !errors.Is(err, sandbox.ErrInvalidModule) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v; want ErrInvalidModule saying %q", err, tt.want)
			}
		})
	}
}

func TestResolveIn(t *testing.T) {
	root, err := os.OpenRoot(testImage(t))
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	tests := map[string]string{
		"/usr/bin/sh":         "/bin/app",
		"/../../usr/./bin/sh": "/bin/app",
		"/bin/dir/../app":     "/bin/app",
		"/":                   "/",
		"/bin/missing":        "",
	}
	for in, want := range tests {
		got, err := resolveIn(root, in)
		if want == "" {
			if !errors.Is(err, os.ErrNotExist) {
				t.Errorf("resolveIn(%q) = %q, %v; want not found", in, got, err)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("resolveIn(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// FuzzFindExecutable: whatever the entrypoint and a link's target, the
// lookup ends, and what it finds is an executable file inside the image.
func FuzzFindExecutable(f *testing.F) {
	f.Add("/l", "/bin/app", "/bin")
	f.Add("app", "../../..", "/l:/bin")
	f.Add("/l/app", "/usr/bin", "")
	f.Add("../l", "l", "/")
	image := testImage(f)
	f.Fuzz(func(t *testing.T, name, target, pathList string) {
		root, err := os.OpenRoot(image)
		if err != nil {
			t.Fatal(err)
		}
		defer root.Close()
		// The fuzzed link lives in the image's root for this run only.
		link := filepath.Join(image, "l")
		_ = os.Remove(link)
		if err := os.Symlink(target, link); err != nil {
			t.Skip()
		}
		defer os.Remove(link)
		p, err := findExecutable(root, name, "/srv", pathList)
		if err != nil {
			return
		}
		real, err := resolveIn(root, p)
		if err != nil {
			t.Fatalf("found %q, which does not resolve: %v", p, err)
		}
		st, err := os.Lstat(filepath.Join(image, rel(real)))
		if err != nil || !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
			t.Fatalf("found %q (%q): %v %v", p, real, st, err)
		}
	})
}
