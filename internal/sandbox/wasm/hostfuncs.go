package wasm

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tetratelabs/wazero"
	wazeroapi "github.com/tetratelabs/wazero/api"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/guest/abi"
	"github.com/mote-run/mote/internal/sandbox"
)

// The mote_v1 host module: the guest side of a version's sandbox.Host
// (docs/abi.md, "Host capabilities"). Every function finds the calling
// instance's state in the call's context (stateOf): the Host, the request
// being served, the result the guest has not read yet.
//
// Rules the document leaves to the host, as implemented here:
//
//   - Every call other than result_len and result_read replaces the result:
//     with the data on success (empty for functions without data), with a
//     UTF-8 message on failure. result_read copies from the start of the
//     result every time; it does not consume it.
//   - A zero length never touches memory, whatever the pointer. A range
//     outside the guest's memory fails with ErrMemory before any other
//     check.
//   - A capability call with no Host is denied before its arguments are
//     validated, so the guest learns first what to grant, and the denial
//     is logged once per request and function. Denials from a Host are
//     the Host's to log.
//   - Keys (kv, config) are 1..512 bytes of valid UTF-8: empty or invalid
//     UTF-8 is ErrInvalid, longer is ErrTooLarge; kv_list's prefix follows
//     the same rule but may be empty. A service name for call is 1..512
//     bytes of UTF-8 too. Values are at most 1 MiB; ttl_ms is 0 (no expiry)
//     to about 292 years, negative is ErrInvalid.
//   - log logs an unknown level as info (as capability.Host.Log does),
//     makes the message valid UTF-8 and caps it at 16 KiB. It goes to the
//     version's LogSink (stream "log"), never to Host.Log, so it works
//     without a Host.
//   - respond refuses (ErrInvalid) a second call, an undecodable Response,
//     a 1xx status, a header name that is not an HTTP token or a value with
//     a control byte, more than wagi.MaxHeaderLines headers or
//     wagi.MaxHeaderBytes of them; a body over [limits] response is
//     ErrTooLarge. A refused response is not kept: unless a later respond
//     succeeds, the request fails and the log says why.
//   - A Host that panics fails the call (ErrFailed) and logs an error
//     instead of trapping the guest.

// Limits on what a guest passes to host functions.
const (
	maxKey        = 512
	maxValue      = 1 << 20
	maxEncoding   = 16 << 20 // a Request to http_fetch or call
	maxLogMessage = 16 << 10
)

var levelNames = [...]string{abi.LevelDebug: "debug", abi.LevelInfo: "info", abi.LevelWarn: "warn", abi.LevelError: "error"}

// hostState is one instance's side of the ABI. An instance runs one call at
// a time, so its state needs no lock; a pooled instance keeps its state
// across requests (begin and end bracket each one).
type hostState struct {
	host sandbox.Host
	logs sandbox.LogSink
	// entry is the template of the instance's log lines: service, version
	// and the current request's id.
	entry api.LogEntry
	// proc is the instance's argv and environment (wasi.go).
	proc *proc
	// maxOutput caps a response's body (respond).
	maxOutput int64
	// call is the context of the call running in the instance (a
	// request, _initialize, a WAGI command): nanosleep (wasi.go) ends a
	// sleep when it is done. Nil sleeps uninterrupted. sleep is
	// nanosleep's timer, reused.
	call  context.Context
	sleep *time.Timer

	// pooled allows request_len, request_read and respond while req is set.
	pooled bool
	req    *sandbox.Request
	// request is req's encoding, for request_read.
	request []byte
	result  []byte
	// resp is what respond set; refused says why the last respond failed.
	resp     *sandbox.Response
	refused  string
	warnings []string
	// denied has bit i set once function i's denial was logged.
	denied uint32
}

type stateKey struct{}

// withState attaches an instance's state to ctx.
func withState(ctx context.Context, st *hostState) context.Context {
	return context.WithValue(ctx, stateKey{}, st)
}

// stateOf returns the state ctx carries or, for a call from outside mote's
// runners, an inert one with no Host, nowhere to log and no environment.
func stateOf(ctx context.Context) *hostState {
	if st, ok := ctx.Value(stateKey{}).(*hostState); ok {
		return st
	}
	return &hostState{logs: discardLogs, proc: &proc{}}
}

var discardLogs = sandbox.LogFunc(func(api.LogEntry) {})

// begin makes req the state's current request; encoding is its Request
// encoding, for a pooled guest.
func (st *hostState) begin(req *sandbox.Request, encoding []byte) {
	st.req, st.request = req, encoding
	st.entry.RequestID = req.ID
	st.result, st.resp, st.refused, st.warnings, st.denied = nil, nil, "", nil, 0
}

// end forgets the current request and returns what respond set.
func (st *hostState) end() (*sandbox.Response, string) {
	resp, refused := st.resp, st.refused
	for _, w := range st.warnings {
		st.log(api.StreamMote, "warn", "response: "+w)
	}
	st.req, st.resp, st.result, st.warnings, st.call = nil, nil, nil, nil, nil
	st.entry.RequestID = ""
	if cap(st.request) > 1<<20 { // don't pin a big request's buffer
		st.request = nil
	}
	return resp, refused
}

func (st *hostState) log(stream, level, msg string) {
	e := st.entry
	e.Time, e.Stream, e.Level, e.Message = time.Now(), stream, level, msg
	st.logs.Log(e)
}

// fail sets the result to msg and returns the negated code.
func (st *hostState) fail(code int, msg string) int64 {
	st.result = []byte(msg)
	return -int64(code)
}

// ok sets the result and returns its length.
func (st *hostState) ok(result []byte) int64 {
	if len(result) > math.MaxInt32 {
		return st.fail(abi.ErrTooLarge, fmt.Sprintf("the result is %d bytes, more than a guest can address", len(result)))
	}
	st.result = result
	return int64(len(result))
}

// read returns n bytes of guest memory at ptr, or fails with ErrMemory.
// The bytes alias guest memory: copy what outlives the call.
func (st *hostState) read(mem wazeroapi.Memory, ptr, n uint32, what string) ([]byte, int64) {
	if n == 0 {
		return nil, 0
	}
	if mem != nil {
		if b, ok := mem.Read(ptr, n); ok {
			return b, 0
		}
	}
	return nil, st.fail(abi.ErrMemory, fmt.Sprintf("%s: bytes [%d, %d) are outside the guest's memory of %d bytes",
		what, ptr, uint64(ptr)+uint64(n), memSize(mem)))
}

func memSize(mem wazeroapi.Memory) uint32 {
	if mem == nil {
		return 0
	}
	return mem.Size()
}

// text validates a key-like argument: UTF-8, at most maxKey bytes, and not
// empty unless allowEmpty.
func (st *hostState) text(b []byte, what string, allowEmpty bool) (string, int64) {
	switch {
	case len(b) == 0 && !allowEmpty:
		return "", st.fail(abi.ErrInvalid, what+" is empty")
	case len(b) > maxKey:
		return "", st.fail(abi.ErrTooLarge, fmt.Sprintf("%s is %d bytes, more than %d", what, len(b), maxKey))
	case !utf8.Valid(b):
		return "", st.fail(abi.ErrInvalid, what+" is not valid UTF-8")
	}
	return string(b), 0
}

// deny fails a call made without a Host with ErrDenied, and logs the
// denial once per request and function.
func (st *hostState) deny(fn int, msg string) int64 {
	if st.denied&(1<<fn) == 0 {
		st.denied |= 1 << fn
		st.log(api.StreamMote, "warn", funcNames[fn]+": "+msg)
	}
	return st.fail(abi.ErrDenied, msg)
}

// hostErr maps an error from the Host to its code; the message is the
// error's.
func (st *hostState) hostErr(fn int, err error) int64 {
	code := abi.ErrFailed
	switch {
	case errors.Is(err, sandbox.ErrDenied):
		code = abi.ErrDenied
	case errors.Is(err, sandbox.ErrNotFound):
		code = abi.ErrNotFound
	case errors.Is(err, sandbox.ErrTooLarge):
		code = abi.ErrTooLarge
	case errors.Is(err, sandbox.ErrInvalid):
		code = abi.ErrInvalid
	case errors.Is(err, sandbox.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		code = abi.ErrTimeout
	case errors.Is(err, sandbox.ErrDepth):
		code = abi.ErrDepth
	}
	return st.fail(code, err.Error())
}

// callHost runs f, a call into the Host, with the request in ctx; a panic
// becomes an error (and a log line) instead of a trap.
func (st *hostState) callHost(ctx context.Context, fn int, f func(ctx context.Context) error) (code int64) {
	defer func() {
		if p := recover(); p != nil {
			st.log(api.StreamMote, "error", fmt.Sprintf("%s: the node's capability host panicked: %v", funcNames[fn], p))
			code = st.fail(abi.ErrFailed, funcNames[fn]+" failed: internal error in the node")
		}
	}()
	if st.req != nil {
		ctx = sandbox.WithRequest(ctx, st.req)
	}
	if err := f(ctx); err != nil {
		return st.hostErr(fn, err)
	}
	return 0
}

// Grants, for the messages of calls denied for want of a Host.
const (
	grantKV     = "kv is not granted: add [allow] kv = true to mote.toml"
	grantConfig = "config is not granted: add [allow] config = true to mote.toml"
)

// moteFunc is one function of the mote_v1 module. impl returns the value
// for the guest: an i32 function's is truncated to 32 bits.
type moteFunc struct {
	name    string
	params  []wazeroapi.ValueType
	results []wazeroapi.ValueType
	impl    func(st *hostState, ctx context.Context, mem wazeroapi.Memory, stack []uint64) int64
}

var (
	i32 = wazeroapi.ValueTypeI32
	i64 = wazeroapi.ValueTypeI64
)

// Indexes into moteFuncs, for deny's bitmask.
const (
	fnResultLen = iota
	fnResultRead
	fnRequestLen
	fnRequestRead
	fnRespond
	fnLog
	fnKVGet
	fnKVSet
	fnKVDelete
	fnKVList
	fnConfigGet
	fnHTTPFetch
	fnCall
)

// funcNames names the functions by index.
var funcNames = [...]string{
	fnResultLen: "result_len", fnResultRead: "result_read", fnRequestLen: "request_len", fnRequestRead: "request_read",
	fnRespond: "respond", fnLog: "log", fnKVGet: "kv_get", fnKVSet: "kv_set", fnKVDelete: "kv_delete",
	fnKVList: "kv_list", fnConfigGet: "config_get", fnHTTPFetch: "http_fetch", fnCall: "call",
}

// moteFuncs is the mote_v1 module, in the order of docs/abi.md.
var moteFuncs = [...]moteFunc{
	fnResultLen:   {"result_len", nil, []wazeroapi.ValueType{i32}, resultLen},
	fnResultRead:  {"result_read", []wazeroapi.ValueType{i32, i32}, []wazeroapi.ValueType{i32}, resultRead},
	fnRequestLen:  {"request_len", nil, []wazeroapi.ValueType{i32}, requestLen},
	fnRequestRead: {"request_read", []wazeroapi.ValueType{i32, i32}, []wazeroapi.ValueType{i32}, requestRead},
	fnRespond:     {"respond", []wazeroapi.ValueType{i32, i32}, []wazeroapi.ValueType{i32}, respond},
	fnLog:         {"log", []wazeroapi.ValueType{i32, i32, i32}, []wazeroapi.ValueType{i32}, logLine},
	fnKVGet:       {"kv_get", []wazeroapi.ValueType{i32, i32}, []wazeroapi.ValueType{i64}, kvGet},
	fnKVSet:       {"kv_set", []wazeroapi.ValueType{i32, i32, i32, i32, i64}, []wazeroapi.ValueType{i64}, kvSet},
	fnKVDelete:    {"kv_delete", []wazeroapi.ValueType{i32, i32}, []wazeroapi.ValueType{i64}, kvDelete},
	fnKVList:      {"kv_list", []wazeroapi.ValueType{i32, i32}, []wazeroapi.ValueType{i64}, kvList},
	fnConfigGet:   {"config_get", []wazeroapi.ValueType{i32, i32}, []wazeroapi.ValueType{i64}, configGet},
	fnHTTPFetch:   {"http_fetch", []wazeroapi.ValueType{i32, i32}, []wazeroapi.ValueType{i64}, httpFetch},
	fnCall:        {"call", []wazeroapi.ValueType{i32, i32, i32, i32}, []wazeroapi.ValueType{i64}, callService},
}

// moteFuncByName indexes moteFuncs for import checks.
var moteFuncByName = func() map[string]*moteFunc {
	m := make(map[string]*moteFunc, len(moteFuncs))
	for i := range moteFuncs {
		m[moteFuncs[i].name] = &moteFuncs[i]
	}
	return m
}()

// signature formats a function type the way wasm tools print it.
func signature(params, results []wazeroapi.ValueType) string {
	names := func(ts []wazeroapi.ValueType) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = wazeroapi.ValueTypeName(t)
		}
		return "(" + strings.Join(s, ", ") + ")"
	}
	return names(params) + " -> " + names(results)
}

// instantiateMote instantiates the mote_v1 module in rt.
func instantiateMote(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder(abi.Module)
	for i := range moteFuncs {
		f := &moteFuncs[i]
		wide := f.results[0] == i64
		b.NewFunctionBuilder().
			WithGoModuleFunction(wazeroapi.GoModuleFunc(func(ctx context.Context, mod wazeroapi.Module, stack []uint64) {
				v := f.impl(stateOf(ctx), ctx, mod.Memory(), stack)
				if wide {
					stack[0] = uint64(v)
				} else {
					stack[0] = uint64(uint32(int32(v)))
				}
			}), f.params, f.results).
			Export(f.name)
	}
	if _, err := b.Instantiate(ctx); err != nil {
		return fmt.Errorf("wasm: instantiate %s: %w", abi.Module, err)
	}
	return nil
}

func resultLen(st *hostState, _ context.Context, _ wazeroapi.Memory, _ []uint64) int64 {
	return int64(len(st.result))
}

func resultRead(st *hostState, _ context.Context, mem wazeroapi.Memory, stack []uint64) int64 {
	ptr, n := uint32(stack[0]), uint32(stack[1])
	n = min(n, uint32(len(st.result)))
	if n == 0 {
		return 0
	}
	if mem == nil || !mem.Write(ptr, st.result[:n]) {
		return st.fail(abi.ErrMemory, fmt.Sprintf("result_read: bytes [%d, %d) are outside the guest's memory of %d bytes",
			ptr, uint64(ptr)+uint64(n), memSize(mem)))
	}
	return int64(n)
}

// notPooled fails a pooled-only function called elsewhere.
func (st *hostState) notPooled(name string) int64 {
	if st.pooled {
		return st.fail(abi.ErrInvalid, name+" is only for a request in progress: call it from mote_v1_handle, not from _initialize")
	}
	return st.fail(abi.ErrInvalid, name+" is only for pooled guests (abi = \"pooled\"); a WAGI guest reads its request from stdin and its environment")
}

func requestLen(st *hostState, _ context.Context, _ wazeroapi.Memory, _ []uint64) int64 {
	if !st.pooled || st.req == nil {
		return st.notPooled("request_len")
	}
	st.result = nil
	return int64(len(st.request))
}

func requestRead(st *hostState, _ context.Context, mem wazeroapi.Memory, stack []uint64) int64 {
	if !st.pooled || st.req == nil {
		return st.notPooled("request_read")
	}
	ptr, n := uint32(stack[0]), uint32(stack[1])
	n = min(n, uint32(len(st.request)))
	st.result = nil
	if n == 0 {
		return 0
	}
	if mem == nil || !mem.Write(ptr, st.request[:n]) {
		return st.fail(abi.ErrMemory, fmt.Sprintf("request_read: bytes [%d, %d) are outside the guest's memory of %d bytes",
			ptr, uint64(ptr)+uint64(n), memSize(mem)))
	}
	return int64(n)
}

func respond(st *hostState, _ context.Context, mem wazeroapi.Memory, stack []uint64) int64 {
	if !st.pooled || st.req == nil {
		return st.notPooled("respond")
	}
	b, code := st.read(mem, uint32(stack[0]), uint32(stack[1]), "respond")
	if code != 0 {
		return code
	}
	if st.resp != nil {
		return st.fail(abi.ErrInvalid, "respond was already called for this request; the first response stands")
	}
	resp, warnings, fail, msg := decodeResponse(b, st.maxOutput)
	if fail != 0 {
		st.refused = msg
		return st.fail(fail, msg)
	}
	st.resp, st.warnings, st.refused, st.result = resp, warnings, "", nil
	return 0
}

func logLine(st *hostState, _ context.Context, mem wazeroapi.Memory, stack []uint64) int64 {
	level := int32(stack[0])
	b, code := st.read(mem, uint32(stack[1]), uint32(stack[2]), "log")
	if code != 0 {
		return code
	}
	name := "info"
	if level >= 0 && int(level) < len(levelNames) {
		name = levelNames[level]
	}
	st.log(api.StreamLog, name, logMessage(b))
	st.result = nil
	return 0
}

// logMessage makes a guest's log line valid UTF-8 and caps it at
// maxLogMessage bytes.
func logMessage(b []byte) string {
	const mark = " [truncated]"
	truncated := len(b) > maxLogMessage
	if truncated {
		b = b[:maxLogMessage-len(mark)]
		if i := lastRuneStart(b); i >= 0 && !utf8.FullRune(b[i:]) {
			b = b[:i] // don't cut a character in two
		}
	}
	s := string(b)
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if truncated {
		s += mark
	}
	return s
}

// lastRuneStart is the index where b's last rune starts, or -1.
func lastRuneStart(b []byte) int {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			return i
		}
	}
	return -1
}

// key reads and validates a key argument.
func (st *hostState) key(mem wazeroapi.Memory, ptr, n uint32, fn int, allowEmpty bool) (string, int64) {
	b, code := st.read(mem, ptr, n, funcNames[fn])
	if code != 0 {
		return "", code
	}
	what := "the key"
	if allowEmpty {
		what = "the prefix"
	}
	if st.host == nil {
		if fn == fnConfigGet {
			return "", st.deny(fn, grantConfig)
		}
		return "", st.deny(fn, grantKV)
	}
	return st.text(b, what, allowEmpty)
}

func kvGet(st *hostState, ctx context.Context, mem wazeroapi.Memory, stack []uint64) int64 {
	key, code := st.key(mem, uint32(stack[0]), uint32(stack[1]), fnKVGet, false)
	if code != 0 {
		return code
	}
	var v []byte
	if code := st.callHost(ctx, fnKVGet, func(ctx context.Context) (err error) {
		v, err = st.host.KVGet(ctx, key)
		return err
	}); code != 0 {
		return code
	}
	return st.ok(v)
}

func kvSet(st *hostState, ctx context.Context, mem wazeroapi.Memory, stack []uint64) int64 {
	val, code := st.read(mem, uint32(stack[2]), uint32(stack[3]), "kv_set")
	if code != 0 {
		return code
	}
	key, code := st.key(mem, uint32(stack[0]), uint32(stack[1]), fnKVSet, false)
	if code != 0 {
		return code
	}
	if len(val) > maxValue {
		return st.fail(abi.ErrTooLarge, fmt.Sprintf("the value is %d bytes, more than %d (1 MiB)", len(val), maxValue))
	}
	ttlMS := int64(stack[4])
	if ttlMS < 0 || ttlMS > math.MaxInt64/int64(time.Millisecond) {
		return st.fail(abi.ErrInvalid, fmt.Sprintf("ttl_ms %d is not between 0 (no expiry) and %d", ttlMS, math.MaxInt64/int64(time.Millisecond)))
	}
	value := append([]byte(nil), val...) // the Host may keep it; guest memory changes
	if value == nil {
		value = []byte{}
	}
	if code := st.callHost(ctx, fnKVSet, func(ctx context.Context) error {
		return st.host.KVSet(ctx, key, value, time.Duration(ttlMS)*time.Millisecond)
	}); code != 0 {
		return code
	}
	return st.ok(nil)
}

func kvDelete(st *hostState, ctx context.Context, mem wazeroapi.Memory, stack []uint64) int64 {
	key, code := st.key(mem, uint32(stack[0]), uint32(stack[1]), fnKVDelete, false)
	if code != 0 {
		return code
	}
	if code := st.callHost(ctx, fnKVDelete, func(ctx context.Context) error {
		return st.host.KVDelete(ctx, key)
	}); code != 0 {
		return code
	}
	return st.ok(nil)
}

func kvList(st *hostState, ctx context.Context, mem wazeroapi.Memory, stack []uint64) int64 {
	prefix, code := st.key(mem, uint32(stack[0]), uint32(stack[1]), fnKVList, true)
	if code != 0 {
		return code
	}
	var keys []string
	if code := st.callHost(ctx, fnKVList, func(ctx context.Context) (err error) {
		keys, err = st.host.KVList(ctx, prefix)
		return err
	}); code != 0 {
		return code
	}
	return st.ok(abi.AppendList(nil, keys))
}

func configGet(st *hostState, ctx context.Context, mem wazeroapi.Memory, stack []uint64) int64 {
	key, code := st.key(mem, uint32(stack[0]), uint32(stack[1]), fnConfigGet, false)
	if code != 0 {
		return code
	}
	var v string
	if code := st.callHost(ctx, fnConfigGet, func(ctx context.Context) (err error) {
		v, err = st.host.Config(ctx, key)
		return err
	}); code != 0 {
		return code
	}
	return st.ok([]byte(v))
}

// request reads and decodes a Request encoding a guest passes to
// http_fetch or call. The Request owns its bytes.
func (st *hostState) requestArg(mem wazeroapi.Memory, ptr, n uint32, fn int) (*abi.Request, int64) {
	b, code := st.read(mem, ptr, n, funcNames[fn])
	if code != 0 {
		return nil, code
	}
	if len(b) > maxEncoding {
		return nil, st.fail(abi.ErrTooLarge, fmt.Sprintf("the request is %d bytes encoded, more than %d (16 MiB)", len(b), maxEncoding))
	}
	req, err := abi.DecodeRequest(append([]byte(nil), b...))
	if err != nil {
		return nil, st.fail(abi.ErrInvalid, "the request does not decode: "+err.Error())
	}
	return req, 0
}

// response encodes a Response from the Host as the result.
func (st *hostState) response(fn int, resp *abi.Response) int64 {
	if resp == nil {
		return st.fail(abi.ErrFailed, funcNames[fn]+" got no response")
	}
	n := 12 + len(resp.Body)
	for _, h := range resp.Header {
		n += 8 + len(h.Name) + len(h.Value)
	}
	return st.ok(abi.AppendResponse(make([]byte, 0, n), resp))
}

func httpFetch(st *hostState, ctx context.Context, mem wazeroapi.Memory, stack []uint64) int64 {
	b, code := st.read(mem, uint32(stack[0]), uint32(stack[1]), "http_fetch")
	if code != 0 {
		return code
	}
	if st.host == nil {
		host := "HOST"
		if req, err := abi.DecodeRequest(b); err == nil {
			if u, err := url.Parse(req.URL); err == nil && u.Host != "" && utf8.ValidString(u.Host) && len(u.Host) <= 255 {
				host = u.Host
			}
		}
		return st.deny(fnHTTPFetch, "http is not granted: add [allow] http = ["+strconv.Quote(host)+"] to mote.toml")
	}
	req, code := st.requestArg(mem, uint32(stack[0]), uint32(stack[1]), fnHTTPFetch)
	if code != 0 {
		return code
	}
	var resp *abi.Response
	if code := st.callHost(ctx, fnHTTPFetch, func(ctx context.Context) (err error) {
		resp, err = st.host.Fetch(ctx, req)
		return err
	}); code != 0 {
		return code
	}
	return st.response(fnHTTPFetch, resp)
}

func callService(st *hostState, ctx context.Context, mem wazeroapi.Memory, stack []uint64) int64 {
	nameBytes, code := st.read(mem, uint32(stack[0]), uint32(stack[1]), "call")
	if code != 0 {
		return code
	}
	if _, code := st.read(mem, uint32(stack[2]), uint32(stack[3]), "call"); code != 0 {
		return code
	}
	if st.host == nil {
		name := "NAME"
		if len(nameBytes) > 0 && len(nameBytes) <= maxKey && utf8.Valid(nameBytes) {
			name = string(nameBytes)
		}
		return st.deny(fnCall, "call is not granted: add [allow] call = ["+strconv.Quote(name)+"] to mote.toml")
	}
	name, code := st.text(nameBytes, "the service name", false)
	if code != 0 {
		return code
	}
	req, code := st.requestArg(mem, uint32(stack[2]), uint32(stack[3]), fnCall)
	if code != 0 {
		return code
	}
	var resp *abi.Response
	if code := st.callHost(ctx, fnCall, func(ctx context.Context) (err error) {
		resp, err = st.host.Call(ctx, name, req)
		return err
	}); code != 0 {
		return code
	}
	return st.response(fnCall, resp)
}
