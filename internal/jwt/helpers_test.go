package jwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"sync"
	"testing"
	"time"
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

// now is the fixed clock of the Verify tests.
var now = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return now }

// signer signs a JWS signing input.
type signer func(tb testing.TB, input []byte) []byte

func hsSigner(secret string) signer {
	return func(_ testing.TB, input []byte) []byte {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(input)
		return mac.Sum(nil)
	}
}

func rsSigner(priv *rsa.PrivateKey) signer {
	return func(tb testing.TB, input []byte) []byte {
		sum := sha256.Sum256(input)
		sig, err := rsa.SignPKCS1v15(nil, priv, crypto.SHA256, sum[:])
		if err != nil {
			tb.Fatal(err)
		}
		return sig
	}
}

// esSigner signs in JWS's r||s form.
func esSigner(priv *ecdsa.PrivateKey) signer {
	return func(tb testing.TB, input []byte) []byte {
		sum := sha256.Sum256(input)
		r, s, err := ecdsa.Sign(rand.Reader, priv, sum[:])
		if err != nil {
			tb.Fatal(err)
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return sig
	}
}

// esASN1Signer signs in ASN.1 DER, the form JWS does not use.
func esASN1Signer(priv *ecdsa.PrivateKey) signer {
	return func(tb testing.TB, input []byte) []byte {
		sum := sha256.Sum256(input)
		sig, err := ecdsa.SignASN1(rand.Reader, priv, sum[:])
		if err != nil {
			tb.Fatal(err)
		}
		return sig
	}
}

// rawToken builds a token from header and payload JSON text.
func rawToken(tb testing.TB, header, payload string, sign signer) string {
	tb.Helper()
	input := b64([]byte(header)) + "." + b64([]byte(payload))
	var sig []byte
	if sign != nil {
		sig = sign(tb, []byte(input))
	}
	return input + "." + b64(sig)
}

// makeToken builds a token from header and claims maps.
func makeToken(tb testing.TB, header, claims map[string]any, sign signer) string {
	tb.Helper()
	return rawToken(tb, jwkJSON(tb, header), jwkJSON(tb, claims), sign)
}

// hdr is a header with alg and, when non-empty, kid.
func hdr(alg, kid string) map[string]any {
	h := map[string]any{"alg": alg, "typ": "JWT"}
	if kid != "" {
		h["kid"] = kid
	}
	return h
}

// del, as a claimsAt value, removes the claim.
type del struct{}

// claimsAt are valid claims for now: expiring in an hour, issued now.
func claimsAt(extra ...any) map[string]any {
	c := map[string]any{
		"iss": "https://auth.example.com", "aud": "hello", "sub": "user-1",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	for i := 0; i+1 < len(extra); i += 2 {
		if _, ok := extra[i+1].(del); ok {
			delete(c, extra[i].(string))
		} else {
			c[extra[i].(string)] = extra[i+1]
		}
	}
	return c
}

func mustEC(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}
