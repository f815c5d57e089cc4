// Package hostcall is the Go SDK's plumbing for mote's host functions
// (docs/abi.md, "Host capabilities"): the import declarations, copying
// results out of the host, and turning the host's error codes into Go
// errors that match the SDK's sentinels.
//
// Every function goes through the current Host. In a guest (GOOS=wasip1)
// that is the node, through the mote_v1 imports; anywhere else it is a
// stand-in that answers ErrNotInGuest (and writes log lines to stderr), so
// code using the SDK compiles, vets and unit-tests on any platform. Tests
// install a fake with SetHost (package guest/guesttest does).
package hostcall

import (
	"errors"
	"fmt"

	"github.com/mote-run/mote/guest/abi"
)

// Errors a host function returns, by class; package guest re-exports them.
// The host's message follows the class in the error's text.
var (
	// ErrDenied: the manifest does not grant the capability or target.
	ErrDenied = errors.New("denied")
	// ErrNotFound: no such key, config value or service.
	ErrNotFound = errors.New("not found")
	// ErrTooLarge: a key, value, request or response is over its limit.
	ErrTooLarge = errors.New("too large")
	// ErrInvalid: a malformed argument (bad key, URL or encoding), or a
	// pointer the host could not use.
	ErrInvalid = errors.New("invalid argument")
	// ErrTimeout: an outbound call ran out of time.
	ErrTimeout = errors.New("timed out")
	// ErrFailed: the operation failed (network, store, callee), or the host
	// answered with a code this SDK does not know.
	ErrFailed = errors.New("failed")
	// ErrDepth: service-to-service calls nested too deep.
	ErrDepth = errors.New("call depth limit")
	// ErrNotInGuest: the program is not running as a mote guest (it was not
	// built with GOOS=wasip1, or runs outside mote) and no test host is set.
	ErrNotInGuest = errors.New("not running in a mote guest; build with GOOS=wasip1 GOARCH=wasm -buildmode=c-shared and deploy with abi = \"pooled\"")
)

// Class returns the sentinel error for an ABI error code: ErrDenied for
// abi.ErrDenied and so on. abi.ErrMemory is ErrInvalid; an unknown code is
// ErrFailed.
func Class(code int) error {
	switch code {
	case abi.ErrDenied:
		return ErrDenied
	case abi.ErrNotFound:
		return ErrNotFound
	case abi.ErrTooLarge:
		return ErrTooLarge
	case abi.ErrInvalid, abi.ErrMemory:
		return ErrInvalid
	case abi.ErrTimeout:
		return ErrTimeout
	case abi.ErrDepth:
		return ErrDepth
	default:
		return ErrFailed
	}
}

// Fail returns the error for a host function op ("kv_get") that answered
// code with msg: "kv_get: not found: no key \"a\"", matching Class(code)
// with errors.Is. An unknown code is named in the text.
func Fail(op string, code int, msg string) error {
	class := Class(code)
	if class == ErrFailed && code != abi.ErrFailed {
		msg = fmt.Sprintf("unknown error code %d: %s", code, msg)
	}
	if msg == "" {
		return fmt.Errorf("%s: %w", op, class)
	}
	return fmt.Errorf("%s: %w: %s", op, class, msg)
}

// Host is what the functions of this package call: the node in a guest, a
// stand-in elsewhere. Messages (requests, responses, lists) are in their
// ABI encodings, so the encoding is exercised even with a fake host.
// Errors should come from Fail, so they match the sentinels.
type Host interface {
	// Request returns the encoded Request being served (request_len and
	// request_read), copied into buf when it fits.
	Request(buf []byte) ([]byte, error)
	// Respond sets the encoded Response (respond).
	Respond(resp []byte) error
	// Log writes a line to the service's logs at an abi.Level*.
	Log(level int, msg string)
	KVGet(key string) ([]byte, error)
	KVSet(key string, value []byte, ttlMillis int64) error
	KVDelete(key string) error
	// KVList returns an encoded List of the keys starting with prefix.
	KVList(prefix string) ([]byte, error)
	ConfigGet(key string) ([]byte, error)
	// Fetch sends an encoded Request and returns the encoded Response.
	Fetch(req []byte) ([]byte, error)
	// Call sends an encoded Request to service and returns its encoded
	// Response.
	Call(service string, req []byte) ([]byte, error)
}

// current is the host every function calls; see SetHost.
var current = defaultHost

// SetHost makes h the host the functions call, until restore is called;
// nil means the default (the node in a guest, a stand-in elsewhere). It is
// for tests: it must not race with calls.
func SetHost(h Host) (restore func()) {
	prev := current
	if h == nil {
		h = defaultHost
	}
	current = h
	return func() { current = prev }
}

// ReadRequest returns the encoded Request being served, in buf when it fits.
func ReadRequest(buf []byte) ([]byte, error) { return current.Request(buf) }

// Respond sets the encoded Response of the request being served.
func Respond(resp []byte) error { return current.Respond(resp) }

// Log writes msg to the service's logs at level (abi.LevelDebug to
// abi.LevelError), tagged with the request's id. It never fails: logging
// is always allowed, and a line the host refuses is dropped.
func Log(level int, msg string) { current.Log(level, msg) }

// KVGet returns the value of key; a missing key is ErrNotFound.
func KVGet(key string) ([]byte, error) { return current.KVGet(key) }

// KVSet stores value under key for ttlMillis milliseconds (0: no expiry).
func KVSet(key string, value []byte, ttlMillis int64) error {
	return current.KVSet(key, value, ttlMillis)
}

// KVDelete deletes key; deleting a missing key succeeds.
func KVDelete(key string) error { return current.KVDelete(key) }

// KVList returns the keys that start with prefix, sorted.
func KVList(prefix string) ([]string, error) {
	raw, err := current.KVList(prefix)
	if err != nil {
		return nil, err
	}
	keys, err := abi.DecodeList(raw)
	if err != nil {
		return nil, fmt.Errorf("kv_list: %w: the host answered a bad list: %v", ErrFailed, err)
	}
	return keys, nil
}

// ConfigGet returns the configuration value key; a missing one is
// ErrNotFound.
func ConfigGet(key string) (string, error) {
	v, err := current.ConfigGet(key)
	return string(v), err
}

// Fetch sends req (absolute URL) to the outside and returns the response.
func Fetch(req *abi.Request) (*abi.Response, error) {
	raw, err := current.Fetch(abi.AppendRequest(nil, req))
	if err != nil {
		return nil, err
	}
	return decodeResponse("http_fetch", raw)
}

// Call sends req (URL below the callee's route) to service and returns its
// response.
func Call(service string, req *abi.Request) (*abi.Response, error) {
	raw, err := current.Call(service, abi.AppendRequest(nil, req))
	if err != nil {
		return nil, err
	}
	return decodeResponse("call", raw)
}

func decodeResponse(op string, raw []byte) (*abi.Response, error) {
	resp, err := abi.DecodeResponse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: the host answered a bad response: %v", op, ErrFailed, err)
	}
	return resp, nil
}
