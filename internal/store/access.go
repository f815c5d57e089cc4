package store

import (
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mote-run/mote/api"
)

// Access-control names and limits.
const (
	// KeyIDLen is the length of an API key's ID: lowercase hex digits.
	KeyIDLen = 12
	// MaxJWTKeyID is the longest JWT key ID.
	MaxJWTKeyID = 64
	// MaxQuotaWindow is the longest window ID of a quota counter.
	MaxQuotaWindow = 32
	// QuotaRetention is how long a quota counter outlives its last change:
	// long enough for a monthly window to be over, short enough that old
	// windows do not pile up.
	QuotaRetention = 62 * 24 * time.Hour
)

// KeyRecord is an API key as stored: its public record and the hash of its
// secret.
type KeyRecord struct {
	api.Key
	// Hash is the hex SHA-256 of the whole key (64 lowercase hex digits).
	Hash string `json:"hash"`
	// PrevHash is the pre-rotation key's hash, valid until PrevUntil.
	PrevHash  string     `json:"prev_hash,omitempty"`
	PrevUntil *time.Time `json:"prev_until,omitempty"`
}

// JWTKeyRecord is a JWT verification key; Secret is the HS256 shared secret
// (never returned by the admin API).
type JWTKeyRecord struct {
	api.JWTKey
	Secret string `json:"secret,omitempty"`
}

// AccessEvent is one change to plans, keys or JWT keys, as WatchAccess
// reports it. Exactly one of Plan, Key and JWTKey is set unless Synced.
type AccessEvent struct {
	Plan   *api.Plan
	Key    *KeyRecord
	JWTKey *JWTKeyRecord
	// Deleted says the entry was removed; the set field then carries only
	// its name (Plan.Name) or ID (Key.ID, JWTKey.ID).
	Deleted bool
	// Synced marks the end of the initial values, as in Event; no field is
	// set in that event.
	Synced bool
}

// ValidKeyID reports whether id is an API key ID: KeyIDLen lowercase hex
// digits.
func ValidKeyID(id string) bool {
	if len(id) != KeyIDLen {
		return false
	}
	for _, c := range []byte(id) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// ValidJWTKeyID reports whether id is a JWT key ID: 1..MaxJWTKeyID of
// [A-Za-z0-9._-].
func ValidJWTKeyID(id string) bool {
	if len(id) == 0 || len(id) > MaxJWTKeyID {
		return false
	}
	for _, c := range []byte(id) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// validHash reports whether h is a hex SHA-256: 64 lowercase hex digits.
func validHash(h string) bool {
	if len(h) != 64 {
		return false
	}
	for _, c := range []byte(h) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func checkPlanName(name string) error {
	if !validName(name) {
		return fmt.Errorf("%w: plan name %q: want 1..63 of [a-z0-9-]", ErrInvalidName, name)
	}
	return nil
}

func checkKeyID(id string) error {
	if !ValidKeyID(id) {
		return fmt.Errorf("%w: key id %q: want %d lowercase hex digits", ErrInvalidName, id, KeyIDLen)
	}
	return nil
}

func checkJWTKeyID(id string) error {
	if !ValidJWTKeyID(id) {
		return fmt.Errorf("%w: JWT key id %q: want 1..%d of [A-Za-z0-9._-]", ErrInvalidName, id, MaxJWTKeyID)
	}
	return nil
}

// checkKey checks a key record's names and hashes.
func checkKey(k KeyRecord) error {
	if err := checkKeyID(k.ID); err != nil {
		return err
	}
	if !validName(k.App) {
		return fmt.Errorf("%w: app name %q of key %s: want 1..63 of [a-z0-9-]", ErrInvalidName, k.App, k.ID)
	}
	if k.Plan != "" {
		if err := checkPlanName(k.Plan); err != nil {
			return fmt.Errorf("key %s: %w", k.ID, err)
		}
	}
	for _, svc := range k.Services {
		if err := checkName(svc); err != nil {
			return fmt.Errorf("key %s: %w", k.ID, err)
		}
	}
	if !validHash(k.Hash) {
		return fmt.Errorf("%w: key %s: hash: want 64 lowercase hex digits", ErrInvalidKey, k.ID)
	}
	if k.PrevHash != "" && !validHash(k.PrevHash) {
		return fmt.Errorf("%w: key %s: previous hash: want 64 lowercase hex digits", ErrInvalidKey, k.ID)
	}
	return nil
}

// jwtKeyName is the KV key of a JWT key ID: its hex, since an ID may hold
// dots that would split (or, leading, trailing or doubled, break) a subject.
func jwtKeyName(id string) string { return hex.EncodeToString([]byte(id)) }

// checkCounter checks a quota counter's name: "<key id>.<window id>", the
// window 1..MaxQuotaWindow of [A-Za-z0-9_-].
func checkCounter(counter string) error {
	id, window, ok := strings.Cut(counter, ".")
	good := ok && ValidKeyID(id) && len(window) > 0 && len(window) <= MaxQuotaWindow
	for _, c := range []byte(window) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			good = false
		}
	}
	if !good {
		return fmt.Errorf("%w: quota counter %q: want <key id>.<window>, the window 1..%d of [A-Za-z0-9_-]",
			ErrInvalidName, counter, MaxQuotaWindow)
	}
	return nil
}

// CreatePlan stores a new plan under p.Name. ErrExists if the name is
// taken; ErrInvalidName if it is not 1..63 of [a-z0-9-].
func (s *Store) CreatePlan(ctx context.Context, p api.Plan) error {
	if err := checkPlanName(p.Name); err != nil {
		return err
	}
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("create plan %s: %w", p.Name, err)
	}
	if _, err := s.plans.Create(ctx, p.Name, b); err != nil {
		return fmt.Errorf("create plan %s: %w", p.Name, kvErr(err))
	}
	return nil
}

// PutPlan stores p under p.Name, creating or replacing it.
func (s *Store) PutPlan(ctx context.Context, p api.Plan) error {
	if err := checkPlanName(p.Name); err != nil {
		return err
	}
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("put plan %s: %w", p.Name, err)
	}
	if _, err := s.plans.Put(ctx, p.Name, b); err != nil {
		return fmt.Errorf("put plan %s: %w", p.Name, kvErr(err))
	}
	return nil
}

// Plan returns the named plan. ErrNotFound if there is none.
func (s *Store) Plan(ctx context.Context, name string) (api.Plan, error) {
	if err := checkPlanName(name); err != nil {
		return api.Plan{}, err
	}
	e, err := s.plans.Get(ctx, name)
	if err != nil {
		return api.Plan{}, fmt.Errorf("get plan %s: %w", name, kvErr(err))
	}
	var p api.Plan
	if err := json.Unmarshal(e.Value(), &p); err != nil {
		return api.Plan{}, fmt.Errorf("get plan %s: decode: %w", name, err)
	}
	return p, nil
}

// Plans returns every plan, sorted by name.
func (s *Store) Plans(ctx context.Context) ([]api.Plan, error) {
	out, err := scanJSON[api.Plan](ctx, s, s.plans, nil, "plan")
	if err != nil {
		return nil, fmt.Errorf("list plans: %w", err)
	}
	slices.SortFunc(out, func(a, b api.Plan) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// DeletePlan removes the named plan. ErrNotFound if there is none. Keys on
// the plan are left alone (whether to refuse is the caller's choice).
func (s *Store) DeletePlan(ctx context.Context, name string) error {
	if err := checkPlanName(name); err != nil {
		return err
	}
	if _, err := s.plans.Get(ctx, name); err != nil {
		return fmt.Errorf("delete plan %s: %w", name, kvErr(err))
	}
	if err := s.plans.Delete(ctx, name); err != nil {
		return fmt.Errorf("delete plan %s: %w", name, kvErr(err))
	}
	return nil
}

// CreateKey stores a new API key under k.ID. ErrExists if the ID is taken;
// ErrInvalidName for a bad ID, app, plan or service name (the plan may be
// empty and need not exist); ErrInvalidKey if a hash is not 64 lowercase hex
// digits.
func (s *Store) CreateKey(ctx context.Context, k KeyRecord) error {
	if err := checkKey(k); err != nil {
		return err
	}
	b, err := json.Marshal(k)
	if err != nil {
		return fmt.Errorf("create key %s: %w", k.ID, err)
	}
	if _, err := s.keys.Create(ctx, k.ID, b); err != nil {
		return fmt.Errorf("create key %s: %w", k.ID, kvErr(err))
	}
	return nil
}

// Key returns the API key with that ID and its revision, the value to pass
// to UpdateKey. ErrNotFound if there is none.
func (s *Store) Key(ctx context.Context, id string) (KeyRecord, uint64, error) {
	if err := checkKeyID(id); err != nil {
		return KeyRecord{}, 0, err
	}
	e, err := s.keys.Get(ctx, id)
	if err != nil {
		return KeyRecord{}, 0, fmt.Errorf("get key %s: %w", id, kvErr(err))
	}
	var k KeyRecord
	if err := json.Unmarshal(e.Value(), &k); err != nil {
		return KeyRecord{}, 0, fmt.Errorf("get key %s: decode: %w", id, err)
	}
	return k, e.Revision(), nil
}

// UpdateKey replaces k.ID's record if its revision is still rev
// (compare-and-set) and returns the new revision. ErrConflict if someone
// wrote the key since rev was read; ErrNotFound if it does not exist; the
// record is checked as by CreateKey.
func (s *Store) UpdateKey(ctx context.Context, k KeyRecord, rev uint64) (uint64, error) {
	if err := checkKey(k); err != nil {
		return 0, err
	}
	if rev == 0 {
		return 0, fmt.Errorf("update key %s: %w: revision 0", k.ID, ErrConflict)
	}
	b, err := json.Marshal(k)
	if err != nil {
		return 0, fmt.Errorf("update key %s: %w", k.ID, err)
	}
	nrev, err := s.keys.Update(ctx, k.ID, b, rev)
	if err == nil {
		return nrev, nil
	}
	if errors.Is(err, jetstream.ErrKeyExists) {
		if _, gerr := s.keys.Get(ctx, k.ID); errors.Is(kvErr(gerr), ErrNotFound) {
			return 0, fmt.Errorf("update key %s: %w", k.ID, ErrNotFound)
		}
		return 0, fmt.Errorf("update key %s: %w: revision %d is stale", k.ID, ErrConflict, rev)
	}
	return 0, fmt.Errorf("update key %s: %w", k.ID, kvErr(err))
}

// DeleteKey removes the API key with that ID. ErrNotFound if there is none.
// Its quota counters are left to expire (QuotaRetention).
func (s *Store) DeleteKey(ctx context.Context, id string) error {
	if err := checkKeyID(id); err != nil {
		return err
	}
	if _, err := s.keys.Get(ctx, id); err != nil {
		return fmt.Errorf("delete key %s: %w", id, kvErr(err))
	}
	if err := s.keys.Delete(ctx, id); err != nil {
		return fmt.Errorf("delete key %s: %w", id, kvErr(err))
	}
	return nil
}

// Keys returns every API key, sorted by App, then Created, then ID.
func (s *Store) Keys(ctx context.Context) ([]KeyRecord, error) {
	out, err := scanJSON[KeyRecord](ctx, s, s.keys, nil, "key")
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	slices.SortFunc(out, func(a, b KeyRecord) int {
		return cmp.Or(strings.Compare(a.App, b.App), a.Created.Compare(b.Created), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// PutJWTKey stores k under k.ID, creating or replacing it. ErrInvalidName
// if the ID is not 1..MaxJWTKeyID of [A-Za-z0-9._-]. The algorithm and key
// material are the caller's to check.
func (s *Store) PutJWTKey(ctx context.Context, k JWTKeyRecord) error {
	if err := checkJWTKeyID(k.ID); err != nil {
		return err
	}
	b, err := json.Marshal(k)
	if err != nil {
		return fmt.Errorf("put JWT key %s: %w", k.ID, err)
	}
	if _, err := s.jwtKeys.Put(ctx, jwtKeyName(k.ID), b); err != nil {
		return fmt.Errorf("put JWT key %s: %w", k.ID, kvErr(err))
	}
	return nil
}

// JWTKeys returns every JWT key, sorted by ID.
func (s *Store) JWTKeys(ctx context.Context) ([]JWTKeyRecord, error) {
	out, err := scanJSON[JWTKeyRecord](ctx, s, s.jwtKeys, nil, "JWT key")
	if err != nil {
		return nil, fmt.Errorf("list JWT keys: %w", err)
	}
	slices.SortFunc(out, func(a, b JWTKeyRecord) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// DeleteJWTKey removes the JWT key with that ID. ErrNotFound if there is
// none.
func (s *Store) DeleteJWTKey(ctx context.Context, id string) error {
	if err := checkJWTKeyID(id); err != nil {
		return err
	}
	name := jwtKeyName(id)
	if _, err := s.jwtKeys.Get(ctx, name); err != nil {
		return fmt.Errorf("delete JWT key %s: %w", id, kvErr(err))
	}
	if err := s.jwtKeys.Delete(ctx, name); err != nil {
		return fmt.Errorf("delete JWT key %s: %w", id, kvErr(err))
	}
	return nil
}

// WatchAccess reports plans, API keys and JWT keys the way Watch reports
// services: first every current entry (in no set order), then one event
// with Synced set, then every change as it happens, until ctx ends or the
// store closes; then the channel is closed. The three buckets are watched
// separately, so a change to one made while another is still loading may
// come before Synced; it is a current value all the same (a deletion among
// them removes something reported earlier). No event is dropped; read
// promptly. A value that does not decode is logged (without its content)
// and skipped.
func (s *Store) WatchAccess(ctx context.Context) (<-chan AccessEvent, error) {
	ctx, cancel := context.WithCancel(ctx)
	synced := AccessEvent{Synced: true}
	skip := func(what string, e jetstream.KeyValueEntry, err error) (AccessEvent, bool) {
		s.log.Error("watch "+what+": undecodable value skipped", "key", e.Key(), "revision", e.Revision(), "err", err)
		return AccessEvent{}, false
	}
	plans, err := watch(ctx, s, s.plans, "plans", synced, func(e jetstream.KeyValueEntry, deleted bool) (AccessEvent, bool) {
		p := &api.Plan{Name: e.Key()}
		if !deleted {
			if err := json.Unmarshal(e.Value(), p); err != nil {
				return skip("plans", e, err)
			}
		}
		return AccessEvent{Plan: p, Deleted: deleted}, true
	})
	if err != nil {
		cancel()
		return nil, err
	}
	keys, err := watch(ctx, s, s.keys, "keys", synced, func(e jetstream.KeyValueEntry, deleted bool) (AccessEvent, bool) {
		k := &KeyRecord{Key: api.Key{ID: e.Key()}}
		if !deleted {
			if err := json.Unmarshal(e.Value(), k); err != nil {
				return skip("keys", e, err)
			}
		}
		return AccessEvent{Key: k, Deleted: deleted}, true
	})
	if err != nil {
		cancel()
		return nil, err
	}
	jwtKeys, err := watch(ctx, s, s.jwtKeys, "JWT keys", synced, func(e jetstream.KeyValueEntry, deleted bool) (AccessEvent, bool) {
		id, derr := hex.DecodeString(e.Key())
		if derr != nil {
			return skip("JWT keys", e, derr)
		}
		k := &JWTKeyRecord{JWTKey: api.JWTKey{ID: string(id)}}
		if !deleted {
			if err := json.Unmarshal(e.Value(), k); err != nil {
				return skip("JWT keys", e, err)
			}
		}
		return AccessEvent{JWTKey: k, Deleted: deleted}, true
	})
	if err != nil {
		cancel()
		return nil, err
	}

	out := make(chan AccessEvent)
	go func() {
		// Each watch goroutine exits on cancel, closing its channel.
		defer close(out)
		defer cancel()
		ins := []<-chan AccessEvent{plans, keys, jwtKeys}
		pending := len(ins) // buckets not yet synced
		for {
			var ev AccessEvent
			var ok bool
			select {
			case ev, ok = <-ins[0]:
			case ev, ok = <-ins[1]:
			case ev, ok = <-ins[2]:
			case <-ctx.Done():
				return
			}
			if !ok {
				return // the store closed (or ctx ended)
			}
			if ev.Synced {
				if pending--; pending > 0 {
					continue
				}
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// LoadQuota returns a quota counter's value; 0 when it does not exist (never
// counted, or expired QuotaRetention after its last change). A counter is
// named "<key id>.<window id>" (e.g. "0a1b2c3d4e5f.2026-11"); ErrInvalidName
// otherwise.
func (s *Store) LoadQuota(ctx context.Context, counter string) (int64, error) {
	if err := checkCounter(counter); err != nil {
		return 0, err
	}
	n, _, err := s.loadQuota(ctx, counter)
	if err != nil {
		return 0, fmt.Errorf("load quota %s: %w", counter, err)
	}
	return n, nil
}

// loadQuota returns a counter's value and revision; 0, 0 when absent.
func (s *Store) loadQuota(ctx context.Context, counter string) (int64, uint64, error) {
	e, err := s.quota.Get(ctx, counter)
	if err != nil {
		if errors.Is(kvErr(err), ErrNotFound) {
			return 0, 0, nil
		}
		return 0, 0, kvErr(err)
	}
	n, err := strconv.ParseInt(string(e.Value()), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("decode: %w", err)
	}
	return n, e.Revision(), nil
}

// AddQuota adds delta (which may be negative) to a quota counter, creating
// it at 0 first, and returns the new total. Concurrent adders all land:
// each add is a compare-and-set, retried on conflict until ctx ends. Each
// call writes (and, unless Options.NoSync, fsyncs) once per attempt, so
// callers on a hot path should batch their deltas.
func (s *Store) AddQuota(ctx context.Context, counter string, delta int64) (int64, error) {
	if err := checkCounter(counter); err != nil {
		return 0, err
	}
	for {
		n, rev, err := s.loadQuota(ctx, counter)
		if err != nil {
			return 0, fmt.Errorf("add quota %s: %w", counter, err)
		}
		n += delta
		v := []byte(strconv.FormatInt(n, 10))
		if rev == 0 {
			_, err = s.quota.Create(ctx, counter, v)
		} else {
			_, err = s.quota.Update(ctx, counter, v, rev)
		}
		if err == nil {
			return n, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return 0, fmt.Errorf("add quota %s: %w", counter, kvErr(err))
		}
		// Someone else wrote first: read again and retry.
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("add quota %s: %w", counter, err)
		}
	}
}

// QuotaEntry returns the raw value and revision of an entry of the quota
// bucket (ratelimit.QuotaEntries); nil, 0 when there is none.
func (s *Store) QuotaEntry(ctx context.Context, key string) ([]byte, uint64, error) {
	if err := checkQuotaEntry(key); err != nil {
		return nil, 0, err
	}
	e, err := s.quota.Get(ctx, key)
	if err != nil {
		if errors.Is(kvErr(err), ErrNotFound) {
			return nil, 0, nil
		}
		return nil, 0, fmt.Errorf("quota entry %s: %w", key, kvErr(err))
	}
	return e.Value(), e.Revision(), nil
}

// SwapQuotaEntry writes an entry of the quota bucket if its revision is
// still rev (0: if it does not exist) and returns the new revision; ok is
// false, with no error, when another writer was first.
func (s *Store) SwapQuotaEntry(ctx context.Context, key string, value []byte, rev uint64) (uint64, bool, error) {
	if err := checkQuotaEntry(key); err != nil {
		return 0, false, err
	}
	var (
		next uint64
		err  error
	)
	if rev == 0 {
		next, err = s.quota.Create(ctx, key, value)
	} else {
		next, err = s.quota.Update(ctx, key, value, rev)
	}
	switch {
	case err == nil:
		return next, true, nil
	case errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyRevisionMismatch):
		return 0, false, nil
	}
	return 0, false, fmt.Errorf("quota entry %s: %w", key, kvErr(err))
}

// checkQuotaEntry checks the key of a quota bucket entry: a counter
// ("<key id>.<window>") or a batched entry ("shard.<window>.<2 hex>").
func checkQuotaEntry(key string) error {
	if rest, ok := strings.CutPrefix(key, "shard."); ok {
		window, shard, ok := strings.Cut(rest, ".")
		if ok && len(shard) == 2 && checkCounter("000000000000."+window) == nil && strings.Trim(shard, "0123456789abcdef") == "" {
			return nil
		}
		return fmt.Errorf("%w: quota entry %q", ErrInvalidName, key)
	}
	return checkCounter(key)
}
