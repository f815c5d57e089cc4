package jwt

import (
	"container/list"
	"crypto/sha256"
	"errors"
	"maps"
	"sync"
)

// DefaultCacheSize is a Cache's size when NewCache is given 0 or less.
const DefaultCacheSize = 4096

// Cache remembers tokens whose signature verified, so a token presented
// again skips the HMAC, RSA or ECDSA work. It is safe for concurrent use.
//
// Entries are keyed by the SHA-256 of the token and the identity of the key
// set (each NewKeySet is a new identity, so replacing the keys invalidates
// what was verified with the old ones). A hit still runs every check that
// depends on the clock or on Options — exp, nbf, iat, iss, aud — so an
// expired token is refused and a token verified for one audience is not
// accepted for another. Only successes are remembered; a token that fails
// costs a full Verify each time. The least recently used entry is dropped
// when the cache is full, and an entry found expired is dropped at once.
// A nil *Cache verifies without caching.
type Cache struct {
	size int

	mu      sync.Mutex
	entries map[cacheKey]*list.Element
	lru     list.List // of *cacheEntry, most recent first
}

type cacheKey struct {
	sum [sha256.Size]byte
	set uint64
}

type cacheEntry struct {
	key    cacheKey
	claims Claims
}

// NewCache returns a Cache that holds at most size tokens (DefaultCacheSize
// when size ≤ 0).
func NewCache(size int) *Cache {
	if size <= 0 {
		size = DefaultCacheSize
	}
	return &Cache{size: size, entries: make(map[cacheKey]*list.Element)}
}

// Verify is Verify(token, keys, opts), served from the cache when this token
// already verified with this key set. Only key sets made by NewKeySet are
// cached; any other KeySet goes straight to Verify. The Claims returned are
// a copy of the cached map whose nested values are shared: do not modify
// them.
func (c *Cache) Verify(token string, keys KeySet, opts Options) (Claims, error) {
	set, ok := keys.(*keySet)
	if c == nil || !ok || len(token) > MaxTokenLen {
		return Verify(token, keys, opts)
	}
	k := cacheKey{sum: sha256.Sum256([]byte(token)), set: set.id}
	c.mu.Lock()
	el, hit := c.entries[k]
	var claims Claims
	if hit {
		c.lru.MoveToFront(el)
		claims = el.Value.(*cacheEntry).claims
	}
	c.mu.Unlock()

	if !hit {
		var err error
		if claims, err = verifySignature(token, keys); err != nil {
			return nil, err
		}
	}
	if err := claims.validate(opts); err != nil {
		if hit && errors.Is(err, ErrExpired) {
			c.remove(k)
		}
		return nil, err
	}
	if !hit {
		c.add(k, claims)
	}
	return maps.Clone(claims), nil
}

func (c *Cache) add(k cacheKey, claims Claims) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; ok {
		return // another goroutine verified it too
	}
	for c.lru.Len() >= c.size {
		old := c.lru.Back()
		c.lru.Remove(old)
		delete(c.entries, old.Value.(*cacheEntry).key)
	}
	c.entries[k] = c.lru.PushFront(&cacheEntry{key: k, claims: claims})
}

func (c *Cache) remove(k cacheKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[k]; ok {
		c.lru.Remove(el)
		delete(c.entries, k)
	}
}

// Len is how many tokens the cache holds.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}
