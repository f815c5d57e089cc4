package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestInvoke(t *testing.T) {
	t.Parallel()
	n := newTestNode(t)
	n.deployGuest(t, "guest", "")
	bodyFile := filepath.Join(t.TempDir(), "body.bin")
	writeFile(t, bodyFile, []byte("from a file\x00\xff\n"))

	tests := []struct {
		name   string
		stdin  string
		args   []string
		stdout string // exact, unless empty
		wants  []string
	}{
		{
			name:  "-X -d -H -i",
			args:  []string{"/echo", "-X", "POST", "-d", "data", "-H", "Content-Type: text/x-test", "-i"},
			wants: []string{"Content-Type: text/x-test\n", "Content-Length: 4\n", "\n\ndata"},
		},
		{
			name:   "GET by default",
			args:   []string{"/env?a=1&b=2"},
			wants:  []string{"REQUEST_METHOD=GET\n", "QUERY_STRING=a=1&b=2\n", "PATH_INFO=/env\n", "\nstdin="},
			stdout: "",
		},
		{
			name:  "-d makes a POST, headers reach the guest",
			args:  []string{"/env", "-d", "payload", "-H", "X-Custom: v1", "-H", "X-Custom: v2"},
			wants: []string{"REQUEST_METHOD=POST\n", "HTTP_X_CUSTOM=v1, v2\n", "CONTENT_LENGTH=7\n", "\nstdin=payload"},
		},
		{
			name:  "-X without -d",
			args:  []string{"/env", "-X", "DELETE"},
			wants: []string{"REQUEST_METHOD=DELETE\n"},
		},
		{
			name:   "-d @file",
			args:   []string{"/echo", "-d", "@" + bodyFile},
			stdout: "from a file\x00\xff\n",
		},
		{
			name:   "-d @- reads stdin",
			stdin:  "from stdin",
			args:   []string{"/echo", "-d", "@-"},
			stdout: "from stdin",
		},
		{
			name:   "-d with an empty body",
			args:   []string{"/echo", "-d", ""},
			stdout: "",
			wants:  []string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := n.mote(t, tt.stdin, append([]string{"invoke", "guest"}, tt.args...)...)
			if r.code != 0 {
				t.Fatalf("want exit 0, got %s", r)
			}
			if tt.stdout != "" && r.stdout != tt.stdout {
				t.Errorf("stdout = %q, want %q", r.stdout, tt.stdout)
			}
			for _, w := range tt.wants {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, r.stdout)
				}
			}
			if r.stderr != "" {
				t.Errorf("stderr: %q", r.stderr)
			}
		})
	}

	t.Run("-i prints the status line and sorted headers", func(t *testing.T) {
		r := n.must(t, "invoke", "guest", "/headers", "-i")
		head, body, ok := strings.Cut(r.stdout, "\n\n")
		if !ok {
			t.Fatalf("no blank line after the headers:\n%s", r.stdout)
		}
		lines := strings.Split(head, "\n")
		if lines[0] != "HTTP/1.1 200 OK" {
			t.Errorf("status line %q", lines[0])
		}
		for _, w := range []string{"Content-Type: text/plain", "X-One: 1", "Set-Cookie: a=1", "Set-Cookie: b=2"} {
			if !strings.Contains(head, "\n"+w+"\n") && !strings.HasSuffix(head, "\n"+w) {
				t.Errorf("headers lack %q:\n%s", w, head)
			}
		}
		if !regexp.MustCompile(`\nX-Request-Id: [0-9a-f]+(\n|$)`).MatchString(head) {
			t.Errorf("no X-Request-Id:\n%s", head)
		}
		for i := 2; i < len(lines); i++ {
			if lines[i-1] > lines[i] {
				t.Errorf("headers not sorted: %q before %q", lines[i-1], lines[i])
			}
		}
		if body != "headers\n" {
			t.Errorf("body %q", body)
		}
	})
	t.Run("guest 404 exits 1", func(t *testing.T) {
		r := n.mote(t, "", "invoke", "guest", "/status/404")
		if r.code != 1 {
			t.Fatalf("want exit 1, got %s", r)
		}
		if r.stdout != "status 404\n" {
			t.Errorf("stdout %q: the guest's body should still be printed", r.stdout)
		}
		if !strings.Contains(r.stderr, "404 Not Found") || strings.Contains(r.stderr, "Error:") {
			t.Errorf("stderr should name the status, and it is not a platform error:\n%s", r.stderr)
		}
	})
	t.Run("guest 201 exits 0", func(t *testing.T) {
		r := n.must(t, "invoke", "guest", "/status/201", "-i")
		if !strings.HasPrefix(r.stdout, "HTTP/1.1 201 Created\n") {
			t.Errorf("stdout:\n%s", r.stdout)
		}
	})
	t.Run("trap is a 502 platform error", func(t *testing.T) {
		r := n.fails(t, []string{"invoke", "guest", "/trap"}, "Error: ", "trap", "request ")
		if r.stdout != "" {
			t.Errorf("stdout %q", r.stdout)
		}
	})
	t.Run("malformed output is a 502 platform error", func(t *testing.T) {
		n.fails(t, []string{"invoke", "guest", "/nohdr"}, "Error: ")
	})
	t.Run("unknown service", func(t *testing.T) {
		n.fails(t, []string{"invoke", "nosuch", "/"}, "Error: ", "nosuch")
	})
	t.Run("-d @missing", func(t *testing.T) {
		n.fails(t, []string{"invoke", "guest", "/echo", "-d", "@" + filepath.Join(t.TempDir(), "nope")}, "Error: -d @", "no such file")
	})
	t.Run("bad -H", func(t *testing.T) {
		n.fails(t, []string{"invoke", "guest", "/echo", "-H", "no colon"}, `Error: -H "no colon": want 'Name: value'`)
	})
}
