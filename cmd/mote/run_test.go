package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	t.Parallel()
	// root holds a secret beside the granted directory jail.
	root := t.TempDir()
	jail := filepath.Join(root, "jail")
	if err := os.Mkdir(jail, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(jail, "x.txt"), []byte("hello from the host\n"))
	writeFile(t, filepath.Join(root, "secret.txt"), []byte("top secret\n"))
	if err := os.Symlink(filepath.Join(root, "secret.txt"), filepath.Join(jail, "link.txt")); err != nil {
		t.Fatal(err)
	}
	rwDir := t.TempDir()
	roDir := t.TempDir()

	path := func(p string) string { return "--env=PATH_INFO=" + p }
	query := func(q string) string { return "--env=QUERY_STRING=" + q }
	tests := []struct {
		name     string
		stdin    string
		args     []string // after MODULE
		code     int      // -1: any non-zero
		stdout   string   // exact, unless empty
		wants    []string // in stdout
		notWants []string // not in stdout
		stderr   string   // in stderr
	}{
		{name: "status", args: []string{path("/status/201")}, stdout: "Status: 201\nContent-Type: text/plain\n\nstatus 201\n"},
		{name: "exit code", args: []string{path("/exit3")}, code: 3, stdout: "Content-Type: text/plain\n\nexiting with 3\n"},
		{name: "trap", args: []string{path("/trap")}, code: -1, stderr: "trapped"},
		{name: "args after --", args: []string{path("/argv"), "--", "a", "--b"}, wants: []string{"argc=3\n", "argv[0]=guest.wasm\n", "argv[1]=a\n", "argv[2]=--b\n"}},
		{name: "stdin", stdin: "piped in", args: []string{path("/echo")}, stdout: "Content-Type: application/octet-stream\n\npiped in"},
		{
			name: "only the granted environment", args: []string{path("/env"), "--env", "GREETING=hi"},
			wants: []string{"PATH_INFO=/env\nGREETING=hi\nargv[0]=guest.wasm\nstdin="}, notWants: []string{"HOME=", "MOTE_DATA="},
		},
		{name: "no directory granted", args: []string{path("/cat"), query("/data/x.txt")}, wants: []string{"ERR "}, notWants: []string{"hello from the host"}},
		{name: "--dir reads a host file", args: []string{"--dir", jail + ":/data", path("/cat"), query("/data/x.txt")}, stdout: "Content-Type: text/plain\n\nhello from the host\n"},
		{name: "--dir lists", args: []string{"--dir", jail + ":/data", path("/ls"), query("/data")}, stdout: "Content-Type: text/plain\n\nlink.txt\nx.txt\n"},
		{name: "--dir without GUESTDIR", args: []string{"--dir", jail, path("/cat"), query(jail + "/x.txt")}, wants: []string{"hello from the host"}},
		{name: ".. cannot leave the jail", args: []string{"--dir", jail + ":/data", path("/cat"), query("/data/../secret.txt")}, wants: []string{"ERR "}, notWants: []string{"top secret"}},
		{name: "../.. cannot reach /etc", args: []string{"--dir", jail + ":/data", path("/cat"), query("/data/../../etc/passwd")}, wants: []string{"ERR "}, notWants: []string{"root:"}},
		{name: "a symlink cannot leave the jail", args: []string{"--dir", jail + ":/data", path("/cat"), query("/data/link.txt")}, wants: []string{"ERR "}, notWants: []string{"top secret"}},
		{name: "--dir is writable", args: []string{"--dir", rwDir + ":/out", path("/write"), query("/out/y.txt")}, stdout: "Content-Type: text/plain\n\nOK\n"},
		{name: ":ro is not writable", args: []string{"--dir", roDir + ":/out:ro", path("/write"), query("/out/y.txt")}, wants: []string{"ERR "}, notWants: []string{"OK"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mote(t, tt.stdin, append([]string{"run", guestWasmPath}, tt.args...)...)
			if (tt.code == -1 && r.code == 0) || (tt.code != -1 && r.code != tt.code) {
				t.Errorf("want exit %d, got %s", tt.code, r)
			}
			if tt.stdout != "" && r.stdout != tt.stdout {
				t.Errorf("stdout = %q, want %q", r.stdout, tt.stdout)
			}
			for _, w := range tt.wants {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, r.stdout)
				}
			}
			for _, w := range tt.notWants {
				if strings.Contains(r.stdout, w) {
					t.Errorf("stdout has %q:\n%s", w, r.stdout)
				}
			}
			if !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.stderr, r.stderr)
			}
			if tt.stderr == "" && r.stderr != "" {
				t.Errorf("stderr: %q", r.stderr)
			}
		})
	}

	t.Run("written file is on the host", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(rwDir, "y.txt"))
		if err != nil || string(b) != "written by guest\n" {
			t.Errorf("y.txt = %q, %v", b, err)
		}
		if _, err := os.Stat(filepath.Join(roDir, "y.txt")); err == nil {
			t.Error("the guest wrote into a :ro directory")
		}
	})
	t.Run("memory limit", func(t *testing.T) {
		r := must(t, "run", guestWasmPath, path("/grow"), "--memory", "16MiB")
		m := regexp.MustCompile(`grew (\d+) MiB`).FindStringSubmatch(r.stdout)
		if m == nil {
			t.Fatalf("stdout: %q", r.stdout)
		}
		if mib, _ := strconv.Atoi(m[1]); mib >= 16 || mib == 0 {
			t.Errorf("grew %d MiB under a 16 MiB limit", mib)
		}
	})
}

func TestRunErrors(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "file")
	writeFile(t, file, nil)
	tests := []struct {
		name  string
		args  []string
		wants []string
	}{
		{"garbage module", []string{garbagePath}, []string{"Error: " + garbagePath + ": ", "not a WebAssembly module"}},
		{"missing module", []string{"nope.wasm"}, []string{"Error: ", "nope.wasm"}},
		{"--env without =", []string{guestWasmPath, "--env", "NOEQUALS"}, []string{`Error: --env "NOEQUALS": want KEY=VALUE`}},
		{"--env with empty key", []string{guestWasmPath, "--env", "=v"}, []string{`Error: --env "=v"`}},
		{"--dir missing", []string{guestWasmPath, "--dir", "/no/such/dir:/x"}, []string{`Error: --dir "/no/such/dir:/x"`}},
		{"--dir a file", []string{guestWasmPath, "--dir", file + ":/x"}, []string{"is not a directory"}},
		{"--dir too many parts", []string{guestWasmPath, "--dir", "a:b:c:d"}, []string{"want HOSTDIR[:GUESTDIR][:ro]"}},
		{"--dir empty guest dir", []string{guestWasmPath, "--dir", t.TempDir() + ":"}, []string{"want HOSTDIR[:GUESTDIR][:ro]"}},
		{"--memory", []string{guestWasmPath, "--memory", "lots"}, []string{"Error: --memory: "}},
		{"no module", nil, []string{"Error: requires at least 1 arg"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := fails(t, append([]string{"run"}, tt.args...), tt.wants...)
			if r.stdout != "" {
				t.Errorf("stdout: %q", r.stdout)
			}
		})
	}
}
