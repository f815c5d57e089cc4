package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Configuration limits.
const (
	// MaxConfigKey is the longest configuration key, in bytes.
	MaxConfigKey = 128
	// MaxConfigValue is the largest configuration value, in bytes.
	MaxConfigValue = 64 << 10
)

// ConfigEntry is one configuration value of a service. The store returns
// secret values like any other: hiding them from listings is the API's
// job, and the service itself reads them.
type ConfigEntry struct {
	Key    string
	Value  string
	Secret bool
	// Updated is when the value was last set.
	Updated time.Time
}

// configValue is a config entry as stored (JSON) under "<service>.<key>".
type configValue struct {
	Value   string    `json:"value"`
	Secret  bool      `json:"secret,omitempty"`
	Updated time.Time `json:"updated"`
}

// ValidConfigKey reports whether key is a configuration key: a letter or
// '_' followed by up to 127 letters, digits and '_' — the shape of an
// environment variable name.
func ValidConfigKey(key string) bool {
	if len(key) == 0 || len(key) > MaxConfigKey {
		return false
	}
	for i, c := range []byte(key) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

func checkConfigKey(service, key string) error {
	if !ValidConfigKey(key) {
		return fmt.Errorf("%w: config key %q of %s: want a letter or _ then up to %d letters, digits or _",
			ErrInvalidKey, key, service, MaxConfigKey-1)
	}
	return nil
}

// SetConfig sets service's configuration values, each marked secret or not
// as secret says; keys not in values keep theirs. Every key and value is
// checked before anything is written: ErrInvalidKey for a bad key,
// ErrTooLarge for a value over MaxConfigValue. The values are written one
// by one, so a failure half way can leave some set. Setting nothing is a
// no-op. The service need not exist: configuration may come before the
// first deploy.
func (s *Store) SetConfig(ctx context.Context, service string, values map[string]string, secret bool) error {
	if err := checkName(service); err != nil {
		return err
	}
	keys := make([]string, 0, len(values))
	for k, v := range values {
		if err := checkConfigKey(service, k); err != nil {
			return err
		}
		if len(v) > MaxConfigValue {
			return fmt.Errorf("%w: config value %s of %s is %d bytes, the limit is %d",
				ErrTooLarge, k, service, len(v), MaxConfigValue)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	now := time.Now().UTC()
	for _, k := range keys {
		b, err := json.Marshal(configValue{Value: values[k], Secret: secret, Updated: now})
		if err != nil {
			return fmt.Errorf("set config %s of %s: %w", k, service, err)
		}
		if _, err := s.config.Put(ctx, service+"."+k, b); err != nil {
			return fmt.Errorf("set config %s of %s: %w", k, service, kvErr(err))
		}
	}
	return nil
}

// Config returns service's configuration, sorted by key; none is not an
// error.
func (s *Store) Config(ctx context.Context, service string) ([]ConfigEntry, error) {
	if err := checkName(service); err != nil {
		return nil, err
	}
	var out []ConfigEntry
	err := s.scan(ctx, s.config, []string{service + ".*"}, func(e jetstream.KeyValueEntry) error {
		ce, err := decodeConfig(e)
		if err != nil {
			return err
		}
		out = append(out, ce)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list config of %s: %w", service, err)
	}
	slices.SortFunc(out, func(a, b ConfigEntry) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// ConfigValue returns one configuration value of service. ErrNotFound if
// it is not set; ErrInvalidKey if key cannot be a configuration key.
func (s *Store) ConfigValue(ctx context.Context, service, key string) (ConfigEntry, error) {
	if err := checkName(service); err != nil {
		return ConfigEntry{}, err
	}
	if err := checkConfigKey(service, key); err != nil {
		return ConfigEntry{}, err
	}
	e, err := s.config.Get(ctx, service+"."+key)
	if err != nil {
		return ConfigEntry{}, fmt.Errorf("get config %s of %s: %w", key, service, kvErr(err))
	}
	return decodeConfig(e)
}

// DeleteConfig removes one configuration value of service. ErrNotFound if
// it is not set.
func (s *Store) DeleteConfig(ctx context.Context, service, key string) error {
	if _, err := s.ConfigValue(ctx, service, key); err != nil {
		return fmt.Errorf("delete config: %w", err)
	}
	if err := s.config.Delete(ctx, service+"."+key); err != nil {
		return fmt.Errorf("delete config %s of %s: %w", key, service, kvErr(err))
	}
	return nil
}

// deleteAllConfig removes every configuration value of service, one delete
// marker per key so that WatchConfig reports each removal.
func (s *Store) deleteAllConfig(ctx context.Context, service string) error {
	entries, err := s.Config(ctx, service)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := s.config.Delete(ctx, service+"."+e.Key); err != nil {
			return fmt.Errorf("delete config %s of %s: %w", e.Key, service, kvErr(err))
		}
	}
	return nil
}

func decodeConfig(e jetstream.KeyValueEntry) (ConfigEntry, error) {
	_, key, ok := strings.Cut(e.Key(), ".")
	if !ok {
		return ConfigEntry{}, fmt.Errorf("config entry %q: key has no service", e.Key())
	}
	var v configValue
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		return ConfigEntry{}, fmt.Errorf("decode config %s: %w", e.Key(), err)
	}
	return ConfigEntry{Key: key, Value: v.Value, Secret: v.Secret, Updated: v.Updated}, nil
}

// ConfigEvent is one change to the configuration, as WatchConfig reports it.
type ConfigEvent struct {
	// Service is the service whose configuration changed; empty in the
	// Synced event.
	Service string
	// Entry is the new value. For a deletion only Entry.Key is set.
	Entry ConfigEntry
	// Deleted says the value was removed.
	Deleted bool
	// Synced marks the end of the initial values, as in Event.
	Synced bool
}

// WatchConfig reports every service's configuration the way Watch reports
// services: first every current value (in no set order), then one event
// with Synced set, then every change as it happens, until ctx ends or the
// store closes; then the channel is closed. No event is dropped; read
// promptly. DeleteService reports a deletion for each of the service's
// values. A value that does not decode is logged (without its content) and
// skipped.
func (s *Store) WatchConfig(ctx context.Context) (<-chan ConfigEvent, error) {
	return watch(ctx, s, s.config, "config", ConfigEvent{Synced: true},
		func(e jetstream.KeyValueEntry, deleted bool) (ConfigEvent, bool) {
			var ev ConfigEvent
			service, key, ok := strings.Cut(e.Key(), ".")
			if !ok {
				return ev, false
			}
			if deleted {
				ev.Service, ev.Entry.Key, ev.Deleted = service, key, true
				return ev, true
			}
			ce, err := decodeConfig(e)
			if err != nil {
				s.log.Error("watch config: undecodable value skipped", "key", e.Key(), "revision", e.Revision(), "err", err)
				return ev, false
			}
			ev.Service, ev.Entry = service, ce
			return ev, true
		})
}
