//go:build wasip1

package hostcall

import (
	"math"
	"strconv"
	"unsafe"

	"github.com/mote-run/mote/guest/abi"
)

// The mote_v1 host functions (docs/abi.md). Pointers and lengths are
// offsets into the guest's memory; functions returning i64 answer the
// result's length, or a negated error code with a message as the result.

//go:wasmimport mote_v1 result_len
func resultLen() int32

//go:wasmimport mote_v1 result_read
func resultRead(ptr unsafe.Pointer, n int32) int32

//go:wasmimport mote_v1 request_len
func requestLen() int32

//go:wasmimport mote_v1 request_read
func requestRead(ptr unsafe.Pointer, n int32) int32

//go:wasmimport mote_v1 respond
func respond(ptr unsafe.Pointer, n int32) int32

//go:wasmimport mote_v1 log
func logLine(level int32, ptr unsafe.Pointer, n int32) int32

//go:wasmimport mote_v1 kv_get
func kvGet(keyPtr unsafe.Pointer, keyLen int32) int64

//go:wasmimport mote_v1 kv_set
func kvSet(keyPtr unsafe.Pointer, keyLen int32, valPtr unsafe.Pointer, valLen int32, ttlMillis int64) int64

//go:wasmimport mote_v1 kv_delete
func kvDelete(keyPtr unsafe.Pointer, keyLen int32) int64

//go:wasmimport mote_v1 kv_list
func kvList(prefixPtr unsafe.Pointer, prefixLen int32) int64

//go:wasmimport mote_v1 config_get
func configGet(keyPtr unsafe.Pointer, keyLen int32) int64

//go:wasmimport mote_v1 http_fetch
func httpFetch(reqPtr unsafe.Pointer, reqLen int32) int64

//go:wasmimport mote_v1 call
func callService(namePtr unsafe.Pointer, nameLen int32, reqPtr unsafe.Pointer, reqLen int32) int64

// maxMessage caps how much of an error message is read: a message is a
// line, and a host that left a large result behind must not make an error
// cost megabytes.
const maxMessage = 4 << 10

var defaultHost Host = wasmHost{}

// wasmHost is the node, through the mote_v1 imports. Go's garbage
// collector does not move memory, and the arguments stay reachable until
// each import returns (the strings and slices are parameters of the method
// making the call), so passing their addresses is safe.
type wasmHost struct{}

// str returns the address and length of s (nil for "").
func str(s string) (unsafe.Pointer, int32) {
	return unsafe.Pointer(unsafe.StringData(s)), int32(len(s))
}

// slice returns the address and length of b (nil for an empty b).
func slice(b []byte) (unsafe.Pointer, int32) {
	return unsafe.Pointer(unsafe.SliceData(b)), int32(len(b))
}

// result turns what an i64 host function op answered into its result or
// error; arg, when not "", is the key or service named in the error.
func result(n int64, op, arg string) ([]byte, error) {
	if n < 0 {
		if arg != "" {
			op += " " + strconv.Quote(arg)
		}
		return nil, Fail(op, int(-max(n, -math.MaxInt32)), message())
	}
	if n > math.MaxInt32 {
		return nil, Fail(op, abi.ErrFailed, "the host answered an impossible length")
	}
	return read(op, int32(n))
}

// status turns what an i32 host function answered (0 or a negated code)
// into an error.
func status(op string, n int32) error {
	if n >= 0 {
		return nil
	}
	return Fail(op, int(-max(n, -math.MaxInt32)), message())
}

// read copies the current result of n bytes out of the host.
func read(op string, n int32) ([]byte, error) {
	buf := make([]byte, n)
	if n == 0 {
		return buf, nil
	}
	if got := resultRead(unsafe.Pointer(&buf[0]), n); got != n {
		return nil, Fail(op, abi.ErrFailed, "the host copied a result short")
	}
	return buf, nil
}

// message reads the current result as an error message, at most maxMessage
// bytes of it.
func message() string {
	n := min(resultLen(), maxMessage)
	if n <= 0 {
		return ""
	}
	buf := make([]byte, n)
	got := resultRead(unsafe.Pointer(&buf[0]), n)
	return string(buf[:max(0, min(got, n))])
}

func (wasmHost) Request(buf []byte) ([]byte, error) {
	n := requestLen()
	if n < 0 {
		return nil, Fail("request_len", int(-max(n, -math.MaxInt32)), message())
	}
	if int(n) > cap(buf) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if n == 0 {
		return buf, nil
	}
	if got := requestRead(unsafe.Pointer(&buf[0]), n); got != n {
		if got < 0 {
			return nil, status("request_read", got)
		}
		return nil, Fail("request_read", abi.ErrFailed, "the host copied the request short")
	}
	return buf, nil
}

func (wasmHost) Respond(resp []byte) error {
	p, n := slice(resp)
	return status("respond", respond(p, n))
}

func (wasmHost) Log(level int, msg string) {
	p, n := str(msg)
	logLine(int32(level), p, n)
}

func (wasmHost) KVGet(key string) ([]byte, error) {
	p, n := str(key)
	return result(kvGet(p, n), "kv_get", key)
}

func (wasmHost) KVSet(key string, value []byte, ttlMillis int64) error {
	kp, kn := str(key)
	vp, vn := slice(value)
	_, err := result(kvSet(kp, kn, vp, vn, ttlMillis), "kv_set", key)
	return err
}

func (wasmHost) KVDelete(key string) error {
	p, n := str(key)
	_, err := result(kvDelete(p, n), "kv_delete", key)
	return err
}

func (wasmHost) KVList(prefix string) ([]byte, error) {
	p, n := str(prefix)
	return result(kvList(p, n), "kv_list", prefix)
}

func (wasmHost) ConfigGet(key string) ([]byte, error) {
	p, n := str(key)
	return result(configGet(p, n), "config_get", key)
}

func (wasmHost) Fetch(req []byte) ([]byte, error) {
	p, n := slice(req)
	return result(httpFetch(p, n), "http_fetch", "")
}

func (wasmHost) Call(service string, req []byte) ([]byte, error) {
	sp, sn := str(service)
	rp, rn := slice(req)
	return result(callService(sp, sn, rp, rn), "call", service)
}
