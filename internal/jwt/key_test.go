package jwt

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestParseKey(t *testing.T) {
	rsaKey, ecKey := testKeys(t)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	rsaPEM := pkixPEM(t, &rsaKey.PublicKey)
	ecPEM := pkixPEM(t, &ecKey.PublicKey)
	with := func(m map[string]any, k string, v any) map[string]any {
		m[k] = v
		return m
	}
	privRSAJWK := rsaJWK(&rsaKey.PublicKey)
	privRSAJWK["d"] = b64(rsaKey.D.Bytes())
	p384JWK := ecJWK(t, &ecKey.PublicKey)
	p384JWK["crv"] = "P-384"
	badPoint := ecJWK(t, &ecKey.PublicKey)
	badPoint["y"] = b64(make([]byte, 32))

	for _, tc := range []struct {
		name, id, alg, material string
		want                    string // "" = ok, else a substring of the error
	}{
		{"hs256", "k1", HS256, testSecret, ""},
		{"hs256 exactly 32", "k1", HS256, strings.Repeat("x", 32), ""},
		{"hs256 too short", "k1", HS256, strings.Repeat("x", 31), "31 bytes, shorter than 32"},
		{"hs256 empty", "k1", HS256, "", "0 bytes"},
		{"hs256 given a PEM public key", "k1", HS256, rsaPEM, "got a PEM block"},
		{"hs256 given a JWK", "k1", HS256, jwkJSON(t, rsaJWK(&rsaKey.PublicKey)), "got a JWK"},
		{"rs256 pkix", "k1", RS256, rsaPEM, ""},
		{"rs256 pkcs1", "k1", RS256, pemOf(t, "RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey)), ""},
		{"rs256 surrounded by whitespace", "k1", RS256, "\n  " + rsaPEM + "\n\n", ""},
		{"rs256 jwk", "k1", RS256, jwkJSON(t, rsaJWK(&rsaKey.PublicKey)), ""},
		{"rs256 jwk alg and use", "k1", RS256, jwkJSON(t, with(with(rsaJWK(&rsaKey.PublicKey), "alg", "RS256"), "use", "sig")), ""},
		{"rs256 jwk other alg", "k1", RS256, jwkJSON(t, with(rsaJWK(&rsaKey.PublicKey), "alg", "RS512")), `alg is "RS512"`},
		{"rs256 jwk use enc", "k1", RS256, jwkJSON(t, with(rsaJWK(&rsaKey.PublicKey), "use", "enc")), `use is "enc"`},
		{"rs256 jwk private", "k1", RS256, jwkJSON(t, privRSAJWK), "private JWK"},
		{"rs256 jwk duplicate n", "k1", RS256, `{"kty":"RSA","n":"AQAB","e":"AQAB","n":"AQAB"}`, "appears twice"},
		{"rs256 jwk padded", "k1", RS256, jwkJSON(t, with(rsaJWK(&rsaKey.PublicKey), "e", "AQAB=")), "unpadded base64url"},
		{"rs256 jwk no n", "k1", RS256, `{"kty":"RSA","e":"AQAB"}`, "no n"},
		{"rs256 small", "k1", RS256, pkixPEM(t, &small.PublicKey), "1024 bits, fewer than 2048"},
		{"rs256 small jwk", "k1", RS256, jwkJSON(t, rsaJWK(&small.PublicKey)), "1024 bits"},
		{"rs256 even exponent", "k1", RS256, jwkJSON(t, with(rsaJWK(&rsaKey.PublicKey), "e", "Ag")), "exponent 2"},
		{"rs256 given an EC key", "k1", RS256, ecPEM, "needs an RSA public key, got an EC key"},
		{"rs256 private pkcs1", "k1", RS256, pemOf(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)), "private key"},
		{"rs256 certificate", "k1", RS256, pemOf(t, "CERTIFICATE", []byte{1}), "certificate"},
		{"rs256 two blocks", "k1", RS256, rsaPEM + rsaPEM, "data after"},
		{"rs256 garbage", "k1", RS256, "hello", "neither a PEM block nor a JWK"},
		{"rs256 empty", "k1", RS256, "", "got nothing"},
		{"rs256 ed25519", "k1", RS256, pkixPEM(t, edPub), "Ed25519"},
		{"es256 pkix", "k1", ES256, ecPEM, ""},
		{"es256 jwk", "k1", ES256, jwkJSON(t, ecJWK(t, &ecKey.PublicKey)), ""},
		{"es256 wrong curve", "k1", ES256, pkixPEM(t, &p384.PublicKey), "needs curve P-256, got P-384"},
		{"es256 jwk wrong curve", "k1", ES256, jwkJSON(t, p384JWK), `curve is "P-384"`},
		{"es256 jwk point off the curve", "k1", ES256, jwkJSON(t, badPoint), "JWK x, y"},
		{"es256 jwk short x", "k1", ES256, jwkJSON(t, with(ecJWK(t, &ecKey.PublicKey), "x", b64(make([]byte, 31)))), "31 bytes"},
		{"es256 jwk private", "k1", ES256, jwkJSON(t, with(ecJWK(t, &ecKey.PublicKey), "d", "AAAA")), "private JWK"},
		{"es256 pkcs8 private", "k1", ES256, pemOf(t, "PRIVATE KEY", pkcs8), `private key (PEM "PRIVATE KEY")`},
		{"es256 ec private", "k1", ES256, pemOf(t, "EC PRIVATE KEY", ecDER), "private key"},
		{"es256 given an RSA key", "k1", ES256, rsaPEM, "needs an EC P-256 public key, got an RSA key"},
		{"es256 oct jwk", "k1", ES256, `{"kty":"oct","k":"AAAA"}`, "symmetric JWK"},
		{"alg none", "k1", "none", testSecret, `alg "none" is not supported`},
		{"alg lowercase", "k1", "hs256", testSecret, "not supported"},
		{"alg empty", "k1", "", testSecret, "alg is empty"},
		{"id empty", "", HS256, testSecret, "key id is empty"},
		{"id control", "a\nb", HS256, testSecret, "control characters"},
		{"id long", strings.Repeat("k", MaxKeyIDLen+1), HS256, testSecret, "more than 256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParseKey(tc.id, tc.alg, tc.material)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("ParseKey: %v", err)
				}
				if k.ID != tc.id || k.Alg != tc.alg {
					t.Fatalf("got %s", k)
				}
				if tc.alg != HS256 && k.PublicPEM() == "" {
					t.Fatal("PublicPEM is empty")
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseKey succeeded, want error containing %q", tc.want)
			}
			if !errors.Is(err, ErrKey) {
				t.Errorf("error %v does not wrap ErrKey", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
			if tc.alg == HS256 && len(tc.material) > 8 && strings.Contains(err.Error(), tc.material) {
				t.Errorf("error echoes the secret: %v", err)
			}
		})
	}
}

func TestKeyFormatHidesSecret(t *testing.T) {
	k := mustKey(t, "k1", HS256, testSecret)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%d", "%q"} {
		for _, v := range []any{k, *k} {
			if got := fmt.Sprintf(verb, v); strings.Contains(got, "0123") || strings.Contains(got, "3031") {
				t.Errorf("Sprintf(%q) = %q shows the secret", verb, got)
			}
		}
	}
}

func TestPublicPEMRoundTrip(t *testing.T) {
	rsaKey, ecKey := testKeys(t)
	for _, tc := range []struct {
		alg, material string
	}{
		{RS256, jwkJSON(t, rsaJWK(&rsaKey.PublicKey))},
		{ES256, jwkJSON(t, ecJWK(t, &ecKey.PublicKey))},
	} {
		k := mustKey(t, "k", tc.alg, tc.material)
		k2 := mustKey(t, "k", tc.alg, k.PublicPEM())
		if k2.PublicPEM() != k.PublicPEM() {
			t.Errorf("%s: PEM does not round-trip", tc.alg)
		}
	}
	if mustKey(t, "k", HS256, testSecret).PublicPEM() != "" {
		t.Error("HS256 PublicPEM is not empty")
	}
}

func TestKeySet(t *testing.T) {
	a := mustKey(t, "a", HS256, testSecret)
	b := mustKey(t, "b", HS256, testSecret)
	one := NewKeySet(a, nil)
	if k, ok := one.Lookup(""); !ok || k != a || one.Len() != 1 {
		t.Errorf("one-key set: Lookup(\"\") = %v, %v; Len %d", k, ok, one.Len())
	}
	two := NewKeySet(a, b)
	if _, ok := two.Lookup(""); ok {
		t.Error("two-key set: Lookup(\"\") found a key")
	}
	if k, ok := two.Lookup("b"); !ok || k != b {
		t.Error("Lookup(b) failed")
	}
	if _, ok := two.Lookup("c"); ok {
		t.Error("Lookup(c) found a key")
	}
	if NewKeySet().Len() != 0 {
		t.Error("empty set has keys")
	}
}
