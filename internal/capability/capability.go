// Package capability gives a service's guests the host capabilities its
// manifest grants (docs/abi.md, "Host capabilities"): its key-value
// namespace, its configuration, outbound HTTP to allowed hosts, calls to
// allowed services, and structured log lines. A Host implements
// sandbox.Host for one version of one service.
//
// Everything is denied unless the manifest's [allow] table grants it. A
// denial returns an error matching sandbox.ErrDenied whose message names the
// manifest key that grants it, and puts a warning in the service's logs
// with the request's id. Errors match the sandbox's classes (ErrDenied,
// ErrNotFound, ErrTooLarge, ErrInvalid, ErrTimeout, ErrDepth); their
// messages are written for the guest's author and never hold a
// configuration value.
package capability

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/manifest"
	"github.com/mote-run/mote/internal/sandbox"
	"github.com/mote-run/mote/internal/store"
)

// Defaults for Options' zero values.
const (
	// DefaultMaxResponse caps a fetched or called response's body when
	// Options.MaxResponse is 0 (the manifest's default [limits] response).
	DefaultMaxResponse = int64(manifest.DefaultResponse)
	// MaxFetchTimeout bounds one outbound HTTP request, redirects included;
	// the guest's own deadline cuts it shorter.
	MaxFetchTimeout = 30 * time.Second
)

// KV is the store's key-value API, one namespace per service; *store.Store
// implements it. Errors match store.ErrNotFound, store.ErrInvalidKey and
// store.ErrTooLarge.
type KV interface {
	KVGet(ctx context.Context, service, key string) ([]byte, error)
	KVSet(ctx context.Context, service, key string, value []byte, ttl time.Duration) error
	KVDelete(ctx context.Context, service, key string) error
	KVList(ctx context.Context, service, prefix string) ([]string, error)
}

// Caller sends a request to another service in-process; the gateway
// implements it. It returns an error matching sandbox.ErrNotFound when no
// such service is serving, and the callee's errors (sandbox.ErrTimeout,
// *sandbox.GuestError, …) otherwise.
type Caller interface {
	Call(ctx context.Context, service string, req *sandbox.Request) (*sandbox.Response, error)
}

// Options configure a Host. Service is required; every other zero value
// denies or defaults as its comment says.
type Options struct {
	// Service and Version name the version the Host serves; log lines
	// carry them.
	Service string
	Version int
	// Allow is the manifest's [allow] table; the zero value denies all.
	Allow manifest.Allow
	// KV holds the service's key-value namespace. nil fails kv calls even
	// when granted.
	KV KV
	// Config is the node's in-memory view of every service's
	// configuration. nil has no values.
	Config *ConfigView
	// Logs receives the service's log lines and the denials. nil discards.
	Logs sandbox.LogSink
	// Caller serves calls to other services. nil fails calls even when
	// granted.
	Caller Caller
	// HTTPClient sends fetches; nil uses a client of this package's own
	// (no proxy from the environment, no cookie jar). Its CheckRedirect is
	// replaced by the Host's, which follows only allowed hosts.
	HTTPClient *http.Client
	// MaxResponse caps the body of a fetched or called response ([limits]
	// response); 0 means DefaultMaxResponse.
	MaxResponse int64
	// FetchTimeout bounds one fetch; 0 or more than MaxFetchTimeout means
	// MaxFetchTimeout.
	FetchTimeout time.Duration
}

// Host gives one version's guests their capabilities. It is safe for
// concurrent use.
type Host struct {
	opts   Options
	client *http.Client

	// Denials are logged at most denyBurst per second; the rest are
	// counted and reported with the next line logged.
	denyMu      sync.Mutex
	denyWindow  time.Time
	denyCount   int
	denyDropped int
}

var _ sandbox.Host = (*Host)(nil)

const denyBurst = 10

// New returns a Host for one version of a service.
func New(opts Options) *Host {
	if opts.Logs == nil {
		opts.Logs = sandbox.LogFunc(func(api.LogEntry) {})
	}
	if opts.MaxResponse <= 0 {
		opts.MaxResponse = DefaultMaxResponse
	}
	if opts.FetchTimeout <= 0 || opts.FetchTimeout > MaxFetchTimeout {
		opts.FetchTimeout = MaxFetchTimeout
	}
	h := &Host{opts: opts}
	base := opts.HTTPClient
	if base == nil {
		base = defaultClient
	}
	c := *base
	c.CheckRedirect = h.checkRedirect
	h.client = &c
	return h
}

// Error is a capability call's failure: its message is for the guest, and
// it matches its class (one of the sandbox's errors) with errors.Is.
type Error struct {
	Class error
	Msg   string
}

func (e *Error) Error() string { return e.Msg }

// Unwrap returns the class.
func (e *Error) Unwrap() error { return e.Class }

func errorf(class error, format string, args ...any) error {
	return &Error{Class: class, Msg: fmt.Sprintf(format, args...)}
}

// deny logs a denial and returns it as an error.
func (h *Host) deny(ctx context.Context, format string, args ...any) error {
	err := errorf(sandbox.ErrDenied, format, args...)
	h.denyMu.Lock()
	now := time.Now()
	if now.Sub(h.denyWindow) >= time.Second {
		h.denyWindow, h.denyCount = now, 0
	}
	h.denyCount++
	logIt, dropped := h.denyCount <= denyBurst, 0
	if logIt {
		dropped, h.denyDropped = h.denyDropped, 0
	} else {
		h.denyDropped++
	}
	h.denyMu.Unlock()
	if logIt {
		msg := err.Error()
		if dropped > 0 {
			msg += fmt.Sprintf(" (and %d more denials not logged)", dropped)
		}
		h.log(ctx, api.StreamMote, "warn", msg)
	}
	return err
}

func (h *Host) log(ctx context.Context, stream, level, msg string) {
	e := api.LogEntry{Time: time.Now(), Service: h.opts.Service, Version: h.opts.Version,
		Stream: stream, Level: level, Message: msg}
	if r := sandbox.RequestFrom(ctx); r != nil {
		e.RequestID = r.ID
	}
	h.opts.Logs.Log(e)
}

// KVGet returns the value of key in the service's namespace: ErrNotFound
// when it is not set or expired.
func (h *Host) KVGet(ctx context.Context, key string) ([]byte, error) {
	if err := h.kvAllowed(ctx); err != nil {
		return nil, err
	}
	v, err := h.opts.KV.KVGet(ctx, h.opts.Service, key)
	if err != nil {
		return nil, kvErr(err, "kv get", key)
	}
	return v, nil
}

// KVSet sets key to value; a positive ttl makes it expire, 0 never.
func (h *Host) KVSet(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := h.kvAllowed(ctx); err != nil {
		return err
	}
	if ttl < 0 {
		return errorf(sandbox.ErrInvalid, "kv set %q: the ttl %s is negative; pass 0 for no expiry", key, ttl)
	}
	return kvErr(h.opts.KV.KVSet(ctx, h.opts.Service, key, value, ttl), "kv set", key)
}

// KVDelete removes key; removing a key that is not set succeeds.
func (h *Host) KVDelete(ctx context.Context, key string) error {
	if err := h.kvAllowed(ctx); err != nil {
		return err
	}
	return kvErr(h.opts.KV.KVDelete(ctx, h.opts.Service, key), "kv delete", key)
}

// KVList returns the keys starting with prefix, sorted, at most
// store.MaxKVList of them (the first in that order).
func (h *Host) KVList(ctx context.Context, prefix string) ([]string, error) {
	if err := h.kvAllowed(ctx); err != nil {
		return nil, err
	}
	keys, err := h.opts.KV.KVList(ctx, h.opts.Service, prefix)
	if err != nil {
		return nil, kvErr(err, "kv list", prefix)
	}
	return keys, nil
}

func (h *Host) kvAllowed(ctx context.Context) error {
	if !h.opts.Allow.KV {
		return h.deny(ctx, "kv is not allowed: add kv = true to [allow] in mote.toml")
	}
	if h.opts.KV == nil {
		return errors.New("kv is not available on this node")
	}
	return nil
}

// kvErr turns a store error into the capability's class; nil stays nil.
func kvErr(err error, op, key string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return errorf(sandbox.ErrNotFound, "%s: key %q is not set", op, key)
	case errors.Is(err, store.ErrInvalidKey):
		return errorf(sandbox.ErrInvalid, "%s: key %q is not 1 to %d bytes of UTF-8", op, key, store.MaxKVKey)
	case errors.Is(err, store.ErrTooLarge):
		return errorf(sandbox.ErrTooLarge, "%s %q: the value is larger than %d bytes", op, key, store.MaxKVValue)
	case errors.Is(err, context.DeadlineExceeded):
		return errorf(sandbox.ErrTimeout, "%s %q: the request ran out of time", op, key)
	}
	return fmt.Errorf("%s %q failed: %w", op, key, err)
}

// Config returns the configuration value key, set with `mote config set`,
// from the node's in-memory view: ErrNotFound when it is not set. Secret
// values are returned like the others and never logged.
func (h *Host) Config(ctx context.Context, key string) (string, error) {
	if !h.opts.Allow.Config {
		return "", h.deny(ctx, "config is not allowed: add config = true to [allow] in mote.toml")
	}
	if v, ok := h.opts.Config.Get(h.opts.Service, key); ok {
		return v, nil
	}
	return "", errorf(sandbox.ErrNotFound, "config %q is not set; set it with: mote config set %s %s=VALUE", key, h.opts.Service, key)
}
