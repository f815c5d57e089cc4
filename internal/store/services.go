package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mote-run/mote/api"
)

// Service returns the named service and its revision, the value to pass to
// UpdateService. ErrNotFound if there is no such service.
func (s *Store) Service(ctx context.Context, name string) (api.Service, uint64, error) {
	if err := checkName(name); err != nil {
		return api.Service{}, 0, err
	}
	e, err := s.services.Get(ctx, name)
	if err != nil {
		return api.Service{}, 0, fmt.Errorf("get service %s: %w", name, kvErr(err))
	}
	var svc api.Service
	if err := json.Unmarshal(e.Value(), &svc); err != nil {
		return api.Service{}, 0, fmt.Errorf("get service %s: decode: %w", name, err)
	}
	return svc, e.Revision(), nil
}

// CreateService stores a new service under svc.Name and returns its
// revision. ErrExists if the name is taken.
func (s *Store) CreateService(ctx context.Context, svc api.Service) (uint64, error) {
	if err := checkName(svc.Name); err != nil {
		return 0, err
	}
	b, err := json.Marshal(svc)
	if err != nil {
		return 0, fmt.Errorf("create service %s: %w", svc.Name, err)
	}
	rev, err := s.services.Create(ctx, svc.Name, b)
	if err != nil {
		return 0, fmt.Errorf("create service %s: %w", svc.Name, kvErr(err))
	}
	return rev, nil
}

// UpdateService replaces svc.Name's value if its revision is still rev
// (compare-and-set) and returns the new revision. ErrConflict if someone
// wrote the service since rev was read; ErrNotFound if it does not exist.
func (s *Store) UpdateService(ctx context.Context, svc api.Service, rev uint64) (uint64, error) {
	if err := checkName(svc.Name); err != nil {
		return 0, err
	}
	if rev == 0 {
		return 0, fmt.Errorf("update service %s: %w: revision 0", svc.Name, ErrConflict)
	}
	b, err := json.Marshal(svc)
	if err != nil {
		return 0, fmt.Errorf("update service %s: %w", svc.Name, err)
	}
	nrev, err := s.services.Update(ctx, svc.Name, b, rev)
	if err == nil {
		return nrev, nil
	}
	if errors.Is(err, jetstream.ErrKeyExists) {
		// The revision did not match: tell a stale writer from a deleted service.
		if _, gerr := s.services.Get(ctx, svc.Name); errors.Is(gerr, jetstream.ErrKeyNotFound) {
			return 0, fmt.Errorf("update service %s: %w", svc.Name, ErrNotFound)
		}
		return 0, fmt.Errorf("update service %s: %w: revision %d is stale", svc.Name, ErrConflict, rev)
	}
	return 0, fmt.Errorf("update service %s: %w", svc.Name, kvErr(err))
}

// DeleteService removes a service with its versions, its configuration,
// its key-value namespace and its logs. ErrNotFound if there is no such
// service.
//
// Everything else goes first, the service last: if the process dies half
// way, the service is still listed and deleting it again finishes the job,
// and no orphaned version can block a later service of the same name.
func (s *Store) DeleteService(ctx context.Context, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	if _, err := s.services.Get(ctx, name); err != nil {
		return fmt.Errorf("delete service %s: %w", name, kvErr(err))
	}
	if err := s.verSt.Purge(ctx, jetstream.WithPurgeSubject("$KV."+versionsBucket+"."+name+".>")); err != nil {
		return fmt.Errorf("delete service %s: versions: %w", name, err)
	}
	if err := s.deleteAllConfig(ctx, name); err != nil {
		return fmt.Errorf("delete service %s: %w", name, err)
	}
	if err := s.deleteKV(ctx, name); err != nil {
		return fmt.Errorf("delete service %s: %w", name, err)
	}
	if err := s.DeleteLogs(ctx, name); err != nil {
		return fmt.Errorf("delete service %s: %w", name, err)
	}
	if err := s.services.Delete(ctx, name); err != nil {
		return fmt.Errorf("delete service %s: %w", name, kvErr(err))
	}
	return nil
}

// Services returns every service, sorted by name.
func (s *Store) Services(ctx context.Context) ([]api.Service, error) {
	out, err := scanJSON[api.Service](ctx, s, s.services, nil, "service")
	if err != nil {
		return nil, fmt.Errorf("list services: %w", err)
	}
	slices.SortFunc(out, func(a, b api.Service) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// PutVersion stores a new version of v.Service under v.Number. Versions are
// immutable: ErrExists if that number is already stored.
func (s *Store) PutVersion(ctx context.Context, v api.Version) error {
	key, err := versionKey(v.Service, v.Number)
	if err != nil {
		return err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("put version %s: %w", key, err)
	}
	if _, err := s.versions.Create(ctx, key, b); err != nil {
		return fmt.Errorf("put version %s: %w", key, kvErr(err))
	}
	return nil
}

// Version returns version n of service. ErrNotFound if it is not stored.
func (s *Store) Version(ctx context.Context, service string, n int) (api.Version, error) {
	key, err := versionKey(service, n)
	if err != nil {
		return api.Version{}, err
	}
	e, err := s.versions.Get(ctx, key)
	if err != nil {
		return api.Version{}, fmt.Errorf("get version %s: %w", key, kvErr(err))
	}
	var v api.Version
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		return api.Version{}, fmt.Errorf("get version %s: decode: %w", key, err)
	}
	return v, nil
}

// Versions returns every stored version of service, newest (highest number)
// first; none is not an error.
func (s *Store) Versions(ctx context.Context, service string) ([]api.Version, error) {
	if err := checkName(service); err != nil {
		return nil, err
	}
	out, err := scanJSON[api.Version](ctx, s, s.versions, []string{service + ".*"}, "version")
	if err != nil {
		return nil, fmt.Errorf("list versions of %s: %w", service, err)
	}
	slices.SortFunc(out, func(a, b api.Version) int { return b.Number - a.Number })
	return out, nil
}

func versionKey(service string, n int) (string, error) {
	if err := checkName(service); err != nil {
		return "", err
	}
	if n <= 0 {
		return "", fmt.Errorf("%w: version number %d of %s: want >= 1", ErrInvalidName, n, service)
	}
	return service + "." + strconv.Itoa(n), nil
}

// scan calls fn with the current value of every key of kv matching filters
// (all keys when none), through one ordered consumer rather than a request
// per key.
// scanJSON decodes every current value of kv (matching filters; nil for
// all) as a T, in no particular order; what names a T in errors.
func scanJSON[T any](ctx context.Context, s *Store, kv jetstream.KeyValue, filters []string, what string) ([]T, error) {
	var out []T
	err := s.scan(ctx, kv, filters, func(e jetstream.KeyValueEntry) error {
		var v T
		if err := json.Unmarshal(e.Value(), &v); err != nil {
			return fmt.Errorf("decode %s %s: %w", what, e.Key(), err)
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

func (s *Store) scan(ctx context.Context, kv jetstream.KeyValue, filters []string, fn func(jetstream.KeyValueEntry) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := kv.WatchFiltered(ctx, filters, jetstream.IgnoreDeletes())
	if err != nil {
		return err
	}
	defer w.Stop()
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return ErrClosed
			}
			if e == nil { // every current value has been delivered
				return nil
			}
			if err := fn(e); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Event is one change to the services, as Watch reports it.
type Event struct {
	// Service is the service's new value. For a deletion only Name is set.
	Service api.Service
	// Deleted says the service was removed.
	Deleted bool
	// Revision is the change's revision in the store: the value
	// UpdateService returned for it. Revisions only grow, so a writer can
	// wait until a watcher has seen its write.
	Revision uint64
	// Synced marks the end of the initial values: it comes exactly once,
	// after the current value of every service and before any live change.
	// Service is empty in that event.
	Synced bool
}

// Watch reports the services: first the current value of every service (in
// no set order, deleted ones left out), then one Event with Synced set, then
// every change as it happens, until ctx ends or the store closes; then the
// channel is closed.
//
// No event is ever dropped. The channel is unbuffered and a slow reader
// holds the watcher back: NATS' flow control then pauses delivery from the
// server, which keeps the changes meanwhile; nothing is lost, only delayed.
// Read promptly (e.g. apply each event to an in-memory map) to stay current.
//
// A value that does not decode as an api.Service is logged and skipped.
func (s *Store) Watch(ctx context.Context) (<-chan Event, error) {
	return watch(ctx, s, s.services, "services", Event{Synced: true},
		func(e jetstream.KeyValueEntry, deleted bool) (Event, bool) {
			ev := Event{Revision: e.Revision()}
			if deleted {
				ev.Deleted, ev.Service.Name = true, e.Key()
				return ev, true
			}
			if err := json.Unmarshal(e.Value(), &ev.Service); err != nil {
				s.log.Error("watch services: undecodable value skipped", "key", e.Key(), "revision", e.Revision(), "err", err)
				return ev, false
			}
			return ev, true
		})
}

// watch turns a KV bucket's watcher into a channel of events, with Watch's
// semantics: the current values (deletions before the start left out),
// then synced, then every change, each made by decode (which may skip an
// entry); the channel closes when ctx ends or the store closes.
func watch[E any](ctx context.Context, s *Store, kv jetstream.KeyValue, what string, synced E,
	decode func(e jetstream.KeyValueEntry, deleted bool) (E, bool)) (<-chan E, error) {
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", what, kvErr(err))
	}
	out := make(chan E)
	go func() {
		defer close(out)
		defer w.Stop()
		isSynced := false
		for {
			var ev E
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				switch {
				case e == nil: // the end of the initial values
					if isSynced {
						continue
					}
					isSynced, ev = true, synced
				case e.Operation() == jetstream.KeyValueDelete || e.Operation() == jetstream.KeyValuePurge:
					if !isSynced {
						continue // deleted before we started watching: not current
					}
					if ev, ok = decode(e, true); !ok {
						continue
					}
				default:
					if ev, ok = decode(e, false); !ok {
						continue
					}
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

// kvErr maps the KV client's errors to the store's sentinels.
func kvErr(err error) error {
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound), errors.Is(err, jetstream.ErrKeyDeleted):
		return ErrNotFound
	case errors.Is(err, jetstream.ErrKeyExists):
		return ErrExists
	}
	return err
}
