package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mote-run/mote/api"
)

// jwtSecret is an HS256 secret the tests add; no output may show it.
const jwtSecret = "cli-hs256-s3cr3t-0123456789abcdef-hidden"

func TestJWT(t *testing.T) {
	t.Parallel()
	n := newTestNode(t)
	dir := t.TempDir()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	pemFile := filepath.Join(dir, "public.pem")
	writeFile(t, pemFile, []byte(pubPEM))
	secretFile := filepath.Join(dir, "hs256.secret")
	writeFile(t, secretFile, []byte(jwtSecret+"\n"))
	var outputs []result

	t.Run("add", func(t *testing.T) {
		r := n.must(t, "jwt", "add", "auth-2026", "--alg", "ES256", "--pem", pemFile)
		if r.stdout != "Added JWT key auth-2026 (ES256)\n" {
			t.Errorf("output %s", r)
		}
		r = n.must(t, "jwt", "add", "legacy", "--alg", "hs256", "--secret-file", secretFile)
		if r.stdout != "Added JWT key legacy (HS256)\n" {
			t.Errorf("output %s", r)
		}
		outputs = append(outputs, r, n.mote(t, jwtSecret, "jwt", "add", "piped", "--alg", "HS256", "--secret-file", "-"))
		if outputs[1].code != 0 {
			t.Errorf("from stdin: %s", outputs[1])
		}
	})
	t.Run("ls", func(t *testing.T) {
		r := n.must(t, "jwt", "ls")
		lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
		if len(lines) != 4 || !regexp.MustCompile(`^ID +ALG +CREATED$`).MatchString(lines[0]) ||
			!regexp.MustCompile(`^auth-2026 +ES256 +(just now|\d+s ago)$`).MatchString(row(r.stdout, "auth-2026")) ||
			!strings.HasPrefix(row(r.stdout, "legacy"), "legacy ") {
			t.Errorf("table:\n%s", r.stdout)
		}
		j := n.must(t, "jwt", "ls", "-o", "json")
		var keys []api.JWTKey
		decode(t, j.stdout, &keys)
		if len(keys) != 3 || keys[0].ID != "auth-2026" || keys[0].PEM != pubPEM || keys[1].PEM != "" {
			t.Errorf("json %+v", keys)
		}
		outputs = append(outputs, r, j)
	})
	t.Run("errors", func(t *testing.T) {
		outputs = append(outputs,
			n.fails(t, []string{"jwt", "add", "k", "--alg", "HS256", "--pem", pemFile}, "--pem is for RS256 and ES256"),
			n.fails(t, []string{"jwt", "add", "k", "--alg", "RS256", "--secret-file", secretFile}, "--secret-file is for HS256"),
			n.fails(t, []string{"jwt", "add", "k", "--alg", "HS256"}, "needs its shared secret", "--secret-file FILE"),
			n.fails(t, []string{"jwt", "add", "k", "--alg", "ES256"}, "needs a public key"),
			n.fails(t, []string{"jwt", "add", "k", "--alg", "none", "--pem", pemFile}, `--alg "none"`),
			n.fails(t, []string{"jwt", "add", "k", "--pem", pemFile}, `required flag(s) "alg" not set`),
			n.fails(t, []string{"jwt", "add", "k", "--alg", "ES256", "--pem", secretFile}, "pem:"),
			n.fails(t, []string{"jwt", "add", "k", "--alg", "HS256", "--secret-file", filepath.Join(dir, "missing")}, "--secret-file:", "missing"),
			n.fails(t, []string{"jwt", "rm", "ghost"}, "no JWT key with id", "Try: list JWT keys with: mote jwt ls"),
		)
		short := n.mote(t, "short-"+jwtSecret[:10], "jwt", "add", "k", "--alg", "HS256", "--secret-file", "-")
		if short.code != 1 || !strings.Contains(short.stderr, "secret:") {
			t.Errorf("a short secret: %s", short)
		}
		outputs = append(outputs, short)
	})
	t.Run("rm", func(t *testing.T) {
		r := n.must(t, "jwt", "rm", "legacy", "piped")
		if r.stdout != "Removed JWT key legacy\nRemoved JWT key piped\n" {
			t.Errorf("output %s", r)
		}
		if r := n.must(t, "jwt", "ls"); row(r.stdout, "legacy") != "" || row(r.stdout, "auth-2026") == "" {
			t.Errorf("after rm:\n%s", r.stdout)
		}
	})
	t.Run("the secret is shown nowhere", func(t *testing.T) {
		for _, r := range outputs {
			if strings.Contains(r.stdout+r.stderr, jwtSecret[:20]) {
				t.Errorf("output shows the secret: %s", r)
			}
		}
	})
}
