package jwt

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"
	"sync/atomic"
	"unicode"
	"unicode/utf8"
)

// Key verifies the signatures of one algorithm. Build it with ParseKey; a
// Key made any other way (or whose Alg was changed afterwards) verifies
// nothing: Verify checks that the key material matches Alg.
//
// A Key formats (fmt %v, %s, %#v …) as its ID and algorithm only, so an
// HS256 secret never ends up in a log line.
type Key struct {
	// ID is the key id tokens name in their "kid" header.
	ID string
	// Alg is HS256, RS256 or ES256; a token must use exactly it.
	Alg string

	secret []byte
	rsa    *rsa.PublicKey
	ec     *ecdsa.PublicKey
}

// String names the key: `HS256 key "id"`.
func (k Key) String() string {
	return k.Alg + " key " + strconv.Quote(k.ID)
}

// GoString is String, so %#v shows no key material either.
func (k Key) GoString() string { return k.String() }

// Format writes String for every verb.
func (k Key) Format(f fmt.State, _ rune) { io.WriteString(f, k.String()) }

// PublicPEM is the key's public half as a PKIX "PUBLIC KEY" PEM block (what
// api.JWTKey shows), whatever form ParseKey was given; "" for HS256.
func (k *Key) PublicPEM() string {
	var pub any
	switch {
	case k.rsa != nil:
		pub = k.rsa
	case k.ec != nil:
		pub = k.ec
	default:
		return ""
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ""
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// ParseKey builds a key with the given ID for alg (HS256, RS256 or ES256).
//
// For HS256 material is the shared secret itself, used as its bytes, at
// least MinSecretLen long; material that looks like a PEM block or a JWK is
// refused (a public key used as an HMAC secret lets anyone who has it forge
// tokens). For RS256 and ES256 material is one PEM block, "PUBLIC KEY"
// (PKIX) or, for RS256, "RSA PUBLIC KEY" (PKCS #1), or a JWK JSON object: kty
// "RSA" with n and e, or kty "EC" with crv "P-256", x and y. A JWK's "alg",
// when present, must be alg, and its "use", when present, must be "sig".
//
// ParseKey refuses, naming what is wrong: an unknown alg, an empty or overlong
// ID, a secret that is too short, a private key (give the public key), a
// certificate, a key of the wrong type or curve, an RSA modulus outside
// MinRSABits..MaxRSABits, and trailing data. Every error wraps ErrKey.
func ParseKey(id, alg, material string) (*Key, error) {
	k, err := parseKey(id, alg, material)
	if err != nil {
		if id != "" && len(id) <= MaxKeyIDLen {
			return nil, fmt.Errorf("%w %q: %s", ErrKey, id, err)
		}
		return nil, fmt.Errorf("%w: %s", ErrKey, err)
	}
	return k, nil
}

func parseKey(id, alg, material string) (*Key, error) {
	if id == "" {
		return nil, fmt.Errorf("key id is empty")
	}
	if len(id) > MaxKeyIDLen {
		return nil, fmt.Errorf("key id is %d bytes, more than %d", len(id), MaxKeyIDLen)
	}
	if !utf8.ValidString(id) || strings.IndexFunc(id, unicode.IsControl) >= 0 {
		return nil, fmt.Errorf("key id %s has control characters or is not UTF-8", quote(id))
	}
	if len(material) > MaxKeyMaterial {
		return nil, fmt.Errorf("key material is %d bytes, more than %d", len(material), MaxKeyMaterial)
	}
	k := &Key{ID: id, Alg: alg}
	switch alg {
	case HS256:
		if err := checkSecret(material); err != nil {
			return nil, err
		}
		k.secret = []byte(material)
		return k, nil
	case RS256, ES256:
	case "":
		return nil, fmt.Errorf("alg is empty: want HS256, RS256 or ES256")
	default:
		return nil, fmt.Errorf("alg %s is not supported: want HS256, RS256 or ES256", quote(alg))
	}
	pub, err := parsePublic(alg, strings.TrimSpace(material))
	if err != nil {
		return nil, err
	}
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		if alg != RS256 {
			return nil, fmt.Errorf("%s needs an EC P-256 public key, got an RSA key", alg)
		}
		if err := checkRSA(pub); err != nil {
			return nil, err
		}
		k.rsa = pub
	case *ecdsa.PublicKey:
		if alg != ES256 {
			return nil, fmt.Errorf("%s needs an RSA public key, got an EC key", alg)
		}
		if pub.Curve != elliptic.P256() {
			return nil, fmt.Errorf("ES256 needs curve P-256, got %s", pub.Curve.Params().Name)
		}
		k.ec = pub
	case ed25519.PublicKey:
		return nil, fmt.Errorf("%s needs %s, got an Ed25519 key (EdDSA is not supported)", alg, wantKey(alg))
	default:
		return nil, fmt.Errorf("%s needs %s, got a %T", alg, wantKey(alg), pub)
	}
	return k, nil
}

func wantKey(alg string) string {
	if alg == RS256 {
		return "an RSA public key"
	}
	return "an EC P-256 public key"
}

func checkSecret(s string) error {
	t := strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(t, "-----BEGIN"):
		return fmt.Errorf("HS256 needs a shared secret, got a PEM block (use RS256 or ES256 for a public key)")
	case strings.HasPrefix(t, "{") && strings.Contains(t, `"kty"`):
		return fmt.Errorf("HS256 needs a shared secret, got a JWK (use RS256 or ES256 for a public key)")
	case len(s) < MinSecretLen:
		return fmt.Errorf("HS256 secret is %d bytes, shorter than %d", len(s), MinSecretLen)
	}
	return nil
}

func checkRSA(pub *rsa.PublicKey) error {
	bits := pub.N.BitLen()
	if bits < MinRSABits {
		return fmt.Errorf("RSA key is %d bits, fewer than %d", bits, MinRSABits)
	}
	if bits > MaxRSABits {
		return fmt.Errorf("RSA key is %d bits, more than %d", bits, MaxRSABits)
	}
	if pub.E < 3 || pub.E%2 == 0 {
		return fmt.Errorf("RSA public exponent %d is not an odd number ≥ 3", pub.E)
	}
	return nil
}

// parsePublic reads one PEM block or a JWK object.
func parsePublic(alg, material string) (any, error) {
	if material == "" {
		return nil, fmt.Errorf("%s needs %s (PEM or JWK), got nothing", alg, wantKey(alg))
	}
	if material[0] == '{' {
		return parseJWK(alg, material)
	}
	block, rest := pem.Decode([]byte(material))
	if block == nil {
		return nil, fmt.Errorf("%s key is neither a PEM block nor a JWK JSON object", alg)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, fmt.Errorf("data after the PEM %q block: give exactly one public key", block.Type)
	}
	if len(block.Headers) > 0 {
		return nil, fmt.Errorf("PEM %q block has headers (encrypted?): give a plain public key", block.Type)
	}
	switch block.Type {
	case "PUBLIC KEY":
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM PUBLIC KEY: %v", err)
		}
		return pub, nil
	case "RSA PUBLIC KEY":
		pub, err := x509.ParsePKCS1PublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM RSA PUBLIC KEY: %v", err)
		}
		return pub, nil
	case "CERTIFICATE":
		return nil, fmt.Errorf("got a certificate: give its public key (openssl x509 -pubkey -noout)")
	}
	if strings.Contains(block.Type, "PRIVATE KEY") {
		return nil, fmt.Errorf("got a private key (PEM %q): give the public key only, never the private one", block.Type)
	}
	return nil, fmt.Errorf("PEM block %q is not a PUBLIC KEY or RSA PUBLIC KEY", block.Type)
}

// jwk is the part of a JSON Web Key (RFC 7517, 7518 §6) ParseKey reads.
// Other members (kid, x5c, ext, …) are ignored.
type jwk struct {
	Kty string `json:"kty"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	Crv string `json:"crv"`
	N   string `json:"n"`
	E   string `json:"e"`
	X   string `json:"x"`
	Y   string `json:"y"`
	// D and the CRT members mark a private key.
	D *string `json:"d"`
	P *string `json:"p"`
}

func parseJWK(alg, material string) (any, error) {
	raw := []byte(material)
	if err := checkObject(raw); err != nil {
		return nil, fmt.Errorf("JWK: %v", err)
	}
	var j jwk
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, fmt.Errorf("JWK: %v", err)
	}
	if j.D != nil || j.P != nil {
		return nil, fmt.Errorf("got a private JWK (it has \"d\"): give the public key only, never the private one")
	}
	if j.Alg != "" && j.Alg != alg {
		return nil, fmt.Errorf("JWK alg is %s, not %s", quote(j.Alg), alg)
	}
	if j.Use != "" && j.Use != "sig" {
		return nil, fmt.Errorf("JWK use is %s, not \"sig\"", quote(j.Use))
	}
	switch j.Kty {
	case "RSA":
		n, err := jwkInt("n", j.N)
		if err != nil {
			return nil, err
		}
		e, err := jwkInt("e", j.E)
		if err != nil {
			return nil, err
		}
		if e.BitLen() > 31 {
			return nil, fmt.Errorf("JWK e is too large")
		}
		return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
	case "EC":
		if j.Crv != "P-256" {
			return nil, fmt.Errorf("JWK curve is %s: ES256 needs P-256", quote(j.Crv))
		}
		x, err := jwkCoord("x", j.X)
		if err != nil {
			return nil, err
		}
		y, err := jwkCoord("y", j.Y)
		if err != nil {
			return nil, err
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return nil, fmt.Errorf("JWK x, y: %v", err)
		}
		return pub, nil
	case "":
		return nil, fmt.Errorf("JWK has no kty")
	case "oct":
		return nil, fmt.Errorf("got a symmetric JWK (kty \"oct\"): %s needs a public key", alg)
	case "OKP":
		return nil, fmt.Errorf("got an OKP JWK (EdDSA is not supported): %s needs %s", alg, wantKey(alg))
	}
	return nil, fmt.Errorf("JWK kty %s is not RSA or EC", quote(j.Kty))
}

func jwkBytes(name, s string) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("JWK has no %s", name)
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || !isBase64URL(s) {
		return nil, fmt.Errorf("JWK %s is not unpadded base64url", name)
	}
	return b, nil
}

func jwkInt(name, s string) (*big.Int, error) {
	b, err := jwkBytes(name, s)
	if err != nil {
		return nil, err
	}
	return new(big.Int).SetBytes(b), nil
}

func jwkCoord(name, s string) ([]byte, error) {
	b, err := jwkBytes(name, s)
	if err != nil {
		return nil, err
	}
	if len(b) != 32 {
		return nil, fmt.Errorf("JWK %s is %d bytes, P-256 coordinates are 32", name, len(b))
	}
	return b, nil
}

// isBase64URL reports whether s uses only the unpadded base64url alphabet.
// (Go's decoders skip '\r' and '\n'; a token must not.)
func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// KeySet finds the key that verifies a token. Lookup(kid) returns the key
// with that ID; Lookup("") must return the set's only key when Len() == 1
// (Verify uses it for tokens without "kid"). Implementations must be safe
// for concurrent use.
type KeySet interface {
	Lookup(kid string) (*Key, bool)
	Len() int
}

// setIDs numbers key sets so a Cache can tell them apart.
var setIDs atomic.Uint64

// keySet is NewKeySet's immutable snapshot.
type keySet struct {
	id   uint64
	keys map[string]*Key
	only *Key // the key when there is exactly one
}

// NewKeySet snapshots keys into an immutable KeySet, safe for concurrent
// use. Nil keys are skipped; a later key with the same ID replaces an
// earlier one. Changing a Key after adding it is not supported: build a new
// set (a Cache treats each set as new).
func NewKeySet(keys ...*Key) KeySet {
	s := &keySet{id: setIDs.Add(1), keys: make(map[string]*Key, len(keys))}
	for _, k := range keys {
		if k != nil {
			s.keys[k.ID] = k
		}
	}
	if len(s.keys) == 1 {
		for _, k := range s.keys {
			s.only = k
		}
	}
	return s
}

func (s *keySet) Lookup(kid string) (*Key, bool) {
	if kid == "" {
		return s.only, s.only != nil
	}
	k, ok := s.keys[kid]
	return k, ok
}

func (s *keySet) Len() int { return len(s.keys) }
