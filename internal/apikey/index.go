package apikey

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/ratelimit"
	"github.com/mote-run/mote/internal/store"
)

// Errors Authenticate returns; the gateway answers 401 for all but
// ErrNotForService (403).
var (
	// ErrInvalidKey: the presented key is malformed, unknown or has the wrong
	// secret — one error for all three, so a caller cannot probe which IDs
	// exist.
	ErrInvalidKey = errors.New("apikey: invalid API key")
	// ErrRevoked: the key is right but was revoked.
	ErrRevoked = errors.New("apikey: API key revoked")
	// ErrExpired: the key is right but its expiry has passed.
	ErrExpired = errors.New("apikey: API key expired")
	// ErrNotForService: the key is valid but limited to other services.
	ErrNotForService = errors.New("apikey: API key not valid for this service")
)

// maxBatch bounds how many queued changes Run applies before it publishes.
const maxBatch = 1024

// verifiedFor is how long Authenticate trusts a key it verified by its
// hash without hashing it again (see Authenticate).
const verifiedFor = time.Second

// Identity is a caller the index authenticated. Everything it points to
// is shared with the index and other requests: do not modify it.
type Identity struct {
	// Key is the key's public record (no hash).
	Key *api.Key
	// Plan is the key's plan; nil when the key names no plan or one that
	// does not exist (e.g. was deleted).
	Plan *Plan
	// AppValue and IDValue are []string{Key.App} and []string{Key.ID},
	// made once per key, for use as header values: they may be stored in
	// an http.Header (their capacity is 1, so an append copies them) but
	// never modified.
	AppValue, IDValue []string
}

// Plan is a plan as the index holds it: its record and its limits, parsed
// once.
type Plan struct {
	api.Plan
	// Limits are the plan's rate, burst and quota. A limit that does not
	// parse (the store checks them, so only a damaged record) is left out.
	// Never nil.
	Limits *ratelimit.Limits
}

func newPlan(p api.Plan) *Plan {
	lim, _ := ratelimit.ParseLimits(p.Rate, p.Burst, p.Quota)
	return &Plan{Plan: p, Limits: lim}
}

// Index is the gateway's in-memory view of plans, API keys and JWT keys,
// kept current by Run from store.WatchAccess. Reads (Authenticate, JWTKeys,
// Version) never block: they load an immutable snapshot that Run replaces
// after each batch of changes. The zero Index is not usable; call NewIndex.
type Index struct {
	snap     atomic.Pointer[snapshot]
	dummy    [sha256.Size]byte // compared against when the ID is unknown
	dummyKey [Len]byte         // compared against when no verified key applies

	mu      sync.Mutex
	changed chan struct{} // closed at the next publish; nil when nobody waits
}

// snapshot is one immutable state of the index.
type snapshot struct {
	version uint64
	keys    map[string]*keyEntry
	plans   map[string]*Plan
	jwt     map[string]store.JWTKeyRecord
	jwtList []store.JWTKeyRecord // sorted by ID
}

// keyEntry is a key with its hashes decoded for comparison. It is
// immutable but for verified; any change to the key's record replaces the
// whole entry, and with it what was verified.
type keyEntry struct {
	key       api.Key
	hash      [sha256.Size]byte
	prev      [sha256.Size]byte
	prevUntil time.Time // zero when there is no previous hash
	app, id   []string  // Identity.AppValue and IDValue

	// verified is the last key that matched a hash, to skip hashing it
	// again for verifiedFor; nil before the first match.
	verified atomic.Pointer[verifiedKey]
}

// verifiedKey is a presented key that matched its entry's hash at a time.
type verifiedKey struct {
	key  [Len]byte
	at   time.Time
	prev bool // it matched the pre-rotation hash
}

func newKeyEntry(r *store.KeyRecord) *keyEntry {
	e := &keyEntry{key: r.Key, app: []string{r.App}, id: []string{r.ID}}
	if !decodeHash(e.hash[:], r.Hash) {
		// The store checks hashes, so this is a damaged record: make it
		// match nothing.
		_, _ = rand.Read(e.hash[:])
	}
	if r.PrevHash != "" && r.PrevUntil != nil && decodeHash(e.prev[:], r.PrevHash) {
		e.prevUntil = *r.PrevUntil
	}
	return e
}

func decodeHash(dst []byte, h string) bool {
	n, err := hex.Decode(dst, []byte(h))
	return err == nil && n == len(dst) && len(h) == 2*len(dst)
}

// NewIndex returns an empty index: Authenticate fails with ErrInvalidKey and
// JWTKeys is empty until Run has seen the store's Synced event.
func NewIndex() *Index {
	ix := &Index{}
	_, _ = rand.Read(ix.dummy[:]) // never fails; any value would do
	_, _ = rand.Read(ix.dummyKey[:])
	ix.snap.Store(&snapshot{
		keys:  map[string]*keyEntry{},
		plans: map[string]*Plan{},
		jwt:   map[string]store.JWTKeyRecord{},
	})
	return ix
}

// Run applies events (from store.WatchAccess) to the index until ctx ends
// or events is closed. The initial values are published all at once, at
// the first Synced event, and then synced (if not nil) is closed; later
// changes are published as they come, queued ones together. If events
// closes before its Synced event, synced is never closed: wait on it
// together with Run's return or a deadline. Call Run once per Index.
func (ix *Index) Run(ctx context.Context, events <-chan store.AccessEvent, synced chan<- struct{}) {
	old := ix.snap.Load()
	w := working{
		keys:  maps.Clone(old.keys),
		plans: maps.Clone(old.plans),
		jwt:   maps.Clone(old.jwt),
	}
	isSynced := false
	for {
		n := 0
		closed := false
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				closed = true
				break
			}
			isSynced = w.apply(ev) || isSynced
			n++
		drain:
			for n < maxBatch {
				select {
				case ev, ok := <-events:
					if !ok {
						closed = true
						break drain
					}
					isSynced = w.apply(ev) || isSynced
					n++
				default:
					break drain
				}
			}
		}
		if isSynced && w.dirty() {
			ix.publish(&w)
		}
		if isSynced && synced != nil {
			close(synced)
			synced = nil
		}
		if closed {
			return
		}
	}
}

// publish makes w's state the current snapshot; maps w did not change are
// shared with the previous one.
func (ix *Index) publish(w *working) {
	old := ix.snap.Load()
	s := &snapshot{version: old.version + 1, keys: old.keys, plans: old.plans, jwt: old.jwt, jwtList: old.jwtList}
	if w.keysDirty {
		s.keys = maps.Clone(w.keys)
	}
	if w.plansDirty {
		s.plans = maps.Clone(w.plans)
	}
	if w.jwtDirty {
		s.jwt = maps.Clone(w.jwt)
		s.jwtList = slices.SortedFunc(maps.Values(s.jwt), func(a, b store.JWTKeyRecord) int { return strings.Compare(a.ID, b.ID) })
	}
	w.keysDirty, w.plansDirty, w.jwtDirty = false, false, false
	ix.snap.Store(s)
	ix.mu.Lock()
	if ix.changed != nil {
		close(ix.changed)
		ix.changed = nil
	}
	ix.mu.Unlock()
}

// Key returns the public record of the key the index holds under id.
func (ix *Index) Key(id string) (api.Key, bool) {
	e, ok := ix.snap.Load().keys[id]
	if !ok {
		return api.Key{}, false
	}
	return e.key, true
}

// Plan returns the plan the index holds under name.
func (ix *Index) Plan(name string) (api.Plan, bool) {
	p, ok := ix.snap.Load().plans[name]
	if !ok {
		return api.Plan{}, false
	}
	return p.Plan, true
}

// JWTKey returns the JWT key the index holds under id.
func (ix *Index) JWTKey(id string) (store.JWTKeyRecord, bool) {
	k, ok := ix.snap.Load().jwt[id]
	return k, ok
}

// WaitFor blocks until cond holds for the index or ctx ends, checking
// after every change the index publishes. The admin API uses it so that a
// key it created authenticates as soon as the call returns.
func (ix *Index) WaitFor(ctx context.Context, cond func(*Index) bool) error {
	for {
		ix.mu.Lock()
		if ix.changed == nil {
			ix.changed = make(chan struct{})
		}
		ch := ix.changed
		ix.mu.Unlock()
		if cond(ix) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// working is Run's own, mutable copy of the state.
type working struct {
	keys                            map[string]*keyEntry
	plans                           map[string]*Plan
	jwt                             map[string]store.JWTKeyRecord
	keysDirty, plansDirty, jwtDirty bool
}

func (w *working) dirty() bool { return w.keysDirty || w.plansDirty || w.jwtDirty }

// apply applies one event and reports whether it was the Synced one.
func (w *working) apply(ev store.AccessEvent) bool {
	switch {
	case ev.Synced:
		return true
	case ev.Plan != nil:
		if ev.Deleted {
			delete(w.plans, ev.Plan.Name)
		} else {
			w.plans[ev.Plan.Name] = newPlan(*ev.Plan)
		}
		w.plansDirty = true
	case ev.Key != nil:
		if ev.Deleted {
			delete(w.keys, ev.Key.ID)
		} else {
			w.keys[ev.Key.ID] = newKeyEntry(ev.Key)
		}
		w.keysDirty = true
	case ev.JWTKey != nil:
		if ev.Deleted {
			delete(w.jwt, ev.JWTKey.ID)
		} else {
			w.jwt[ev.JWTKey.ID] = *ev.JWTKey
		}
		w.jwtDirty = true
	}
	return false
}

// Authenticate checks a presented key for service at now and returns who
// it belongs to. The secret is checked first, in constant time: the key's
// SHA-256 is compared with subtle.ConstantTimeCompare against the stored
// hash (and the pre-rotation hash while now is before its PrevUntil); an
// unknown ID is compared against a dummy hash all the same. Only a right
// secret learns more: ErrRevoked, ErrExpired (at or after Expires), then
// ErrNotForService when the key's Services leave service out. Everything
// else is ErrInvalidKey. Safe for concurrent use; it takes no lock and,
// for a key it verified within the last second, does not allocate.
//
// A key that matched its hash is remembered with its record for
// verifiedFor (1s): the same key presented again in that time is compared
// with the remembered one (in constant time) instead of being hashed.
// Every request still does one such comparison, against a random dummy
// when nothing applies, and a key that does not match goes on to the
// hash, so the time taken still says nothing about which IDs exist. What
// is remembered never outlives the record: revoking, rotating, changing
// or deleting a key replaces its record in the index and forgets it, the
// pre-rotation key stops at PrevUntil, and expiry and the other checks
// run on every request.
func (ix *Index) Authenticate(presented, service string, now time.Time) (Identity, error) {
	s := ix.snap.Load()
	id, ok := ParseID(presented)
	if !ok {
		var sum [sha256.Size]byte
		subtle.ConstantTimeCompare(sum[:], ix.dummy[:])
		return Identity{}, ErrInvalidKey
	}
	var buf [Len]byte
	copy(buf[:], presented)
	e := s.keys[id]
	against := &ix.dummyKey
	if e != nil {
		if v := e.verified.Load(); v != nil && !now.Before(v.at) && now.Sub(v.at) < verifiedFor && (!v.prev || now.Before(e.prevUntil)) {
			against = &v.key
		}
	}
	if subtle.ConstantTimeCompare(buf[:], against[:]) != 1 {
		sum := sha256.Sum256(buf[:])
		if e == nil {
			subtle.ConstantTimeCompare(sum[:], ix.dummy[:])
			return Identity{}, ErrInvalidKey
		}
		cur := subtle.ConstantTimeCompare(sum[:], e.hash[:])
		prev := 0
		if now.Before(e.prevUntil) {
			prev = subtle.ConstantTimeCompare(sum[:], e.prev[:])
		}
		if cur|prev != 1 {
			return Identity{}, ErrInvalidKey
		}
		e.verified.Store(&verifiedKey{key: buf, at: now, prev: cur != 1})
	}
	switch e.key.State(now) {
	case api.KeyRevoked:
		return Identity{}, ErrRevoked
	case api.KeyExpired:
		return Identity{}, ErrExpired
	}
	if len(e.key.Services) > 0 && !slices.Contains(e.key.Services, service) {
		return Identity{}, ErrNotForService
	}
	return Identity{Key: &e.key, Plan: s.plans[e.key.Plan], AppValue: e.app[:1:1], IDValue: e.id[:1:1]}, nil
}

// JWTKeys returns the current JWT keys, sorted by ID, in a new slice.
func (ix *Index) JWTKeys() []store.JWTKeyRecord {
	return slices.Clone(ix.snap.Load().jwtList)
}

// Version is 0 until the initial values are in and then grows by one each
// time the index publishes a change (queued changes together), so callers
// can cache what they derive from the index, e.g. parsed JWT keys, and
// rebuild it when Version moves.
func (ix *Index) Version() uint64 { return ix.snap.Load().version }
