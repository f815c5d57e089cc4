package jwt

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestVerify(t *testing.T) {
	rsaKey, ecKey := testKeys(t)
	rsaPEM := pkixPEM(t, &rsaKey.PublicKey)
	hs := mustKey(t, "hs", HS256, testSecret)
	rs := mustKey(t, "rs", RS256, rsaPEM)
	es := mustKey(t, "es", ES256, pkixPEM(t, &ecKey.PublicKey))
	all := NewKeySet(hs, rs, es)
	hsSign, rsSign, esSign := hsSigner(testSecret), rsSigner(rsaKey), esSigner(ecKey)
	opts := Options{Issuer: "https://auth.example.com", Audience: "hello", Now: fixedNow}
	valid := makeToken(t, hdr(HS256, "hs"), claimsAt(), hsSign)
	h, p, s := splitToken(valid)

	// An RS256 key whose Alg was changed after ParseKey: must not become an
	// HMAC key with an empty secret.
	mutated := mustKey(t, "mut", RS256, rsaPEM)
	mutated.Alg = HS256

	huge := makeToken(t, hdr(HS256, "hs"), claimsAt("pad", strings.Repeat("x", MaxTokenLen)), hsSign)
	at := func(d time.Duration) int64 { return now.Add(d).Unix() }

	for _, tc := range []struct {
		name  string
		token string
		keys  KeySet
		opts  *Options // nil = opts
		err   error    // nil = valid
		msg   string   // substring of the error
	}{
		{name: "hs256", token: valid},
		{name: "rs256", token: makeToken(t, hdr(RS256, "rs"), claimsAt(), rsSign)},
		{name: "es256", token: makeToken(t, hdr(ES256, "es"), claimsAt(), esSign)},
		{name: "no kid, one key", token: makeToken(t, hdr(ES256, ""), claimsAt(), esSign), keys: NewKeySet(es)},
		{name: "no typ", token: makeToken(t, map[string]any{"alg": "HS256", "kid": "hs"}, claimsAt(), hsSign)},
		{name: "typ at+jwt", token: makeToken(t, map[string]any{"alg": "HS256", "kid": "hs", "typ": "at+jwt"}, claimsAt(), hsSign)},
		{name: "typ lowercase jwt", token: makeToken(t, map[string]any{"alg": "HS256", "kid": "hs", "typ": "jwt"}, claimsAt(), hsSign)},
		{name: "typ application/jwt", token: makeToken(t, map[string]any{"alg": "HS256", "kid": "hs", "typ": "application/JWT"}, claimsAt(), hsSign)},
		{name: "fractional exp", token: makeToken(t, hdr(HS256, "hs"), claimsAt("exp", float64(at(time.Hour))+0.5), hsSign)},
		{name: "no checks asked", token: makeToken(t, hdr(HS256, "hs"), claimsAt("iss", del{}, "aud", del{}), hsSign), opts: &Options{Now: fixedNow}},

		// Time.
		{name: "expired", token: makeToken(t, hdr(HS256, "hs"), claimsAt("exp", at(-time.Second)), hsSign), err: ErrExpired,
			msg: "jwt: token expired at 2026-11-27T09:59:59Z (leeway 0s)"},
		{name: "expires now", token: makeToken(t, hdr(HS256, "hs"), claimsAt("exp", at(0)), hsSign), err: ErrExpired},
		{name: "no exp", token: makeToken(t, hdr(HS256, "hs"), claimsAt("exp", del{}), hsSign), err: ErrExpired, msg: "no exp"},
		{name: "exp leeway edge, in", token: makeToken(t, hdr(HS256, "hs"), claimsAt("exp", at(-29*time.Second)), hsSign),
			opts: &Options{Now: fixedNow, Leeway: 30 * time.Second}},
		{name: "exp leeway edge, out", token: makeToken(t, hdr(HS256, "hs"), claimsAt("exp", at(-30*time.Second)), hsSign),
			opts: &Options{Now: fixedNow, Leeway: 30 * time.Second}, err: ErrExpired, msg: "(leeway 30s)"},
		{name: "negative leeway is zero", token: makeToken(t, hdr(HS256, "hs"), claimsAt("exp", at(time.Second)), hsSign),
			opts: &Options{Now: fixedNow, Leeway: -time.Hour}},
		{name: "not yet valid", token: makeToken(t, hdr(HS256, "hs"), claimsAt("nbf", at(time.Second)), hsSign), err: ErrNotYetValid,
			msg: "not yet valid before 2026-11-27T10:00:01Z"},
		{name: "nbf now", token: makeToken(t, hdr(HS256, "hs"), claimsAt("nbf", at(0)), hsSign)},
		{name: "nbf leeway edge, in", token: makeToken(t, hdr(HS256, "hs"), claimsAt("nbf", at(30*time.Second)), hsSign),
			opts: &Options{Now: fixedNow, Leeway: 30 * time.Second}},
		{name: "nbf leeway edge, out", token: makeToken(t, hdr(HS256, "hs"), claimsAt("nbf", at(31*time.Second)), hsSign),
			opts: &Options{Now: fixedNow, Leeway: 30 * time.Second}, err: ErrNotYetValid},
		{name: "iat in the future", token: makeToken(t, hdr(HS256, "hs"), claimsAt("iat", at(time.Minute)), hsSign), err: ErrNotYetValid, msg: "issued in the future"},
		{name: "iat in the future within leeway", token: makeToken(t, hdr(HS256, "hs"), claimsAt("iat", at(time.Minute)), hsSign),
			opts: &Options{Now: fixedNow, Leeway: time.Minute}},
		{name: "exp a string", token: makeToken(t, hdr(HS256, "hs"), claimsAt("exp", "2027-01-01"), hsSign), err: ErrMalformed, msg: "exp is not a number"},
		{name: "exp negative", token: makeToken(t, hdr(HS256, "hs"), claimsAt("exp", -1), hsSign), err: ErrMalformed},
		{name: "exp past year 9999", token: makeToken(t, hdr(HS256, "hs"), claimsAt("exp", 1e12), hsSign), err: ErrMalformed},
		{name: "exp huge", token: rawToken(t, `{"alg":"HS256","kid":"hs"}`, `{"exp":1e400}`, hsSign), err: ErrMalformed},

		// Issuer and audience.
		{name: "wrong aud", token: makeToken(t, hdr(HS256, "hs"), claimsAt("aud", "other"), hsSign), err: ErrAudience, msg: `aud is "other", want "hello"`},
		{name: "aud array", token: makeToken(t, hdr(HS256, "hs"), claimsAt("aud", []string{"a", "hello"}), hsSign)},
		{name: "aud array without it", token: makeToken(t, hdr(HS256, "hs"), claimsAt("aud", []string{"a", "b"}), hsSign), err: ErrAudience},
		{name: "aud empty array", token: makeToken(t, hdr(HS256, "hs"), claimsAt("aud", []string{}), hsSign), err: ErrAudience},
		{name: "no aud", token: makeToken(t, hdr(HS256, "hs"), claimsAt("aud", del{}), hsSign), err: ErrAudience, msg: "no aud"},
		{name: "aud a number", token: makeToken(t, hdr(HS256, "hs"), claimsAt("aud", 5), hsSign), err: ErrMalformed},
		{name: "aud array with a number", token: makeToken(t, hdr(HS256, "hs"), claimsAt("aud", []any{"hello", 5}), hsSign), err: ErrMalformed},
		{name: "aud null", token: makeToken(t, hdr(HS256, "hs"), claimsAt("aud", nil), hsSign), err: ErrMalformed},
		{name: "wrong iss", token: makeToken(t, hdr(HS256, "hs"), claimsAt("iss", "https://evil.example.com"), hsSign), err: ErrIssuer, msg: `iss is "https://evil.example.com"`},
		{name: "iss differs in case", token: makeToken(t, hdr(HS256, "hs"), claimsAt("iss", "https://AUTH.example.com"), hsSign), err: ErrIssuer},
		{name: "no iss", token: makeToken(t, hdr(HS256, "hs"), claimsAt("iss", del{}), hsSign), err: ErrIssuer, msg: "no iss"},
		{name: "sub a number", token: makeToken(t, hdr(HS256, "hs"), claimsAt("sub", 7), hsSign), err: ErrMalformed},

		// Algorithms and keys.
		{name: "alg none, empty signature", token: rawToken(t, `{"alg":"none","typ":"JWT"}`, jwkJSON(t, claimsAt()), nil), err: ErrAlgorithm, msg: `alg "none"`},
		{name: "alg none with kid", token: rawToken(t, `{"alg":"none","kid":"hs"}`, jwkJSON(t, claimsAt()), nil), err: ErrAlgorithm},
		{name: "alg None", token: rawToken(t, `{"alg":"None"}`, jwkJSON(t, claimsAt()), nil), err: ErrAlgorithm},
		{name: "alg HS512", token: makeToken(t, hdr("HS512", "hs"), claimsAt(), hsSign), err: ErrAlgorithm, msg: `alg "HS512" not supported`},
		{name: "alg lowercase", token: makeToken(t, hdr("hs256", "hs"), claimsAt(), hsSign), err: ErrAlgorithm},
		{name: "alg missing", token: makeToken(t, map[string]any{"kid": "hs"}, claimsAt(), hsSign), err: ErrMalformed, msg: "no alg"},
		{name: "alg a number", token: makeToken(t, map[string]any{"alg": 256, "kid": "hs"}, claimsAt(), hsSign), err: ErrMalformed},
		{name: "alg confusion: RS256 public key as HS256 secret", token: makeToken(t, hdr(HS256, "rs"), claimsAt(), hsSigner(rsaPEM)), err: ErrAlgorithm,
			msg: `token alg HS256 but key "rs" is "RS256"`},
		{name: "alg confusion, no kid", token: makeToken(t, hdr(HS256, ""), claimsAt(), hsSigner(rsaPEM)), keys: NewKeySet(rs), err: ErrAlgorithm},
		{name: "ES256 token, RS256 key", token: makeToken(t, hdr(ES256, "rs"), claimsAt(), esSign), err: ErrAlgorithm},
		{name: "key Alg changed after ParseKey", token: makeToken(t, hdr(HS256, "mut"), claimsAt(), hsSigner("")), keys: NewKeySet(mutated), err: ErrKey},
		{name: "zero Key", token: makeToken(t, hdr(HS256, "z"), claimsAt(), hsSigner("")), keys: NewKeySet(&Key{ID: "z", Alg: HS256}), err: ErrKey},
		{name: "kid unknown", token: makeToken(t, hdr(HS256, "nope"), claimsAt(), hsSign), err: ErrUnknownKey, msg: `no key with kid "nope"`},
		{name: "no kid, several keys", token: makeToken(t, hdr(HS256, ""), claimsAt(), hsSign), err: ErrUnknownKey, msg: "3 keys"},
		{name: "no keys", token: valid, keys: NewKeySet(), err: ErrUnknownKey},
		{name: "nil key set", token: valid, keys: nilKeys{}, err: ErrUnknownKey},
		{name: "kid empty", token: rawToken(t, `{"alg":"HS256","kid":""}`, jwkJSON(t, claimsAt()), hsSign), err: ErrMalformed},
		{name: "kid a number", token: rawToken(t, `{"alg":"HS256","kid":1}`, jwkJSON(t, claimsAt()), hsSign), err: ErrMalformed},

		// Signatures.
		{name: "tampered payload hs256", token: h + "." + b64([]byte(jwkJSON(t, claimsAt("sub", "admin")))) + "." + s, err: ErrSignature},
		{name: "tampered payload rs256", token: tamper(t, makeToken(t, hdr(RS256, "rs"), claimsAt(), rsSign)), err: ErrSignature},
		{name: "tampered payload es256", token: tamper(t, makeToken(t, hdr(ES256, "es"), claimsAt(), esSign)), err: ErrSignature},
		{name: "wrong secret", token: makeToken(t, hdr(HS256, "hs"), claimsAt(), hsSigner(testSecret+"!")), err: ErrSignature},
		{name: "es256 ASN.1 signature", token: makeToken(t, hdr(ES256, "es"), claimsAt(), esASN1Signer(ecKey)), err: ErrSignature, msg: "not ASN.1"},
		{name: "hs256 short signature", token: h + "." + p + "." + s[:20], err: ErrSignature, msg: "want 32"},
		{name: "empty signature", token: h + "." + p + ".", err: ErrSignature},
		{name: "es256 zero signature", token: makeToken(t, hdr(ES256, "es"), claimsAt(), func(testing.TB, []byte) []byte { return make([]byte, 64) }), err: ErrSignature},
		{name: "signature with non-zero trailing bits", token: h + "." + p + "." + flipTrailingBits(s), err: ErrMalformed},

		// Encoding and structure.
		{name: "bad base64", token: h + "." + p[:5] + "*" + p[6:] + "." + s, err: ErrMalformed, msg: "outside base64url"},
		{name: "standard base64 alphabet", token: h + "." + strings.NewReplacer("-", "+", "_", "/").Replace(p) + "+/." + s, err: ErrMalformed},
		{name: "padding", token: h + "." + p + "==." + s, err: ErrMalformed, msg: "padded"},
		{name: "padded header", token: b64padded(`{"alg":"HS256","kid":"hs"}`) + "." + p + "." + s, err: ErrMalformed},
		{name: "newline in payload", token: h + "." + p[:10] + "\n" + p[10:] + "." + s, err: ErrMalformed},
		{name: "space around", token: " " + valid, err: ErrMalformed},
		{name: "crit", token: rawToken(t, `{"alg":"HS256","kid":"hs","crit":["exp"],"exp":1}`, jwkJSON(t, claimsAt()), hsSign), err: ErrMalformed, msg: "crit"},
		{name: "crit empty", token: rawToken(t, `{"alg":"HS256","kid":"hs","crit":[]}`, jwkJSON(t, claimsAt()), hsSign), err: ErrMalformed},
		{name: "typ JOSE", token: makeToken(t, map[string]any{"alg": "HS256", "kid": "hs", "typ": "JOSE"}, claimsAt(), hsSign), err: ErrMalformed, msg: "typ"},
		{name: "typ a number", token: makeToken(t, map[string]any{"alg": "HS256", "kid": "hs", "typ": 1}, claimsAt(), hsSign), err: ErrMalformed},
		{name: "nested token", token: makeToken(t, map[string]any{"alg": "HS256", "kid": "hs", "cty": "JWT"}, claimsAt(), hsSign), err: ErrMalformed, msg: "nested"},
		{name: "enc header", token: makeToken(t, map[string]any{"alg": "HS256", "kid": "hs", "enc": "A128GCM"}, claimsAt(), hsSign), err: ErrMalformed},
		{name: "duplicate claim", token: rawToken(t, `{"alg":"HS256","kid":"hs"}`, `{"exp":9999999999,"sub":"a","sub":"admin"}`, hsSign), err: ErrMalformed, msg: `"sub" appears twice`},
		{name: "duplicate alg", token: rawToken(t, `{"alg":"HS256","kid":"hs","alg":"none"}`, jwkJSON(t, claimsAt()), hsSign), err: ErrMalformed},
		{name: "duplicate kid", token: rawToken(t, `{"alg":"HS256","kid":"hs","kid":"rs"}`, jwkJSON(t, claimsAt()), hsSign), err: ErrMalformed},
		{name: "payload an array", token: rawToken(t, `{"alg":"HS256","kid":"hs"}`, `[1]`, hsSign), err: ErrMalformed, msg: "not a JSON object"},
		{name: "payload null", token: rawToken(t, `{"alg":"HS256","kid":"hs"}`, `null`, hsSign), err: ErrMalformed},
		{name: "payload trailing data", token: rawToken(t, `{"alg":"HS256","kid":"hs"}`, jwkJSON(t, claimsAt())+`{}`, hsSign), err: ErrMalformed, msg: "after"},
		{name: "payload truncated", token: rawToken(t, `{"alg":"HS256","kid":"hs"}`, `{"exp":1`, hsSign), err: ErrMalformed},
		{name: "payload not UTF-8", token: rawToken(t, `{"alg":"HS256","kid":"hs"}`, `{"exp":9999999999,"sub":"`+"\xff"+`"}`, hsSign), err: ErrMalformed, msg: "UTF-8"},
		{name: "header not JSON", token: rawToken(t, `alg=HS256`, jwkJSON(t, claimsAt()), hsSign), err: ErrMalformed},
		{name: "empty header", token: "." + p + "." + s, err: ErrMalformed},
		{name: "empty", token: "", err: ErrMalformed},
		{name: "two parts", token: h + "." + p, err: ErrMalformed, msg: "2 parts"},
		{name: "four parts", token: valid + ".x", err: ErrMalformed},
		{name: "JWE", token: "a.b.c.d.e", err: ErrMalformed, msg: "JWE"},
		{name: "huge", token: huge, err: ErrMalformed, msg: "more than 8192"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys, o := KeySet(all), opts
			if tc.keys != nil {
				keys = tc.keys
			}
			if tc.opts != nil {
				o = *tc.opts
			}
			claims, err := Verify(tc.token, keys, o)
			if tc.err == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if _, ok := claims["exp"]; !ok {
					t.Errorf("claims %v have no exp", claims)
				}
				return
			}
			if err == nil {
				t.Fatalf("Verify succeeded, want %v", tc.err)
			}
			if !errors.Is(err, tc.err) {
				t.Fatalf("Verify: %v, want %v", err, tc.err)
			}
			if claims != nil {
				t.Errorf("claims %v returned with an error", claims)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not say %q", err, tc.msg)
			}
			for _, part := range strings.Split(tc.token, ".") {
				if len(part) > 16 && strings.Contains(err.Error(), part) {
					t.Errorf("error %q echoes the token", err)
				}
			}
			if strings.Contains(err.Error(), testSecret) {
				t.Errorf("error %q shows the secret", err)
			}
		})
	}
}

// nilKeys is a KeySet that has nothing, not even for "".
type nilKeys struct{}

func (nilKeys) Lookup(string) (*Key, bool) { return nil, true }
func (nilKeys) Len() int                   { return 1 }

func TestVerifyNilKeySet(t *testing.T) {
	if _, err := Verify("a.b.c", nil, Options{}); err == nil {
		t.Fatal("Verify with nil keys succeeded")
	}
	tok := makeToken(t, hdr(HS256, "hs"), claimsAt(), hsSigner(testSecret))
	if _, err := Verify(tok, nil, Options{Now: fixedNow}); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("Verify with nil keys: %v, want ErrUnknownKey", err)
	}
}

func TestVerifyUsesTimeNow(t *testing.T) {
	k := mustKey(t, "hs", HS256, testSecret)
	tok := makeToken(t, hdr(HS256, "hs"), claimsAt(), hsSigner(testSecret)) // expired in 2026-11-27T11:00Z
	_, err := Verify(tok, NewKeySet(k), Options{})
	if time.Now().Before(now.Add(time.Hour)) != (err == nil) {
		t.Fatalf("Verify with the real clock: %v", err)
	}
}

func splitToken(tok string) (h, p, s string) {
	parts := strings.SplitN(tok, ".", 3)
	return parts[0], parts[1], parts[2]
}

// tamper changes the token's payload to claim another subject.
func tamper(tb testing.TB, tok string) string {
	h, _, s := splitToken(tok)
	return h + "." + b64([]byte(jwkJSON(tb, claimsAt("sub", "admin")))) + "." + s
}

// flipTrailingBits changes the unused low bits of an unpadded base64url
// string's last character: a second spelling of the same bytes.
func flipTrailingBits(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[last^1])
}

func b64padded(s string) string {
	out := b64([]byte(s))
	for len(out)%4 != 0 {
		out += "="
	}
	return out
}
