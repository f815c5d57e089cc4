package hostile_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mote-run/mote/internal/node/nodetest"
)

// cgiVars are the variables a WAGI guest may see besides [env] and HTTP_*
// (docs/abi.md).
var cgiVars = []string{
	"REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "PATH_TRANSLATED", "QUERY_STRING", "CONTENT_LENGTH",
	"CONTENT_TYPE", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "SERVER_SOFTWARE", "GATEWAY_INTERFACE",
	"REMOTE_ADDR", "REMOTE_HOST", "AUTH_TYPE", "REMOTE_USER", "X_MATCHED_ROUTE", "X_FULL_URL",
	"X_RAW_PATH_INFO", "X_REQUEST_ID",
}

// TestGuestSeesNothingOfTheHost runs a guest that looks for the host's
// files, environment and descriptors, with and without package files, and
// checks its report line by line. (Not parallel: it sets a canary in the
// process's environment, which the guest must not see.)
func TestGuestSeesNothingOfTheHost(t *testing.T) {
	const canary = "hostile-canary-7f3a"
	t.Setenv("MOTE_HOSTILE_CANARY", canary)
	env := nodetest.Start(t)
	deploy(t, env, "bare", "snoop", "", "[env]\nGREETING = \"hi\"\n", nil)
	deploy(t, env, "files", "snoop", "files = [\"static\"]\n", "[env]\nGREETING = \"hi\"\n",
		map[string][]byte{"static/a.txt": []byte("alpha\n")})
	hc := newHTTP()
	host, _ := os.Hostname()
	wd, _ := os.Getwd()
	// What must never appear: the node's secrets and paths, the host's
	// files and environment.
	leaks := []string{env.Node.Token(), env.DataDir, wd, canary, "root:", "/bin/", "HOME=", "PATH=/", "GOPATH", "admin.token\n"}
	if host != "" {
		leaks = append(leaks, host)
	}

	for _, tt := range []struct {
		service string
		files   bool
	}{{"bare", false}, {"files", true}} {
		t.Run(tt.service, func(t *testing.T) {
			r := do(t.Context(), hc, "GET", env.Gateway+"/"+tt.service+"/probe?x=1", nil)
			if r.err != nil || r.status != 200 {
				t.Fatalf("snoop: %s", r)
			}
			defer func() {
				if t.Failed() {
					t.Logf("the guest saw:\n%s", r.body)
				}
			}()
			for _, leak := range leaks {
				if strings.Contains(r.body, leak) {
					t.Errorf("the guest saw %q", leak)
				}
			}
			for line := range strings.Lines(r.body) {
				line = strings.TrimSuffix(line, "\n")
				kind, rest, _ := strings.Cut(line, " ")
				what, got, _ := strings.Cut(rest, ": ")
				switch kind {
				case "cat":
					if tt.files && what == "/static/a.txt" {
						if got != `READ alpha\x0a` {
							t.Errorf("%s: want its package file, got %q", line, got)
						}
					} else if !strings.HasPrefix(got, "ERR ") {
						t.Errorf("%s: want an error, the guest read a file outside its package", line)
					}
				case "ls":
					// "ls DIR: a b" or "ls DIR: ERR …" (ls prints "DIR:" then
					// " name" per entry).
					what, got, _ = strings.Cut(rest, ":")
					got = strings.TrimSpace(got)
					if strings.HasPrefix(got, "ERR ") {
						if tt.files && (what == "/" || what == "/static") {
							t.Errorf("%s: want the package's files listed", line)
						}
						continue
					}
					if !tt.files {
						t.Errorf("%s: a guest without files listed a directory", line)
					}
					for _, name := range strings.Fields(got) {
						if name != "static" && name != "a.txt" {
							t.Errorf("%s: %q is not in the package", line, name)
						}
					}
				case "env":
					k, _, _ := strings.Cut(rest, "=")
					if !slices.Contains(cgiVars, k) && !strings.HasPrefix(k, "HTTP_") && k != "GREETING" {
						t.Errorf("%s: not a CGI variable, an HTTP_ header or [env]", line)
					}
				case "argv":
					if rest != "/"+tt.service+"/probe" && rest != "x=1" {
						t.Errorf("%s: want only the path and the query", line)
					}
				case "fd":
					// stdin, stdout, stderr and, with files, "/" at fd 3.
					fd, _, _ := strings.Cut(rest, ":")
					switch {
					case fd == "0" || fd == "1" || fd == "2":
					case fd == "3" && tt.files:
						if !strings.HasSuffix(line, "preopen /") {
							t.Errorf("%s: want the package files preopened at /", line)
						}
					default:
						t.Errorf("%s: the guest was handed a descriptor it should not have", line)
					}
				case "read":
					if !strings.HasPrefix(got, "ERR ") {
						t.Errorf("%s: a raw read of an unopened descriptor succeeded", line)
					}
				case "truncate":
					// wazero opens a file of a read-only fs.FS whatever the
					// flags ask; nothing is truncated and writes fail (the
					// "write" line and the last "cat" check it).
				case "create", "write", "mkdir", "symlink", "unlink":
					if !strings.HasPrefix(got, "ERR ") {
						t.Errorf("%s: the guest changed its package files", line)
					}
				default:
					t.Errorf("unexpected line %q", line)
				}
			}
		})
	}

	// The package files on disk are as deployed: nothing planted, nothing
	// changed.
	err := filepath.WalkDir(filepath.Join(env.DataDir, "files"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch d.Name() {
		case "planted", "dir", "link":
			t.Errorf("the guest planted %s", p)
		case "a.txt":
			if b, _ := os.ReadFile(p); string(b) != "alpha\n" {
				t.Errorf("%s now holds %q", p, b)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
