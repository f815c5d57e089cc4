package main

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/node/nodetest"
)

// cliSecret is a secret the CLI tests set; no output may show it.
const cliSecret = "cli-s3cr3t-9f2Kd0-hidden"

// configOf returns a service's config as `mote config ls -o json` prints it.
func (n *testNode) configOf(t *testing.T, name string) map[string]api.ConfigEntry {
	t.Helper()
	var entries []api.ConfigEntry
	decode(t, n.must(t, "config", "ls", name, "-o", "json").stdout, &entries)
	out := map[string]api.ConfigEntry{}
	for _, e := range entries {
		out[e.Key] = e
	}
	return out
}

func TestConfig(t *testing.T) {
	t.Parallel()
	n := newTestNode(t)
	n.deployGuest(t, "api", "")
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "password.txt")
	writeFile(t, secretFile, []byte(cliSecret+"\n"))

	t.Run("set", func(t *testing.T) {
		r := n.must(t, "config", "set", "api", "GREETING=hello", "DSN=postgres://db?a=b=c", "EMPTY=", "AT=@@home")
		if r.stdout != "Set AT, DSN, EMPTY, GREETING on api\n" || r.stderr != "" {
			t.Errorf("output %s", r)
		}
		c := n.configOf(t, "api")
		for k, want := range map[string]string{"GREETING": "hello", "DSN": "postgres://db?a=b=c", "EMPTY": "", "AT": "@home"} {
			if e, ok := c[k]; !ok || e.Value != want || e.Secret {
				t.Errorf("%s = %+v, want plain %q", k, e, want)
			}
		}
	})
	t.Run("set --secret from a file", func(t *testing.T) {
		r := n.must(t, "config", "set", "api", "DB_PASSWORD=@"+secretFile, "--secret")
		if r.stdout != "Set secret DB_PASSWORD on api\n" {
			t.Errorf("output %s", r)
		}
		if e := n.configOf(t, "api")["DB_PASSWORD"]; !e.Secret || e.Value != "" {
			t.Errorf("DB_PASSWORD listed as %+v", e)
		}
	})
	t.Run("set --secret from stdin", func(t *testing.T) {
		r := n.mote(t, cliSecret+"\n", "config", "set", "api", "TOKEN=-", "--secret")
		if r.code != 0 || r.stdout != "Set secret TOKEN on api\n" {
			t.Fatalf("got %s", r)
		}
		// The value read is the secret without its newline: set it again
		// as a plain value to see what the CLI sends.
		n.mote(t, "line\r\n", "config", "set", "api", "STDIN=@-")
		if got := n.configOf(t, "api")["STDIN"].Value; got != "line" {
			t.Errorf("STDIN = %q, want the line without its CRLF", got)
		}
		n.must(t, "config", "rm", "api", "STDIN")
	})
	t.Run("a plain value that looks secret gets a note", func(t *testing.T) {
		r := n.must(t, "config", "set", "api", "API_TOKEN=not-really")
		if !strings.Contains(r.stderr, "Note: API_TOKEN looks like a secret") || !strings.Contains(r.stderr, "--secret") {
			t.Errorf("no note on stderr: %s", r)
		}
		n.must(t, "config", "rm", "api", "API_TOKEN")
	})
	t.Run("ls", func(t *testing.T) {
		r := n.must(t, "config", "ls", "api")
		lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
		if len(lines) != 7 || !regexp.MustCompile(`^KEY +VALUE +SECRET +UPDATED$`).MatchString(lines[0]) {
			t.Fatalf("want a header and 6 rows:\n%s", r.stdout)
		}
		var keys []string
		for _, l := range lines[1:] {
			keys = append(keys, strings.Fields(l)[0])
		}
		if want := []string{"AT", "DB_PASSWORD", "DSN", "EMPTY", "GREETING", "TOKEN"}; !slices.Equal(keys, want) {
			t.Errorf("keys %v, want %v", keys, want)
		}
		for key, want := range map[string][]string{
			"DB_PASSWORD": {"DB_PASSWORD", "********", "true"},
			"TOKEN":       {"TOKEN", "********", "true"},
			"GREETING":    {"GREETING", "hello", "false"},
			"EMPTY":       {"EMPTY", `""`, "false"},
		} {
			if f := strings.Fields(row(r.stdout, key)); len(f) < 4 || !slices.Equal(f[:3], want) || !regexp.MustCompile(`(ago|just now)$`).MatchString(row(r.stdout, key)) {
				t.Errorf("row %q, want %v then the age", row(r.stdout, key), want)
			}
		}
		if r2 := n.must(t, "config", "list", "api"); r2.stdout != r.stdout {
			t.Errorf("list differs from ls:\n%s", r2.stdout)
		}
	})
	t.Run("the secret is shown nowhere", func(t *testing.T) {
		outputs := []result{
			n.must(t, "config", "ls", "api"),
			n.must(t, "config", "ls", "api", "-o", "json"),
			n.must(t, "inspect", "api"),
			n.must(t, "ls", "-o", "json"),
			n.must(t, "versions", "api", "-o", "json"),
		}
		var logs result
		nodetest.Eventually(t, 10*time.Second, "the config lines in mote logs", func() bool {
			logs = n.must(t, "logs", "api")
			return strings.Contains(logs.stdout, "config: set secret DB_PASSWORD") && strings.Contains(logs.stdout, "config: set secret TOKEN")
		})
		outputs = append(outputs, logs, n.must(t, "logs", "api", "-o", "json"))
		for _, r := range outputs {
			if strings.Contains(r.stdout+r.stderr, cliSecret) {
				t.Errorf("output shows the secret:\n%s", r)
			}
		}
	})
	t.Run("rm", func(t *testing.T) {
		r := n.must(t, "config", "rm", "api", "GREETING", "DB_PASSWORD")
		if r.stdout != "Removed GREETING from api\nRemoved DB_PASSWORD from api\n" {
			t.Errorf("output %s", r)
		}
		c := n.configOf(t, "api")
		if _, ok := c["GREETING"]; ok {
			t.Errorf("GREETING is still set: %+v", c)
		}
		if _, ok := c["DB_PASSWORD"]; ok {
			t.Errorf("DB_PASSWORD is still set: %+v", c)
		}
		n.fails(t, []string{"config", "rm", "api", "GREETING"}, "Error: service api has no config key GREETING\n", "Try: list its configuration with: mote config ls api")
	})
	t.Run("ls of a service with none", func(t *testing.T) {
		n.deployGuest(t, "bare", "")
		if r := n.must(t, "config", "ls", "bare", "-o", "json"); !regexp.MustCompile(`^\[\s*\]\n$`).MatchString(r.stdout) {
			t.Errorf("want [], got %q", r.stdout)
		}
		if r := n.must(t, "config", "ls", "bare"); strings.Count(r.stdout, "\n") != 1 {
			t.Errorf("want only the header, got %q", r.stdout)
		}
	})
}

// TestConfigErrors checks that every failure says what is wrong and what
// to do, and that none shows a secret value, even one mistyped.
func TestConfigErrors(t *testing.T) {
	t.Parallel()
	n := newTestNode(t)
	n.deployGuest(t, "api", "")
	missing := filepath.Join(t.TempDir(), "nope.txt")
	tests := []struct {
		name  string
		stdin string
		args  []string
		wants []string
	}{
		{"no values", "", []string{"config", "set", "api"}, []string{"Error: give a service and at least one KEY=VALUE", "Try: mote config set NAME KEY=VALUE..."}},
		{"no keys to rm", "", []string{"config", "rm", "api"}, []string{"Error: give a service and at least one KEY", "Try: mote config rm NAME KEY..."}},
		{"ls without a name", "", []string{"config", "ls"}, []string{"Error: accepts 1 arg(s)"}},
		{"ls -o yaml", "", []string{"config", "ls", "api", "-o", "yaml"}, []string{"Error: -o yaml: want"}},
		{"unknown subcommand", "", []string{"config", "frobnicate"}, []string{`Error: unknown command "frobnicate" for "mote config"`}},
		{"not KEY=VALUE", "", []string{"config", "set", "api", "GREETING"}, []string{`Error: "GREETING" is not KEY=VALUE`, "Try: mote config set NAME KEY=VALUE..."}},
		{"secret not KEY=VALUE", "", []string{"config", "set", "api", "A=1", cliSecret, "--secret"}, []string{"Error: argument 2 after the service name is not KEY=VALUE", "Try: "}},
		{"no key", "", []string{"config", "set", "api", "=" + cliSecret, "--secret"}, []string{"Error: argument 1 after the service name has no key"}},
		{"twice", "", []string{"config", "set", "api", "A=1", "A=2"}, []string{"Error: A is given twice"}},
		{"two stdins", "x", []string{"config", "set", "api", "A=-", "B=@-"}, []string{"Error: A and B both read stdin", "Try: "}},
		{"missing file", "", []string{"config", "set", "api", "A=@" + missing}, []string{"Error: A: open " + missing, "Try: write @@ for a value that starts with @"}},
		{"secret that starts with @", "", []string{"config", "set", "api", "A=@" + cliSecret, "--secret"}, []string{"Error: A: cannot read the file its value names", "Try: write @@"}},
		{"invalid key", "", []string{"config", "set", "api", "bad-key=" + cliSecret, "--secret"}, []string{`Error: invalid config key "bad-key": a key is a letter or _`}},
		{"unknown service", "", []string{"config", "set", "ghost", "A=1"}, []string{"Error: no service named ghost", "Try: list services with: mote ls"}},
		{"ls unknown service", "", []string{"config", "ls", "ghost"}, []string{"Error: no service named ghost"}},
		{"rm unknown service", "", []string{"config", "rm", "ghost", "A"}, []string{"Error: no service named ghost"}},
		{"bad service name", "", []string{"config", "ls", "Not_A_Name"}, []string{"Error: invalid service name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := n.mote(t, tt.stdin, tt.args...)
			if r.code != 1 {
				t.Fatalf("want exit 1, got %s", r)
			}
			fails := strings.Count(r.stderr, "Error: ")
			if fails != 1 || !strings.HasPrefix(r.stderr, "Error: ") {
				t.Errorf("want one Error: line first:\n%s", r.stderr)
			}
			for _, w := range tt.wants {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
				}
			}
			if strings.Contains(r.stdout+r.stderr, cliSecret) {
				t.Errorf("the output shows the secret:\n%s", r)
			}
		})
	}
	if r := n.must(t, "config", "ls", "api", "-o", "json"); !regexp.MustCompile(`^\[\s*\]\n$`).MatchString(r.stdout) {
		t.Errorf("failed commands set config: %s", r.stdout)
	}
	// Unreachable and unauthorized nodes fail like every other command.
	fails(t, []string{"config", "ls", "api", "--addr", closedAddr(t), "--token", "x"}, "Error: cannot reach the mote node", "Try: ")
	fails(t, []string{"config", "set", "api", "A=" + cliSecret, "--secret", "--addr", n.addr, "--token", "wrong"}, "Error: missing or wrong admin token", "Try: ")
}

// TestConfigHelp: the group and its verbs explain themselves.
func TestConfigHelp(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args  []string
		wants []string
	}{
		{[]string{"--help"}, []string{"  config "}},
		{[]string{"config"}, []string{"[allow]", "config = true", "set ", "ls ", "rm ", "--secret"}},
		{[]string{"help", "config", "set"}, []string{"mote config set NAME KEY=VALUE...", "KEY=@FILE", "KEY=-", "@@", "--secret"}},
		{[]string{"config", "ls", "--help"}, []string{"********", "-o, --output"}},
		{[]string{"config", "rm", "--help"}, []string{"mote config rm api GREETING"}},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := must(t, tt.args...)
			for _, w := range tt.wants {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("output lacks %q:\n%s", w, r.stdout)
				}
			}
		})
	}
}

// TestParseConfigArgs covers the KEY=VALUE forms without a node.
func TestParseConfigArgs(t *testing.T) {
	file := filepath.Join(t.TempDir(), "v.txt")
	writeFile(t, file, []byte("line 1\nline 2\n"))
	tests := []struct {
		name  string
		args  []string
		stdin string
		want  map[string]string
	}{
		{"split on the first =", []string{"A=b=c", "B==", "C="}, "", map[string]string{"A": "b=c", "B": "=", "C": ""}},
		{"file verbatim", []string{"F=@" + file}, "", map[string]string{"F": "line 1\nline 2\n"}},
		{"stdin less one newline", []string{"S=-"}, "v\n\n", map[string]string{"S": "v\n"}},
		{"stdin without newline", []string{"S=@-"}, "v\r", map[string]string{"S": "v\r"}},
		{"@@ escapes", []string{"A=@@", "B=@@@x"}, "", map[string]string{"A": "@", "B": "@@x"}},
		{"spaces kept", []string{" A = b "}, "", map[string]string{" A ": " b "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseConfigArgs(tt.args, false, strings.NewReader(tt.stdin))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%q = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

func TestValueCell(t *testing.T) {
	long := strings.Repeat("é", maxValueCell+5)
	for _, tt := range []struct{ in, want string }{
		{"hello", "hello"},
		{"a b", "a b"},
		{"", `""`},
		{" padded", `" padded"`},
		{"two\nlines", `"two\nlines"`},
		{"tab\there", `"tab\there"`},
		{"\xff", `"\xff"`},
		{long, strings.Repeat("é", maxValueCell) + "..."},
	} {
		if got := valueCell(tt.in); got != tt.want {
			t.Errorf("valueCell(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
