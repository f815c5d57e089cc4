package jwt

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// Options are what Verify requires of a token's claims beyond a valid
// signature and an unexpired "exp". The zero value checks neither issuer nor
// audience, allows no clock skew and uses time.Now.
type Options struct {
	// Issuer, when non-empty, must equal the "iss" claim exactly.
	Issuer string
	// Audience, when non-empty, must be "aud" (a string) or one of its
	// elements (an array of strings).
	Audience string
	// Leeway is the clock skew allowed when checking exp, nbf and iat;
	// negative counts as zero.
	Leeway time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o Options) leeway() time.Duration { return max(o.Leeway, 0) }

// Verify checks a JWS compact-serialized JWT and returns its claims. In
// order, without any cryptography until the key and algorithm are settled:
//
//   - the token is at most MaxTokenLen bytes, three dot-separated parts, each
//     unpadded base64url (RFC 7515 §2: no '=', no whitespace, no non-zero
//     trailing bits), else ErrMalformed;
//   - the header is a JSON object (see below for what "strict" means) with a
//     string "alg"; "crit" is refused whatever it lists, "typ", when present,
//     is "JWT" or "at+jwt" (case-insensitive, with or without
//     "application/"), "kid", when present, is a non-empty string, and "cty"
//     "JWT" (a nested token) and "enc" (an encrypted one) are refused, else
//     ErrMalformed; "jku", "jwk", "x5u" and "x5c" are never used to find a
//     key;
//   - "alg" is HS256, RS256 or ES256 ("none" and everything else:
//     ErrAlgorithm);
//   - the key is keys.Lookup(kid), or the only key when the token has no
//     "kid" and keys.Len() == 1 (else ErrUnknownKey), and alg equals the
//     key's Alg (ErrAlgorithm: an RS256 public key is never an HMAC secret);
//   - the signature has the algorithm's exact length (ES256: the 64-byte
//     r||s of RFC 7518 §3.4, not ASN.1) and verifies (ErrSignature; HMAC is
//     compared in constant time);
//   - the payload is a JSON object; registered claims have their RFC 7519
//     types (iss, sub, jti strings; aud a string or array of strings; exp,
//     nbf, iat numbers, from 0 to year 9999), else ErrMalformed;
//   - "exp" is present and now < exp + Leeway (ErrExpired); now + Leeway ≥
//     nbf and ≥ iat (ErrNotYetValid); iss and aud per Options (ErrIssuer,
//     ErrAudience).
//
// Strict JSON: valid UTF-8, nothing after the object, and no member name
// twice at the top level of the header or the payload — such a token is
// refused rather than read by "last wins", since parsers disagree on which
// copy counts. Numbers in the returned Claims are json.Number, strings,
// bools, nil, []any and map[string]any as encoding/json gives them.
//
// ECDSA signatures are malleable ((r, n−s) verifies as well as (r, s)), so
// one set of signed claims can have two token spellings: use "jti", not the
// token text, to recognize a token.
//
// keys nil verifies nothing (ErrUnknownKey).
func Verify(token string, keys KeySet, opts Options) (Claims, error) {
	claims, err := verifySignature(token, keys)
	if err != nil {
		return nil, err
	}
	if err := claims.validate(opts); err != nil {
		return nil, err
	}
	return claims, nil
}

// verifySignature does everything Verify does except the time, issuer and
// audience checks, which depend on Options and the clock; a Cache keeps its
// result.
func verifySignature(token string, keys KeySet) (Claims, error) {
	if len(token) > MaxTokenLen {
		return nil, fmt.Errorf("%w: token is %d bytes, more than %d", ErrMalformed, len(token), MaxTokenLen)
	}
	if token == "" {
		return nil, fmt.Errorf("%w: token is empty", ErrMalformed)
	}
	h, rest, ok1 := strings.Cut(token, ".")
	p, s, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(s, ".") {
		n := strings.Count(token, ".") + 1
		if n == 5 {
			return nil, fmt.Errorf("%w: 5 parts: encrypted tokens (JWE) are not supported", ErrMalformed)
		}
		return nil, fmt.Errorf("%w: %d parts, want 3 (header.payload.signature)", ErrMalformed, n)
	}
	header, err := decodePart("header", h)
	if err != nil {
		return nil, err
	}
	payload, err := decodePart("payload", p)
	if err != nil {
		return nil, err
	}
	sig, err := decodePart("signature", s)
	if err != nil {
		return nil, err
	}
	alg, kid, err := parseHeader(header)
	if err != nil {
		return nil, err
	}
	switch {
	case alg == HS256 || alg == RS256 || alg == ES256:
	case strings.EqualFold(alg, "none"):
		return nil, fmt.Errorf("%w: alg \"none\" (unsigned tokens) refused", ErrAlgorithm)
	default:
		return nil, fmt.Errorf("%w: alg %s not supported (HS256, RS256, ES256)", ErrAlgorithm, quote(alg))
	}
	key, err := findKey(keys, kid)
	if err != nil {
		return nil, err
	}
	if alg != key.Alg {
		return nil, fmt.Errorf("%w: token alg %s but key %s is %s", ErrAlgorithm, alg, quote(key.ID), quote(key.Alg))
	}
	if err := key.verify(token[:len(h)+1+len(p)], sig); err != nil {
		return nil, err
	}
	m, err := parseObject(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrMalformed, err)
	}
	c := Claims(m)
	if err := c.checkTypes(); err != nil {
		return nil, err
	}
	return c, nil
}

var b64dec = base64.RawURLEncoding.Strict()

func decodePart(name, s string) ([]byte, error) {
	if s == "" && name != "signature" {
		return nil, fmt.Errorf("%w: %s is empty", ErrMalformed, name)
	}
	if !isBase64URL(s) {
		if strings.Contains(s, "=") {
			return nil, fmt.Errorf("%w: %s is padded base64 ('='); JWTs use unpadded base64url", ErrMalformed, name)
		}
		return nil, fmt.Errorf("%w: %s has characters outside base64url", ErrMalformed, name)
	}
	b, err := b64dec.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not valid base64url", ErrMalformed, name)
	}
	return b, nil
}

// parseHeader returns the header's alg and kid after checking the rest.
func parseHeader(raw []byte) (alg, kid string, err error) {
	h, err := parseObject(raw)
	if err != nil {
		return "", "", fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	if _, ok := h["crit"]; ok {
		return "", "", fmt.Errorf("%w: header has \"crit\": no critical extensions are supported", ErrMalformed)
	}
	alg, ok := h["alg"].(string)
	if !ok {
		if _, there := h["alg"]; there {
			return "", "", fmt.Errorf("%w: header alg is not a string", ErrMalformed)
		}
		return "", "", fmt.Errorf("%w: header has no alg", ErrMalformed)
	}
	if v, there := h["typ"]; there {
		typ, ok := v.(string)
		if !ok {
			return "", "", fmt.Errorf("%w: header typ is not a string", ErrMalformed)
		}
		switch strings.TrimPrefix(strings.ToLower(typ), "application/") {
		case "jwt", "at+jwt":
		default:
			return "", "", fmt.Errorf("%w: header typ is %s, not \"JWT\" or \"at+jwt\"", ErrMalformed, quote(typ))
		}
	}
	if v, there := h["cty"]; there {
		cty, ok := v.(string)
		if !ok {
			return "", "", fmt.Errorf("%w: header cty is not a string", ErrMalformed)
		}
		if strings.TrimPrefix(strings.ToLower(cty), "application/") == "jwt" {
			return "", "", fmt.Errorf("%w: nested tokens (cty \"JWT\") are not supported", ErrMalformed)
		}
	}
	if _, there := h["enc"]; there {
		return "", "", fmt.Errorf("%w: header has \"enc\": encrypted tokens (JWE) are not supported", ErrMalformed)
	}
	if v, there := h["kid"]; there {
		kid, ok = v.(string)
		if !ok || kid == "" {
			return "", "", fmt.Errorf("%w: header kid is not a non-empty string", ErrMalformed)
		}
	}
	return alg, kid, nil
}

func findKey(keys KeySet, kid string) (*Key, error) {
	if keys == nil {
		return nil, fmt.Errorf("%w: no keys configured", ErrUnknownKey)
	}
	if kid == "" {
		if n := keys.Len(); n != 1 {
			return nil, fmt.Errorf("%w: token has no kid and there are %d keys", ErrUnknownKey, n)
		}
	}
	k, ok := keys.Lookup(kid)
	if !ok || k == nil {
		if kid == "" {
			return nil, fmt.Errorf("%w: token has no kid", ErrUnknownKey)
		}
		return nil, fmt.Errorf("%w: no key with kid %s", ErrUnknownKey, quote(kid))
	}
	return k, nil
}

// verify checks sig over input with the key's algorithm, after checking that
// the key holds the material its Alg needs (a Key not made by ParseKey, or
// whose Alg was changed, verifies nothing).
func (k *Key) verify(input string, sig []byte) error {
	switch {
	case k.Alg == HS256 && len(k.secret) >= MinSecretLen && k.rsa == nil && k.ec == nil:
		if len(sig) != sha256.Size {
			return fmt.Errorf("%w: HS256 signature is %d bytes, want %d", ErrSignature, len(sig), sha256.Size)
		}
		mac := hmac.New(sha256.New, k.secret)
		mac.Write([]byte(input))
		if !hmac.Equal(mac.Sum(nil), sig) {
			return fmt.Errorf("%w: HS256 signature does not match key %s", ErrSignature, quote(k.ID))
		}
		return nil
	case k.Alg == RS256 && k.rsa != nil && k.secret == nil && k.ec == nil:
		if len(sig) != k.rsa.Size() {
			return fmt.Errorf("%w: RS256 signature is %d bytes, want %d", ErrSignature, len(sig), k.rsa.Size())
		}
		sum := sha256.Sum256([]byte(input))
		if rsa.VerifyPKCS1v15(k.rsa, crypto.SHA256, sum[:], sig) != nil {
			return fmt.Errorf("%w: RS256 signature does not match key %s", ErrSignature, quote(k.ID))
		}
		return nil
	case k.Alg == ES256 && k.ec != nil && k.secret == nil && k.rsa == nil:
		if len(sig) != 64 {
			return fmt.Errorf("%w: ES256 signature is %d bytes, want 64 (r||s, not ASN.1)", ErrSignature, len(sig))
		}
		sum := sha256.Sum256([]byte(input))
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(k.ec, sum[:], r, s) {
			return fmt.Errorf("%w: ES256 signature does not match key %s", ErrSignature, quote(k.ID))
		}
		return nil
	}
	return fmt.Errorf("%w: key %s was not built by ParseKey for %s", ErrKey, quote(k.ID), quote(k.Alg))
}

// checkTypes checks the registered claims' JSON types (RFC 7519 §4.1).
func (c Claims) checkTypes() error {
	for _, name := range [...]string{"iss", "sub", "jti"} {
		if v, ok := c[name]; ok {
			if _, ok := v.(string); !ok {
				return fmt.Errorf("%w: claim %s is not a string", ErrMalformed, name)
			}
		}
	}
	if v, ok := c["aud"]; ok {
		switch v := v.(type) {
		case string:
		case []any:
			for _, e := range v {
				if _, ok := e.(string); !ok {
					return fmt.Errorf("%w: claim aud has a non-string element", ErrMalformed)
				}
			}
		default:
			return fmt.Errorf("%w: claim aud is not a string or an array of strings", ErrMalformed)
		}
	}
	for _, name := range [...]string{"exp", "nbf", "iat"} {
		if _, _, err := c.time(name); err != nil {
			return err
		}
	}
	return nil
}

// maxDate is 9999-12-31T23:59:59Z, the last second RFC 3339 can write.
const maxDate = 253402300799

// time reads a NumericDate claim: seconds since the epoch, possibly
// fractional.
func (c Claims) time(name string) (time.Time, bool, error) {
	v, ok := c[name]
	if !ok {
		return time.Time{}, false, nil
	}
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, false, fmt.Errorf("%w: claim %s is not a number", ErrMalformed, name)
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > maxDate {
		return time.Time{}, false, fmt.Errorf("%w: claim %s is not a time from 0 to year 9999", ErrMalformed, name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), true, nil
}

// validate checks exp, nbf, iat, iss and aud against opts; the types were
// checked by checkTypes.
func (c Claims) validate(opts Options) error {
	now, leeway := opts.now(), opts.leeway()
	exp, ok, err := c.time("exp")
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: token has no exp", ErrExpired)
	}
	if !now.Before(exp.Add(leeway)) {
		return fmt.Errorf("%w at %s (leeway %s)", ErrExpired, exp.Format(time.RFC3339), leeway)
	}
	if nbf, ok, err := c.time("nbf"); err != nil {
		return err
	} else if ok && now.Add(leeway).Before(nbf) {
		return fmt.Errorf("%w before %s (leeway %s)", ErrNotYetValid, nbf.Format(time.RFC3339), leeway)
	}
	if iat, ok, err := c.time("iat"); err != nil {
		return err
	} else if ok && now.Add(leeway).Before(iat) {
		return fmt.Errorf("%w: issued in the future at %s (leeway %s)", ErrNotYetValid, iat.Format(time.RFC3339), leeway)
	}
	if opts.Issuer != "" {
		iss, ok := c["iss"].(string)
		switch {
		case !ok:
			return fmt.Errorf("%w: token has no iss, want %q", ErrIssuer, opts.Issuer)
		case iss != opts.Issuer:
			return fmt.Errorf("%w: iss is %s, want %q", ErrIssuer, quote(iss), opts.Issuer)
		}
	}
	if opts.Audience != "" {
		switch aud := c["aud"].(type) {
		case nil:
			return fmt.Errorf("%w: token has no aud, want %q", ErrAudience, opts.Audience)
		case string:
			if aud != opts.Audience {
				return fmt.Errorf("%w: aud is %s, want %q", ErrAudience, quote(aud), opts.Audience)
			}
		case []any:
			for _, a := range aud {
				if a == opts.Audience {
					return nil
				}
			}
			return fmt.Errorf("%w: aud has %d values, none is %q", ErrAudience, len(aud), opts.Audience)
		}
	}
	return nil
}
