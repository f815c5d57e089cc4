// Package jwt verifies JSON Web Tokens (RFC 7519) signed with HS256, RS256 or
// ES256, for the gateway. It uses only the standard library's crypto and is
// deliberately strict: a token is accepted only when its algorithm is the one
// its key was configured for, its signature verifies, it carries an "exp"
// that has not passed, and every registered claim it has is well-formed.
//
// Keys come from the admin API: ParseKey turns PEM, JWK or a shared secret
// into a Key, NewKeySet snapshots keys for lookup by the token's "kid", and
// Verify checks a token against a KeySet and Options. A Cache in front of
// Verify skips the public-key operation for tokens it has already verified.
//
// What Verify refuses, and why, is listed on Verify. Errors wrap one of the
// sentinels below with a message that says what failed; messages quote at
// most a short prefix of attacker-supplied values and never the token or a
// secret.
package jwt

import "errors"

// Errors Verify and ParseKey return, wrapped with detail. Map them to HTTP
// statuses at the gateway: every Verify error means 401 except ErrKey, which
// from Verify means a Key was not built by ParseKey (a server bug: 500).
var (
	// ErrMalformed: the token is not a well-formed JWS compact JWT (size,
	// base64url, JSON, header fields, claim types).
	ErrMalformed = errors.New("jwt: malformed token")
	// ErrAlgorithm: the token's "alg" is not supported ("none" included) or
	// is not the algorithm of the key that verifies it.
	ErrAlgorithm = errors.New("jwt: algorithm not accepted")
	// ErrUnknownKey: no key in the KeySet verifies the token (unknown "kid",
	// or no "kid" while the set holds other than exactly one key).
	ErrUnknownKey = errors.New("jwt: unknown key")
	// ErrSignature: the signature does not verify.
	ErrSignature = errors.New("jwt: invalid signature")
	// ErrExpired: "exp" has passed, or the token has none.
	ErrExpired = errors.New("jwt: token expired")
	// ErrNotYetValid: "nbf" or "iat" is in the future beyond the leeway.
	ErrNotYetValid = errors.New("jwt: token not yet valid")
	// ErrIssuer: "iss" is missing or is not Options.Issuer.
	ErrIssuer = errors.New("jwt: issuer not accepted")
	// ErrAudience: "aud" is missing or does not contain Options.Audience.
	ErrAudience = errors.New("jwt: audience not accepted")
	// ErrKey: ParseKey refused the key material (or a Key given to Verify
	// was not built by ParseKey).
	ErrKey = errors.New("jwt: invalid key")
)

// Algorithms a Key may have.
const (
	HS256 = "HS256"
	RS256 = "RS256"
	ES256 = "ES256"
)

// Limits.
const (
	// MaxTokenLen bounds a token's length in bytes (8 KiB).
	MaxTokenLen = 8 << 10
	// MinSecretLen is the shortest HS256 secret ParseKey accepts: 32 bytes,
	// the output size of SHA-256 (RFC 7518 §3.2).
	MinSecretLen = 32
	// MinRSABits and MaxRSABits bound an RS256 modulus. Below 2048 bits is
	// breakable (RFC 7518 §3.3); above 8192 makes every verification slow.
	MinRSABits = 2048
	MaxRSABits = 8192
	// MaxKeyMaterial bounds what ParseKey reads (64 KiB).
	MaxKeyMaterial = 64 << 10
	// MaxKeyIDLen bounds a key ID.
	MaxKeyIDLen = 256
)

// quote formats an attacker-supplied string for an error message: quoted,
// and cut to 64 bytes so a message never carries much of a token.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		return fmtQ(s[:max]) + "…"
	}
	return fmtQ(s)
}
