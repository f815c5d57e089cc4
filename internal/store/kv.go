package store

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Key-value limits (docs/abi.md).
const (
	// MaxKVKey is the longest key, in bytes.
	MaxKVKey = 512
	// MaxKVValue is the largest value, in bytes.
	MaxKVValue = 1 << 20
	// MaxKVList is the most keys KVList returns.
	MaxKVList = 1000
	// MaxKVTTL is the longest TTL; KVSet treats a longer one as none.
	MaxKVTTL = 100 * 365 * 24 * time.Hour
)

const (
	kvBucketPrefix = "mote_kv_"
	// expiresHeader holds a value's expiry, in Unix milliseconds.
	expiresHeader = "Mote-Expires"
	// kvMarkerTTL is how long the delete markers of removed and expired
	// keys stay; nothing watches the kv buckets, so they need not last.
	kvMarkerTTL = 10 * time.Second
	// kvMaxMsg is a kv message's cap: a full value plus its headers.
	kvMaxMsg = MaxKVValue + 4<<10
)

// kvBucket is an open key-value bucket of one service.
type kvBucket struct {
	kv     jetstream.KeyValue
	stream jetstream.Stream
	subj   string // "$KV.<bucket>."
}

// KVGet returns the value of key in service's namespace. ErrNotFound if the
// key is not set or has expired; ErrInvalidKey for a key that is not
// 1..MaxKVKey bytes of UTF-8.
func (s *Store) KVGet(ctx context.Context, service, key string) ([]byte, error) {
	subj, b, err := s.kvKey(ctx, service, key, false)
	if err != nil {
		return nil, fmt.Errorf("kv get: %w", err)
	}
	if b == nil {
		return nil, fmt.Errorf("kv get %q of %s: %w", key, service, ErrNotFound)
	}
	m, err := b.stream.GetLastMsgForSubject(ctx, subj)
	if err != nil {
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			err = ErrNotFound
		}
		return nil, fmt.Errorf("kv get %q of %s: %w", key, service, err)
	}
	if !live(m.Header, time.Now()) {
		return nil, fmt.Errorf("kv get %q of %s: %w", key, service, ErrNotFound)
	}
	return m.Data, nil
}

// KVSet sets key to value in service's namespace, creating the namespace on
// first use. A positive ttl makes the key expire that long from now (to the
// millisecond); zero, or more than MaxKVTTL, means never. ErrInvalidKey for a bad key, ErrTooLarge
// for a value over MaxKVValue. The value is on disk (fsynced unless
// Options.NoSync) when KVSet returns.
func (s *Store) KVSet(ctx context.Context, service, key string, value []byte, ttl time.Duration) error {
	if len(value) > MaxKVValue {
		return fmt.Errorf("kv set %q of %s: %w: the value is %d bytes, the limit is %d", key, service, ErrTooLarge, len(value), MaxKVValue)
	}
	if ttl < 0 {
		return fmt.Errorf("kv set %q of %s: %w: negative ttl %s", key, service, ErrInvalidKey, ttl)
	}
	subj, b, err := s.kvKey(ctx, service, key, true)
	if err != nil {
		return fmt.Errorf("kv set: %w", err)
	}
	m := &nats.Msg{Subject: subj, Data: value, Header: nats.Header{}}
	opts := []jetstream.PublishOpt{jetstream.WithExpectStream(b.stream.CachedInfo().Config.Name)}
	if ttl > MaxKVTTL {
		ttl = 0
	}
	if ttl > 0 {
		// The header says when the value expires, to the millisecond, and
		// reads honour it; the server's per-message TTL (whole seconds,
		// rounded up so it never fires early) removes the message later.
		m.Header.Set(expiresHeader, strconv.FormatInt(time.Now().Add(ttl).UnixMilli(), 10))
		opts = append(opts, jetstream.WithMsgTTL(ttl.Round(time.Second)+time.Second))
	}
	if _, err := s.js.PublishMsg(ctx, m, opts...); err != nil {
		return fmt.Errorf("kv set %q of %s: %w", key, service, err)
	}
	return nil
}

// KVDelete removes key from service's namespace; removing a key that is not
// set succeeds. ErrInvalidKey for a bad key.
func (s *Store) KVDelete(ctx context.Context, service, key string) error {
	_, b, err := s.kvKey(ctx, service, key, false)
	if err != nil {
		return fmt.Errorf("kv delete: %w", err)
	}
	if b == nil {
		return nil
	}
	// A purge leaves one marker instead of the value; the marker expires.
	if err := b.kv.Purge(ctx, hex.EncodeToString([]byte(key)), jetstream.PurgeTTL(kvMarkerTTL)); err != nil {
		return fmt.Errorf("kv delete %q of %s: %w", key, service, err)
	}
	return nil
}

// KVList returns the keys of service's namespace that start with prefix
// (all keys for ""), sorted bytewise, at most MaxKVList of them: the first
// MaxKVList in that order. Expired keys are left out. It reads every key's
// headers (not values) of the namespace, so it costs time in proportion
// to the namespace's size.
func (s *Store) KVList(ctx context.Context, service, prefix string) ([]string, error) {
	if err := checkName(service); err != nil {
		return nil, fmt.Errorf("kv list: %w", err)
	}
	if len(prefix) > MaxKVKey || !utf8.ValidString(prefix) {
		return nil, fmt.Errorf("kv list: %w: prefix %q: want at most %d bytes of UTF-8", ErrInvalidKey, prefix, MaxKVKey)
	}
	b, err := s.kvBucket(ctx, service, false)
	if err != nil || b == nil {
		return nil, err
	}
	keys, err := b.list(ctx, hex.EncodeToString([]byte(prefix)))
	if err != nil {
		return nil, fmt.Errorf("kv list %q of %s: %w", prefix, service, err)
	}
	return keys, nil
}

func (b *kvBucket) list(ctx context.Context, hexPrefix string) ([]string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cons, err := b.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{b.subj + ">"},
		DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
		HeadersOnly:    true,
		// In case the delete below fails.
		InactiveThreshold: 10 * time.Second,
	})
	if err != nil {
		return nil, err
	}
	// An ordered consumer outlives its client by InactiveThreshold: delete
	// it, or a guest listing in a loop piles them up on the server.
	defer func() { _ = b.stream.DeleteConsumer(context.WithoutCancel(ctx), cons.CachedInfo().Name) }()
	if cons.CachedInfo().NumPending == 0 {
		return nil, nil
	}
	msgs, err := cons.Messages()
	if err != nil {
		return nil, err
	}
	defer msgs.Stop()
	var keys []string // hex, trimmed to MaxKVList whenever it doubles
	trim := func() {
		slices.Sort(keys)
		keys = slices.Compact(keys)
		if len(keys) > MaxKVList {
			keys = keys[:MaxKVList]
		}
	}
	now := time.Now()
	for {
		m, err := msgs.Next(jetstream.NextContext(ctx))
		if err != nil {
			return nil, err
		}
		k := strings.TrimPrefix(m.Subject(), b.subj)
		if strings.HasPrefix(k, hexPrefix) && live(m.Headers(), now) {
			keys = append(keys, k)
			if len(keys) >= 2*MaxKVList {
				trim()
			}
		}
		md, err := m.Metadata()
		if err != nil {
			return nil, err
		}
		if md.NumPending == 0 {
			break
		}
	}
	trim()
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		raw, err := hex.DecodeString(k)
		if err != nil {
			continue // not a key KVSet wrote
		}
		out = append(out, string(raw))
	}
	return out, nil
}

// live reports whether a kv message with header h holds a value at now: it
// is not a delete marker and has not expired.
func live(h nats.Header, now time.Time) bool {
	if h.Get(jetstream.MarkerReasonHeader) != "" || h.Get("KV-Operation") != "" {
		return false
	}
	if exp := h.Get(expiresHeader); exp != "" {
		ms, err := strconv.ParseInt(exp, 10, 64)
		return err == nil && now.UnixMilli() < ms
	}
	return true
}

// kvKey checks service and key and returns the key's subject and the
// service's bucket; the bucket is nil when it does not exist and create is
// false.
func (s *Store) kvKey(ctx context.Context, service, key string, create bool) (string, *kvBucket, error) {
	if err := checkName(service); err != nil {
		return "", nil, err
	}
	if len(key) == 0 || len(key) > MaxKVKey || !utf8.ValidString(key) {
		return "", nil, fmt.Errorf("%w: kv key %q: want 1..%d bytes of UTF-8", ErrInvalidKey, key, MaxKVKey)
	}
	b, err := s.kvBucket(ctx, service, create)
	if err != nil || b == nil {
		return "", nil, err
	}
	return b.subj + hex.EncodeToString([]byte(key)), b, nil
}

// kvBucket returns service's bucket, opening it (and creating it when
// create is set) on first use. It returns nil, nil for a bucket that does
// not exist when create is false.
func (s *Store) kvBucket(ctx context.Context, service string, create bool) (*kvBucket, error) {
	s.kvMu.Lock()
	defer s.kvMu.Unlock()
	if b := s.kvs[service]; b != nil {
		return b, nil
	}
	name := kvBucketPrefix + service
	var kv jetstream.KeyValue
	var err error
	if create {
		kv, err = s.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:       name,
			Description:  "mote key-value namespace of service " + service + ", key = hex of the key",
			History:      1,
			MaxValueSize: kvMaxMsg,
			Storage:      jetstream.FileStorage,
			// Enables per-message TTLs; markers of expired keys expire too.
			LimitMarkerTTL: kvMarkerTTL,
		})
	} else {
		kv, err = s.js.KeyValue(ctx, name)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			return nil, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("kv bucket of %s: %w", service, err)
	}
	st, err := s.js.Stream(ctx, "KV_"+name)
	if err != nil {
		return nil, fmt.Errorf("kv bucket of %s: %w", service, err)
	}
	b := &kvBucket{kv: kv, stream: st, subj: "$KV." + name + "."}
	if s.kvs == nil {
		s.kvs = make(map[string]*kvBucket)
	}
	s.kvs[service] = b
	return b, nil
}

// deleteKV removes service's key-value namespace, if it has one.
func (s *Store) deleteKV(ctx context.Context, service string) error {
	s.kvMu.Lock()
	defer s.kvMu.Unlock()
	delete(s.kvs, service)
	err := s.js.DeleteKeyValue(ctx, kvBucketPrefix+service)
	if err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) {
		return fmt.Errorf("kv namespace: %w", err)
	}
	return nil
}
