package rootfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	testPasswd = `root:x:0:0:root:/root:/bin/sh
# a comment
+nis
broken line
bad:x:notanumber:0::/:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
app:x:1000:1001::/app:/bin/sh
padded:x:0042:7::/:/bin/sh
`
	testGroup = `root:x:0:
app:x:1001:
staff:x:50:app
short
`
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLookupUser(t *testing.T) {
	full := t.TempDir()
	writeFiles(t, full, map[string]string{"etc/passwd": testPasswd, "etc/group": testGroup})
	empty := t.TempDir()
	// /etc is an absolute symlink, resolved inside the root filesystem.
	linked := t.TempDir()
	writeFiles(t, linked, map[string]string{"real/etc/passwd": testPasswd, "real/etc/group": testGroup})
	if err := os.Symlink("/real/etc", filepath.Join(linked, "etc")); err != nil {
		t.Fatal(err)
	}
	// /etc/passwd is a symlink climbing out to the host's /etc/hostname: it
	// stays inside, where there is none.
	escaping := t.TempDir()
	if err := os.MkdirAll(filepath.Join(escaping, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../../../../../../etc/hostname", filepath.Join(escaping, "etc/passwd")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/group", filepath.Join(escaping, "etc/group")); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		root, user string
		uid, gid   uint32
		err        error  // errors.Is
		msg        string // in the error
	}{
		{root: full, user: "", uid: 0, gid: 0},
		{root: empty, user: "", uid: 0, gid: 0},
		{root: full, user: "root", uid: 0, gid: 0},
		{root: full, user: "app", uid: 1000, gid: 1001},
		{root: full, user: "nobody", uid: 65534, gid: 65534},
		{root: full, user: "1000", uid: 1000, gid: 1001},
		{root: full, user: "42", uid: 42, gid: 7},
		{root: full, user: "1234", uid: 1234, gid: 0},
		{root: full, user: "app:staff", uid: 1000, gid: 50},
		{root: full, user: "app:7", uid: 1000, gid: 7},
		{root: full, user: "1234:staff", uid: 1234, gid: 50},
		{root: full, user: "1234:99", uid: 1234, gid: 99},
		{root: linked, user: "app:staff", uid: 1000, gid: 50},
		{root: empty, user: "1000", uid: 1000, gid: 0},
		{root: empty, user: "1000:5", uid: 1000, gid: 5},
		{root: full, user: "ghost", err: ErrUnknownUser, msg: `user "ghost" is not in /etc/passwd`},
		{root: full, user: "bad", err: ErrUnknownUser, msg: "/etc/passwd"},
		{root: full, user: "app:ghosts", err: ErrUnknownUser, msg: `group "ghosts" is not in /etc/group`},
		{root: full, user: "short:short", err: ErrUnknownUser},
		{root: full, user: "4294967295", err: ErrUnknownUser},
		{root: empty, user: "app", err: fs.ErrNotExist, msg: "/etc/passwd"},
		{root: empty, user: "1:staff", err: fs.ErrNotExist, msg: "/etc/group"},
		{root: escaping, user: "root", err: fs.ErrNotExist, msg: "/etc/passwd"},
		{root: escaping, user: "1:root", err: errLoop, msg: "/etc/group"}, // group -> /etc/group
		{root: full, user: ":1", msg: "want user"},
		{root: full, user: "app:", msg: "want user"},
		{root: filepath.Join(empty, "missing"), user: "app", err: fs.ErrNotExist},
	} {
		t.Run(filepath.Base(tc.root)+"/"+tc.user, func(t *testing.T) {
			uid, gid, err := LookupUser(tc.root, tc.user)
			if tc.err == nil && tc.msg == "" {
				if err != nil || uid != tc.uid || gid != tc.gid {
					t.Errorf("LookupUser(%q) = %d:%d, %v; want %d:%d", tc.user, uid, gid, err, tc.uid, tc.gid)
				}
				return
			}
			if err == nil || tc.err != nil && !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("LookupUser(%q) = %d:%d, %v; want %v saying %q", tc.user, uid, gid, err, tc.err, tc.msg)
			}
		})
	}
}
