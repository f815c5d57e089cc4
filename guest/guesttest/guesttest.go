// Package guesttest runs a guest's handler on any machine, the way mote
// would run it, with an in-memory stand-in for the node's capabilities: a
// key-value store, configuration values, outbound HTTP through a
// RoundTripper of your choice, other services as handlers, and captured
// log lines.
//
//	func TestCounter(t *testing.T) {
//		host := guesttest.Install(t, &guesttest.Host{Config: map[string]string{"GREETING": "hi"}})
//		resp := guesttest.Do(t, handler(), "/counter", httptest.NewRequest("POST", "/counter", nil))
//		if resp.StatusCode != 200 || string(host.KV()["count"]) != "1" {
//			...
//		}
//	}
//
// Install replaces the host for the whole process until the test ends, so
// tests that install one must not run in parallel with each other.
package guesttest

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mote-run/mote/guest"
	"github.com/mote-run/mote/guest/abi"
	"github.com/mote-run/mote/guest/internal/hostcall"
)

// The node's limits that Host enforces too.
const (
	MaxKeyLen   = 512     // bytes in a key
	MaxValueLen = 1 << 20 // bytes in a value
	MaxDepth    = 8       // nested service-to-service calls
)

// Host is an in-memory node for tests. Every capability is granted; set
// the fields before Install and do not change them after. The zero value
// is an empty store with no configuration, no outbound HTTP and no other
// services.
type Host struct {
	// Config holds the values config.Get returns; a key not in it is
	// guest.ErrNotFound.
	Config map[string]string
	// Fetch sends the requests of fetch.Client and fetch.Transport: for
	// example http.DefaultTransport to reach an httptest.Server. Nil
	// denies outbound HTTP (guest.ErrDenied).
	Fetch http.RoundTripper
	// Services are what call.Do reaches, by name; another name is
	// guest.ErrNotFound. Each sees the path below its route, and Route
	// reports "".
	Services map[string]http.Handler
	// Now is the clock KV expiry uses; nil means time.Now.
	Now func() time.Time

	mu    sync.Mutex
	kv    map[string]entry
	logs  []string
	depth int
}

type entry struct {
	value   []byte
	expires time.Time // zero: never
}

// Install makes h the host of every SDK call until t ends, and returns it;
// a nil h is a new empty Host.
func Install(t testing.TB, h *Host) *Host {
	t.Helper()
	if h == nil {
		h = &Host{}
	}
	t.Cleanup(hostcall.SetHost(adapter{h}))
	return h
}

// KV returns a copy of the live (unexpired) keys and values.
func (h *Host) KV() map[string][]byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string][]byte, len(h.kv))
	for k, e := range h.kv {
		if h.live(e) {
			out[k] = bytes.Clone(e.value)
		}
	}
	return out
}

// SetKV stores value under key, as kv.Set with no ttl would.
func (h *Host) SetKV(key string, value []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.kv == nil {
		h.kv = make(map[string]entry)
	}
	h.kv[key] = entry{value: bytes.Clone(value)}
}

// Logs returns the lines logged so far, each "LEVEL message" with LEVEL
// one of DEBUG, INFO, WARN, ERROR.
func (h *Host) Logs() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.logs)
}

func (h *Host) live(e entry) bool {
	if e.expires.IsZero() {
		return true
	}
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	return now().Before(e.expires)
}

var requestIDs atomic.Int64

// Do serves r with handler as mote would serve it to a service at route
// ("/counter"; "" for "/"): r's method, request URI (r.RequestURI, or
// r.URL.RequestURI() when empty), Host, RemoteAddr, headers and body go
// through the SDK's conversion, and the response comes back as an
// *http.Response with its body read. The request gets a fresh id
// ("test-1", ...) that guest.RequestID reports. Use httptest.NewRequest to
// make r, with the route in its path.
func Do(t testing.TB, handler http.Handler, route string, r *http.Request) *http.Response {
	t.Helper()
	in := &abi.Request{
		Method:     r.Method,
		URL:        r.RequestURI,
		Route:      route,
		Host:       r.Host,
		RemoteAddr: r.RemoteAddr,
		RequestID:  fmt.Sprintf("test-%d", requestIDs.Add(1)),
		Header:     hostcall.Headers(r.Header),
	}
	if in.URL == "" {
		in.URL = r.URL.RequestURI()
	}
	if r.Body != nil {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Fatalf("guesttest.Do: reading the request body: %v", err)
		}
		in.Body = body
	}
	// Encode and decode, as the request would cross the ABI.
	dec, err := abi.DecodeRequest(abi.AppendRequest(nil, in))
	if err != nil {
		t.Fatalf("guesttest.Do: %v", err)
	}
	resp, err := abi.DecodeResponse(abi.AppendResponse(nil, guest.Handle(handler, dec)))
	if err != nil {
		t.Fatalf("guesttest.Do: the handler's response does not cross the ABI: %v", err)
	}
	return hostcall.HTTPResponse(r, resp)
}

// adapter gives a Host the byte-level interface the SDK calls.
type adapter struct{ h *Host }

var levelNames = [...]string{"DEBUG", "INFO", "WARN", "ERROR"}

func (a adapter) Request([]byte) ([]byte, error) {
	return nil, hostcall.Fail("request_read", abi.ErrInvalid, "guesttest serves requests with Do")
}

func (a adapter) Respond([]byte) error {
	return hostcall.Fail("respond", abi.ErrInvalid, "guesttest serves requests with Do")
}

func (a adapter) Log(level int, msg string) {
	name := "LOG"
	if level >= 0 && level < len(levelNames) {
		name = levelNames[level]
	}
	a.h.mu.Lock()
	defer a.h.mu.Unlock()
	a.h.logs = append(a.h.logs, name+" "+msg)
}

// opName names a call in errors as the SDK does in a guest: kv_get "key".
func opName(op, arg string) string { return op + " " + strconv.Quote(arg) }

func checkKey(op, key string) error {
	if len(key) == 0 || len(key) > MaxKeyLen {
		return hostcall.Fail(op, abi.ErrInvalid, fmt.Sprintf("a key is 1 to %d bytes, not %d", MaxKeyLen, len(key)))
	}
	if !utf8.ValidString(key) {
		return hostcall.Fail(op, abi.ErrInvalid, "the key is not UTF-8")
	}
	return nil
}

func (a adapter) KVGet(key string) ([]byte, error) {
	op := opName("kv_get", key)
	if err := checkKey(op, key); err != nil {
		return nil, err
	}
	a.h.mu.Lock()
	defer a.h.mu.Unlock()
	e, ok := a.h.kv[key]
	if !ok || !a.h.live(e) {
		return nil, hostcall.Fail(op, abi.ErrNotFound, "no such key")
	}
	return bytes.Clone(e.value), nil
}

func (a adapter) KVSet(key string, value []byte, ttlMillis int64) error {
	op := opName("kv_set", key)
	if err := checkKey(op, key); err != nil {
		return err
	}
	if len(value) > MaxValueLen {
		return hostcall.Fail(op, abi.ErrTooLarge, fmt.Sprintf("a value is at most %d bytes, not %d", MaxValueLen, len(value)))
	}
	if ttlMillis < 0 {
		return hostcall.Fail(op, abi.ErrInvalid, "negative ttl")
	}
	a.h.mu.Lock()
	defer a.h.mu.Unlock()
	e := entry{value: bytes.Clone(value)}
	if ttlMillis > 0 {
		now := time.Now
		if a.h.Now != nil {
			now = a.h.Now
		}
		e.expires = now().Add(time.Duration(ttlMillis) * time.Millisecond)
	}
	if a.h.kv == nil {
		a.h.kv = make(map[string]entry)
	}
	a.h.kv[key] = e
	return nil
}

func (a adapter) KVDelete(key string) error {
	if err := checkKey(opName("kv_delete", key), key); err != nil {
		return err
	}
	a.h.mu.Lock()
	defer a.h.mu.Unlock()
	delete(a.h.kv, key)
	return nil
}

func (a adapter) KVList(prefix string) ([]byte, error) {
	a.h.mu.Lock()
	defer a.h.mu.Unlock()
	var keys []string
	for k, e := range a.h.kv {
		if strings.HasPrefix(k, prefix) && a.h.live(e) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return abi.AppendList(nil, keys), nil
}

func (a adapter) ConfigGet(key string) ([]byte, error) {
	v, ok := a.h.Config[key]
	if !ok {
		known := slices.Sorted(maps.Keys(a.h.Config))
		return nil, hostcall.Fail(opName("config_get", key), abi.ErrNotFound, fmt.Sprintf("not set (Host.Config has %q)", known))
	}
	return []byte(v), nil
}

func (a adapter) Fetch(raw []byte) ([]byte, error) {
	in, err := abi.DecodeRequest(raw)
	if err != nil {
		return nil, hostcall.Fail("http_fetch", abi.ErrInvalid, err.Error())
	}
	if a.h.Fetch == nil {
		return nil, hostcall.Fail("http_fetch", abi.ErrDenied, "Host.Fetch is nil")
	}
	req, err := http.NewRequest(in.Method, in.URL, bytes.NewReader(in.Body))
	if err != nil {
		return nil, hostcall.Fail("http_fetch", abi.ErrInvalid, err.Error())
	}
	req.Header = hostcall.HTTPHeader(in.Header)
	if in.Host != "" {
		req.Host = in.Host
	}
	resp, err := a.h.Fetch.RoundTrip(req)
	if err != nil {
		return nil, hostcall.Fail("http_fetch", abi.ErrFailed, err.Error())
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, hostcall.Fail("http_fetch", abi.ErrFailed, err.Error())
	}
	return abi.AppendResponse(nil, &abi.Response{Status: resp.StatusCode, Header: hostcall.Headers(resp.Header), Body: body}), nil
}

func (a adapter) Call(service string, raw []byte) ([]byte, error) {
	op := opName("call", service)
	in, err := abi.DecodeRequest(raw)
	if err != nil {
		return nil, hostcall.Fail(op, abi.ErrInvalid, err.Error())
	}
	h, ok := a.h.Services[service]
	if !ok {
		return nil, hostcall.Fail(op, abi.ErrNotFound, "no such service in Host.Services")
	}
	a.h.mu.Lock()
	if a.h.depth >= MaxDepth {
		a.h.mu.Unlock()
		return nil, hostcall.Fail(op, abi.ErrDepth, fmt.Sprintf("calls nested deeper than %d", MaxDepth))
	}
	a.h.depth++
	a.h.mu.Unlock()
	defer func() {
		a.h.mu.Lock()
		a.h.depth--
		a.h.mu.Unlock()
	}()
	in.Route = ""
	in.RequestID = fmt.Sprintf("test-%d", requestIDs.Add(1))
	return abi.AppendResponse(nil, guest.Handle(h, in)), nil
}
