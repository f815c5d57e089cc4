package jwt

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"sync"
	"testing"
)

// Test keys, generated once per test binary (RSA 2048 takes a while).
var (
	keysOnce sync.Once
	rsaPriv  *rsa.PrivateKey
	ecPriv   *ecdsa.PrivateKey
)

func testKeys(tb testing.TB) (*rsa.PrivateKey, *ecdsa.PrivateKey) {
	tb.Helper()
	keysOnce.Do(func() {
		var err error
		if rsaPriv, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
		if ecPriv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
	})
	return rsaPriv, ecPriv
}

func pemOf(tb testing.TB, typ string, der []byte) string {
	tb.Helper()
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func pkixPEM(tb testing.TB, pub any) string {
	tb.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		tb.Fatal(err)
	}
	return pemOf(tb, "PUBLIC KEY", der)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func jwkJSON(tb testing.TB, m map[string]any) string {
	tb.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

func rsaJWK(pub *rsa.PublicKey) map[string]any {
	return map[string]any{"kty": "RSA", "n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes())}
}

func ecJWK(tb testing.TB, pub *ecdsa.PublicKey) map[string]any {
	tb.Helper()
	raw, err := pub.Bytes()
	if err != nil {
		tb.Fatal(err)
	}
	return map[string]any{"kty": "EC", "crv": "P-256", "x": b64(raw[1:33]), "y": b64(raw[33:])}
}

const testSecret = "0123456789abcdef0123456789abcdef-test-secret"

// mustKey is ParseKey that fails the test on error.
func mustKey(tb testing.TB, id, alg, material string) *Key {
	tb.Helper()
	k, err := ParseKey(id, alg, material)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}
