// Package abi is the wire format of mote's guest ABI, version 1, shared by
// the host (the node) and guests (the Go SDK in package guest). It is the
// byte layout docs/abi.md specifies, so guests in other languages can
// implement it from the document alone.
//
// Every integer is a little-endian uint32; a byte string is its length
// followed by its bytes. A Request is
//
//	u32 version (1) | bytes method | bytes url | bytes route | bytes host |
//	bytes remote_addr | bytes request_id | u32 n | n × (bytes name, bytes value) |
//	bytes body
//
// and a Response is
//
//	u32 version (1) | u32 status | u32 n | n × (bytes name, bytes value) | bytes body
//
// A List (kv_list's result) is u32 n | n × bytes.
//
// The package uses only the standard library and compiles for every GOOS,
// so the SDK can vendor it.
package abi

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Version is the ABI version this package encodes.
const Version = 1

// Module is the import module a guest's host functions come from; the
// version is part of the name, so a module built for another ABI version
// is refused at deploy by its imports alone.
const Module = "mote_v1"

// HandleExport is the function a pooled guest exports to serve a request.
const HandleExport = "mote_v1_handle"

// Error codes host functions return (negated) to the guest.
const (
	ErrDenied   = 1 // the manifest does not grant the capability
	ErrNotFound = 2 // no such key, config value or service
	ErrTooLarge = 3 // a key, value, request or response is over its limit
	ErrInvalid  = 4 // a malformed argument (bad key, URL or encoding)
	ErrTimeout  = 5 // an outbound call ran out of time
	ErrFailed   = 6 // the operation failed (network, store, callee)
	ErrDepth    = 7 // service-to-service calls nested too deep
	ErrMemory   = 8 // a pointer or length outside the guest's memory
)

// Log levels for the log host function.
const (
	LevelDebug = 0
	LevelInfo  = 1
	LevelWarn  = 2
	LevelError = 3
)

// ErrMalformed is returned (wrapped) for bytes that do not decode.
var ErrMalformed = errors.New("abi: malformed message")

// Header is one header line; a header with several values appears once per
// value, in order.
type Header struct {
	Name, Value string
}

// Request is an HTTP request crossing the ABI: to a pooled guest, from a
// guest to another service (call) or to the outside (http_fetch).
type Request struct {
	Method string
	// URL is the path and query as the client sent them ("/hello/x?y=1")
	// for a guest's own requests and calls, or an absolute URL for fetches.
	URL string
	// Route is the route that matched ("/hello"); empty for fetches. In a
	// call the host fills it in.
	Route      string
	Host       string
	RemoteAddr string
	RequestID  string
	Header     []Header
	Body       []byte
}

// Response is an HTTP response crossing the ABI.
type Response struct {
	Status int
	Header []Header
	Body   []byte
}

// AppendRequest appends the encoding of r to b.
func AppendRequest(b []byte, r *Request) []byte {
	b = binary.LittleEndian.AppendUint32(b, Version)
	for _, s := range [...]string{r.Method, r.URL, r.Route, r.Host, r.RemoteAddr, r.RequestID} {
		b = appendString(b, s)
	}
	b = appendHeaders(b, r.Header)
	return appendBytes(b, r.Body)
}

// AppendResponse appends the encoding of r to b.
func AppendResponse(b []byte, r *Response) []byte {
	b = binary.LittleEndian.AppendUint32(b, Version)
	b = binary.LittleEndian.AppendUint32(b, uint32(r.Status))
	b = appendHeaders(b, r.Header)
	return appendBytes(b, r.Body)
}

// AppendList appends the encoding of a list of byte strings to b.
func AppendList(b []byte, items []string) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(items)))
	for _, s := range items {
		b = appendString(b, s)
	}
	return b
}

// DecodeRequest decodes a Request. The Body aliases b.
func DecodeRequest(b []byte) (*Request, error) {
	d := decoder{b: b}
	d.version()
	r := &Request{}
	for _, p := range [...]*string{&r.Method, &r.URL, &r.Route, &r.Host, &r.RemoteAddr, &r.RequestID} {
		*p = d.string()
	}
	r.Header = d.headers()
	r.Body = d.bytes()
	return r, d.finish("request")
}

// DecodeResponse decodes a Response. The Body aliases b.
func DecodeResponse(b []byte) (*Response, error) {
	d := decoder{b: b}
	d.version()
	r := &Response{Status: int(d.u32())}
	r.Header = d.headers()
	r.Body = d.bytes()
	if d.err == nil && (r.Status < 100 || r.Status > 999) {
		d.fail("status %d is not in 100..999", r.Status)
	}
	return r, d.finish("response")
}

// DecodeList decodes a List.
func DecodeList(b []byte) ([]string, error) {
	d := decoder{b: b}
	n := d.count(4)
	items := make([]string, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		items = append(items, d.string())
	}
	return items, d.finish("list")
}

func appendBytes(b, s []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func appendString(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func appendHeaders(b []byte, h []Header) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(h)))
	for _, kv := range h {
		b = appendString(b, kv.Name)
		b = appendString(b, kv.Value)
	}
	return b
}

// decoder reads a message; the first error sticks and later reads return
// zero values.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: at byte %d: %s", ErrMalformed, d.off, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) u32() uint32 {
	if d.err != nil {
		return 0
	}
	if len(d.b)-d.off < 4 {
		d.fail("want 4 bytes, have %d", len(d.b)-d.off)
		return 0
	}
	v := binary.LittleEndian.Uint32(d.b[d.off:])
	d.off += 4
	return v
}

func (d *decoder) version() {
	if v := d.u32(); d.err == nil && v != Version {
		d.fail("version %d, want %d", v, Version)
	}
}

func (d *decoder) bytes() []byte {
	n := d.u32()
	if d.err != nil {
		return nil
	}
	if uint64(n) > uint64(len(d.b)-d.off) {
		d.fail("a %d-byte string in %d remaining bytes", n, len(d.b)-d.off)
		return nil
	}
	s := d.b[d.off : d.off+int(n) : d.off+int(n)]
	d.off += int(n)
	return s
}

func (d *decoder) string() string { return string(d.bytes()) }

// count reads an element count and checks it against the bytes left, each
// element taking at least min bytes, so a hostile count cannot make the
// decoder allocate.
func (d *decoder) count(min int) int {
	n := d.u32()
	if d.err == nil && uint64(n)*uint64(min) > uint64(len(d.b)-d.off) {
		d.fail("%d elements cannot fit in %d bytes", n, len(d.b)-d.off)
		return 0
	}
	return int(n)
}

func (d *decoder) headers() []Header {
	n := d.count(8)
	if n == 0 {
		return nil
	}
	h := make([]Header, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		h = append(h, Header{Name: d.string(), Value: d.string()})
	}
	return h
}

func (d *decoder) finish(what string) error {
	if d.err == nil && d.off != len(d.b) {
		d.fail("%d trailing bytes after the %s", len(d.b)-d.off, what)
	}
	return d.err
}
