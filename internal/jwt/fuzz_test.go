package jwt

import (
	"errors"
	"reflect"
	"testing"
)

var sentinels = []error{ErrMalformed, ErrAlgorithm, ErrUnknownKey, ErrSignature, ErrExpired, ErrNotYetValid, ErrIssuer, ErrAudience, ErrKey}

// checkResult is what every Verify result must satisfy.
func checkResult(t *testing.T, claims Claims, err error) {
	t.Helper()
	if err != nil {
		if claims != nil {
			t.Fatalf("claims with error %v", err)
		}
		for _, s := range sentinels {
			if errors.Is(err, s) {
				return
			}
		}
		t.Fatalf("error %v wraps no sentinel", err)
	}
	if _, ok := claims["exp"]; !ok {
		t.Fatalf("accepted claims %v without exp", claims)
	}
	for name := range claims {
		if s, ok := claims.String(name); ok && !headerSafe(s) {
			t.Fatalf("String(%q) = %q is not header-safe", name, s)
		}
	}
}

// sameClass reports whether two Verify errors are both nil or wrap the
// same first sentinel.
func sameClass(a, b error) bool {
	for _, s := range sentinels {
		if errors.Is(a, s) != errors.Is(b, s) {
			return false
		}
	}
	return (a == nil) == (b == nil)
}

func FuzzVerify(f *testing.F) {
	rsaKey, ecKey := testKeys(f)
	keys := NewKeySet(
		mustKey(f, "hs", HS256, testSecret),
		mustKey(f, "rs", RS256, pkixPEM(f, &rsaKey.PublicKey)),
		mustKey(f, "es", ES256, pkixPEM(f, &ecKey.PublicKey)),
	)
	opts := Options{Issuer: "https://auth.example.com", Audience: "hello", Now: fixedNow}
	for _, tok := range []string{
		makeToken(f, hdr(HS256, "hs"), claimsAt(), hsSigner(testSecret)),
		makeToken(f, hdr(RS256, "rs"), claimsAt(), rsSigner(rsaKey)),
		makeToken(f, hdr(ES256, "es"), claimsAt("aud", []string{"x", "hello"}), esSigner(ecKey)),
		rawToken(f, `{"alg":"none"}`, `{"exp":1}`, nil),
		rawToken(f, `{"alg":"HS256","crit":["b64"]}`, `{}`, hsSigner(testSecret)),
		"a.b.c", "..", "a.b.c.d.e", "",
	} {
		f.Add(tok)
	}
	c := NewCache(16)
	f.Fuzz(func(t *testing.T, token string) {
		claims, err := Verify(token, keys, opts)
		checkResult(t, claims, err)
		cached, cerr := c.Verify(token, keys, opts)
		checkResult(t, cached, cerr)
		if !sameClass(err, cerr) {
			t.Fatalf("Verify: %v; Cache.Verify: %v", err, cerr)
		}
	})
}

// FuzzVerifySigned signs whatever header and payload it is given, so the
// JSON, header and claim checks behind the signature get fuzzed too.
func FuzzVerifySigned(f *testing.F) {
	keys := NewKeySet(mustKey(f, "hs", HS256, testSecret))
	opts := Options{Issuer: "https://auth.example.com", Audience: "hello", Now: fixedNow}
	for _, tc := range [][2]string{
		{jwkJSON(f, hdr(HS256, "hs")), jwkJSON(f, claimsAt())},
		{`{"alg":"HS256"}`, `{"exp":1e10,"aud":["hello"],"iss":"https://auth.example.com","nbf":1.5}`},
		{`{"alg":"HS256","typ":"at+JWT","cty":"x"}`, `{"exp":9999999999.999,"sub":{"a":[1,"\n"]},"x":"\u2028"}`},
		{`{"alg":"HS256","alg":"HS256"}`, `{"exp":1,"exp":2}`},
		{`{"alg":"HS256"}  `, ` {"exp":253402300799} `},
	} {
		f.Add(tc[0], tc[1])
	}
	f.Fuzz(func(t *testing.T, header, payload string) {
		tok := rawToken(t, header, payload, hsSigner(testSecret))
		claims, err := Verify(tok, keys, opts)
		checkResult(t, claims, err)
		if err == nil {
			if _, err := parseHeaderMap(header); err != nil {
				t.Fatalf("accepted a token whose header does not parse: %v", err)
			}
		}
	})
}

func parseHeaderMap(header string) (map[string]any, error) { return parseObject([]byte(header)) }

func FuzzParseKey(f *testing.F) {
	rsaKey, ecKey := testKeys(f)
	f.Add(RS256, pkixPEM(f, &rsaKey.PublicKey))
	f.Add(ES256, pkixPEM(f, &ecKey.PublicKey))
	f.Add(ES256, jwkJSON(f, ecJWK(f, &ecKey.PublicKey)))
	f.Add(RS256, jwkJSON(f, rsaJWK(&rsaKey.PublicKey)))
	f.Add(HS256, testSecret)
	f.Add(RS256, "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
	f.Fuzz(func(t *testing.T, alg, material string) {
		k, err := ParseKey("k", alg, material)
		if err != nil {
			if k != nil || !errors.Is(err, ErrKey) {
				t.Fatalf("ParseKey: %v, %v", k, err)
			}
			return
		}
		if k.Alg != alg {
			t.Fatalf("Alg %q, want %q", k.Alg, alg)
		}
		switch alg {
		case HS256:
			if len(material) < MinSecretLen || k.PublicPEM() != "" {
				t.Fatalf("HS256 key from %d bytes", len(material))
			}
		case RS256, ES256:
			k2, err := ParseKey("k", alg, k.PublicPEM())
			if err != nil || k2.PublicPEM() != k.PublicPEM() {
				t.Fatalf("PublicPEM does not round-trip: %v", err)
			}
		default:
			t.Fatalf("accepted alg %q", alg)
		}
	})
}

// FuzzParseObject checks the fast parser (decode, then count members)
// against the member-by-member one.
func FuzzParseObject(f *testing.F) {
	for _, s := range []string{
		`{}`, ` {"a":1} `, `{"a":1,"a":2}`, `{"a":{"b":1,"b":2},"c":[1,2,{"d":","}]}`,
		`{"a\u0062":1,"ab":2}`, `{"\ud800":1,"\udfff":2}`, `{"a":"\",\""}`, `null`, `[{}]`, `{"a":1}x`, "{}\u00a0",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		fast, ferr := parseObject(raw)
		slow, serr := parseObjectSlow(raw)
		if (ferr == nil) != (serr == nil) {
			t.Fatalf("parseObject: %v; parseObjectSlow: %v", ferr, serr)
		}
		if ferr == nil && !reflect.DeepEqual(fast, slow) {
			t.Fatalf("parseObject: %v; parseObjectSlow: %v", fast, slow)
		}
	})
}
