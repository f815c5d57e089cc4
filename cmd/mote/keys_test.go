package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
)

// cliKeyPattern is a key alone on its line, as keys create prints it.
var cliKeyPattern = regexp.MustCompile(`^mk_([0-9a-f]{12})_[0-9a-f]{64}\n$`)

func TestKeys(t *testing.T) {
	t.Parallel()
	n := newTestNode(t)
	n.must(t, "plans", "create", "gold", "--rate", "10/s")
	var secrets []string

	r := n.must(t, "keys", "create", "--app", "shop", "--plan", "gold")
	m := cliKeyPattern.FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("stdout is not the key alone on its line: %s", r)
	}
	id := m[1]
	secrets = append(secrets, strings.TrimSpace(r.stdout))
	if !strings.Contains(r.stderr, "Created key "+id+" for app shop on plan gold") || !strings.Contains(r.stderr, "only time the key is shown") {
		t.Errorf("stderr %q lacks the note", r.stderr)
	}

	t.Run("create -o json with services and expiry", func(t *testing.T) {
		r := n.must(t, "keys", "create", "--app", "blog", "--plan", "gold", "--service", "hello", "--service", "api", "--expires", "720h", "-o", "json")
		var k api.KeySecret
		decode(t, r.stdout, &k)
		if !cliKeyPattern.MatchString(k.Secret+"\n") || k.App != "blog" || len(k.Services) != 2 || k.Expires == nil ||
			k.Expires.Sub(time.Now()) < 719*time.Hour || k.Expires.Sub(time.Now()) > 721*time.Hour {
			t.Errorf("created %+v", k)
		}
		secrets = append(secrets, k.Secret)
		at := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
		decode(t, n.must(t, "keys", "create", "--app", "blog", "--plan", "gold", "--expires", at.Format(time.RFC3339), "-o", "json").stdout, &k)
		if k.Expires == nil || !k.Expires.Equal(at) {
			t.Errorf("expires %v, want %v", k.Expires, at)
		}
		secrets = append(secrets, k.Secret)
	})
	t.Run("ls", func(t *testing.T) {
		r := n.must(t, "keys", "ls")
		lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
		if len(lines) != 4 || !regexp.MustCompile(`^ID +APP +PLAN +PREFIX +STATE +CREATED +EXPIRES$`).MatchString(lines[0]) {
			t.Fatalf("want a header and 3 rows:\n%s", r.stdout)
		}
		if want := `^` + id + ` +shop +gold +mk_` + id + `_[0-9a-f]{4} +active +(just now|\d+s ago) +never$`; !regexp.MustCompile(want).MatchString(row(r.stdout, id)) {
			t.Errorf("row %q, want %s", row(r.stdout, id), want)
		}
		if !strings.Contains(r.stdout, "in 29d") || !strings.Contains(r.stdout, "in 47h") {
			t.Errorf("the expiries are not shown:\n%s", r.stdout)
		}
		var keys []api.Key
		decode(t, n.must(t, "keys", "ls", "--app", "shop", "-o", "json").stdout, &keys)
		if len(keys) != 1 || keys[0].ID != id {
			t.Errorf("shop's keys %+v", keys)
		}
	})
	t.Run("rotate", func(t *testing.T) {
		r := n.must(t, "keys", "rotate", id, "--grace", "1h")
		m := cliKeyPattern.FindStringSubmatch(r.stdout)
		if m == nil || m[1] != id || strings.TrimSpace(r.stdout) == secrets[0] {
			t.Fatalf("rotate did not print a new key of %s: %s", id, r)
		}
		if !strings.Contains(r.stderr, "the old key works for 1h0m0s more") || !strings.Contains(r.stderr, "only time the key is shown") {
			t.Errorf("stderr %q", r.stderr)
		}
		secrets = append(secrets, strings.TrimSpace(r.stdout))
		var k api.KeySecret
		decode(t, n.must(t, "keys", "rotate", id, "-o", "json").stdout, &k)
		if k.ID != id || k.Rotated == nil {
			t.Errorf("rotated %+v", k)
		}
		secrets = append(secrets, k.Secret)
	})
	t.Run("revoke", func(t *testing.T) {
		r := n.must(t, "keys", "revoke", id)
		if r.stdout != "Revoked key "+id+" of app shop\n" {
			t.Errorf("output %s", r)
		}
		if f := strings.Fields(row(n.must(t, "keys", "ls").stdout, id)); len(f) < 5 || f[4] != "revoked" {
			t.Errorf("row %v, want revoked", f)
		}
		n.fails(t, []string{"keys", "rotate", id}, "revoked and cannot be rotated", "Try: create a new key: mote keys create --app shop --plan gold")
	})
	t.Run("rm", func(t *testing.T) {
		if r := n.must(t, "keys", "rm", id); r.stdout != "Removed key "+id+"\n" {
			t.Errorf("output %s", r)
		}
		n.fails(t, []string{"keys", "rm", id}, "no API key with id "+id, "Try: list keys with: mote keys ls")
	})
	t.Run("errors", func(t *testing.T) {
		n.fails(t, []string{"keys", "create", "--app", "shop", "--plan", "ghost"}, "no plan named ghost", "Try: create it first, e.g.: mote plans create ghost")
		n.fails(t, []string{"keys", "create", "--plan", "gold"}, `required flag(s) "app" not set`)
		n.fails(t, []string{"keys", "create", "--app", "shop", "--plan", "gold", "--expires", "-1h"}, "not in the future")
		n.fails(t, []string{"keys", "create", "--app", "shop", "--plan", "gold", "--expires", "soon"}, "neither a duration")
		n.fails(t, []string{"keys", "create", "--app", "shop", "--plan", "gold", "--expires", "2020-01-01T00:00:00Z"}, "in the past")
		n.fails(t, []string{"keys", "create", "--app", "Shop", "--plan", "gold"}, "invalid app name")
		n.fails(t, []string{"keys", "rotate", "0123456789ab", "--grace", "1000h"}, "over the limit")
		// The key itself where its ID belongs: refused without repeating it.
		r := n.fails(t, []string{"keys", "revoke", secrets[1]}, "invalid API key ID", "not the key itself")
		if strings.Contains(r.stderr, secrets[1][16:]) {
			t.Errorf("the error repeats the key: %s", r.stderr)
		}
	})
	t.Run("the keys are shown nowhere else", func(t *testing.T) {
		out := n.must(t, "keys", "ls", "-o", "json").stdout + n.must(t, "keys", "ls").stdout
		for _, s := range secrets {
			if strings.Contains(out, s[16:]) {
				t.Errorf("a listing shows a key:\n%s", out)
			}
		}
	})
}

func TestParseExpires(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 500, time.UTC)
	tests := []struct {
		in, want, err string
	}{
		{"720h", "2026-12-27T12:00:00Z", ""},
		{"90m", "2026-11-27T13:30:00Z", ""},
		{"2027-01-02T15:04:05+01:00", "2027-01-02T14:04:05Z", ""},
		{"0s", "", "not in the future"},
		{"-1h", "", "not in the future"},
		{"30d", "", "neither a duration"},
		{"", "", "neither a duration"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseExpires(tt.in, now)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || got.UTC().Format(time.RFC3339) != tt.want {
				t.Errorf("got %v (%v), want %s", got, err, tt.want)
			}
		})
	}
}

// FuzzParseExpires: --expires never panics, and what it accepts is after
// now.
func FuzzParseExpires(f *testing.F) {
	for _, s := range []string{"720h", "-1h", "0s", "2027-01-02T15:04:05Z", "2020-01-01T00:00:00+01:00", "30d", "", "1e9h"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseExpires(s, now)
		if err != nil {
			if !strings.Contains(err.Error(), "Try: ") {
				t.Fatalf("error %v gives no advice", err)
			}
			return
		}
		if _, derr := time.ParseDuration(s); derr == nil && !got.After(now) {
			t.Fatalf("%q: %v is not after now", s, got)
		}
	})
}
