// Package apikey makes, parses and checks mote's API keys.
//
// A key is "mk_<id>_<secret>": id is 12 lowercase hex digits that name the
// key in listings and let the gateway find its record, secret is 64
// lowercase hex digits (32 bytes from crypto/rand). The node stores only
// the hex SHA-256 of the whole key (Hash). Callers present a key as
// X-API-Key or Authorization: Bearer (FromHeader).
//
// Index is the gateway's in-memory view of plans, keys and JWT keys, kept
// current from store.WatchAccess; its Authenticate checks a presented key
// in constant time in the secret without taking a lock.
package apikey

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"

	"github.com/mote-run/mote/internal/store"
)

// Key shape.
const (
	// Prefix starts every key.
	Prefix = "mk_"
	// IDLen is the length of a key's ID, in lowercase hex digits.
	IDLen = store.KeyIDLen
	// SecretLen is the length of a key's secret, in lowercase hex digits.
	SecretLen = 64
	// Len is the length of a whole key.
	Len = len(Prefix) + IDLen + 1 + SecretLen
)

// Generate makes a new key "mk_<id>_<secret>" with a random ID and secret,
// and returns it with its ID and Hash. The error is crypto/rand's (which
// does not fail on supported platforms).
func Generate() (key, id, hash string, err error) {
	var b [IDLen / 2]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", "", fmt.Errorf("apikey: generate id: %w", err)
	}
	id = hex.EncodeToString(b[:])
	key, hash, err = NewSecret(id)
	if err != nil {
		return "", "", "", err
	}
	return key, id, hash, nil
}

// NewSecret makes a new key for an existing ID (rotation keeps the ID, so
// rate limits and quotas carry over) and returns it with its Hash. An id
// that is not IDLen lowercase hex digits is an error.
func NewSecret(id string) (key, hash string, err error) {
	if !store.ValidKeyID(id) {
		return "", "", fmt.Errorf("apikey: key id %q: want %d lowercase hex digits", id, IDLen)
	}
	var b [SecretLen / 2]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("apikey: generate secret: %w", err)
	}
	key = Prefix + id + "_" + hex.EncodeToString(b[:])
	return key, Hash(key), nil
}

// Hash is the hex SHA-256 of key, as stored in store.KeyRecord.Hash.
func Hash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// ParseID returns the ID of a key that has the shape of one
// ("mk_" + IDLen lowercase hex + "_" + SecretLen lowercase hex). It checks
// syntax only: ok says nothing about whether the key exists.
func ParseID(key string) (id string, ok bool) {
	if len(key) != Len || !strings.HasPrefix(key, Prefix) || key[len(Prefix)+IDLen] != '_' {
		return "", false
	}
	id = key[len(Prefix) : len(Prefix)+IDLen]
	if !lowerHex(id) || !lowerHex(key[len(Prefix)+IDLen+1:]) {
		return "", false
	}
	return id, true
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// FromHeader returns the key a request presents: the X-API-Key header's
// value, else an "Authorization: Bearer <token>" (the scheme in any case)
// whose token starts with "mk_". Surrounding spaces are trimmed. "" when
// there is none — also for a bearer token that is not an API key (a JWT),
// so that a request may carry a JWT in Authorization and its key in
// X-API-Key. Only the first value of each header counts.
func FromHeader(h http.Header) string {
	key, _ := Find(h, true)
	return key
}

// Find is FromHeader that also returns the canonical name of the header
// the key came from (HeaderName or "Authorization"; "" with no key), so
// the caller can remove it before passing the request on. With bearer
// false only X-API-Key is looked at (Authorization carries a JWT).
func Find(h http.Header, bearer bool) (key, header string) {
	if v := strings.TrimSpace(first(h, HeaderName)); v != "" {
		return v, HeaderName
	}
	if !bearer {
		return "", ""
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(first(h, "Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", ""
	}
	if token = strings.TrimSpace(token); strings.HasPrefix(token, Prefix) {
		return token, "Authorization"
	}
	return "", ""
}

// HeaderName is the X-API-Key header in Go's canonical form.
const HeaderName = "X-Api-Key"

// first is h.Get for a name already canonical, without canonicalizing it
// again (which allocates for "X-API-Key").
func first(h http.Header, name string) string {
	if v := h[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}
