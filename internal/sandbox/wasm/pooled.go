package wasm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/tetratelabs/wazero"
	wazeroapi "github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/guest/abi"
	"github.com/mote-run/mote/internal/sandbox"
	"github.com/mote-run/mote/internal/wagi"
)

// DefaultIdleTimeout is how long a pooled instance beyond a Spec's
// MinInstances (and beyond what SetDesired asked for) may sit idle before
// it is stopped, when the Spec says 0.
const DefaultIdleTimeout = 5 * time.Minute

// Instance states, as Instances reports them.
const (
	stateStarting = "starting"
	stateIdle     = "idle"
	stateBusy     = "busy"
)

// pooledRunner serves a version with reused reactor instances.
//
// Capacity: slots admits at most max requests at a time (and queues
// MaxQueue more); each admitted request holds one instance. A request
// takes the most recently used idle instance, or starts a new one when
// none is idle (a cold start). Instances are only started by a holder of
// a slot (the background filler takes one too), and only when none is
// idle, so every live instance that is not idle belongs to a slot holder
// and the live instances never outnumber max. When SetScale lowers max,
// idle instances beyond it are stopped at once and busy ones as they
// finish.
//
// Warm instances: the maintainer keeps floor() = max(min, desired)
// instances live, starting them in the background; the reaper stops
// instances idle for IdleTimeout beyond it, down to zero when min is 0 and
// nothing asked for more; SetDesired stops idle instances beyond its n at
// once.
type pooledRunner struct {
	d        *Driver
	e        *engine
	compiled wazero.CompiledModule
	pages    uint32
	spec     sandbox.Spec
	cfg      wazero.ModuleConfig
	proc     *proc
	slots    *slots

	mu       sync.Mutex
	idle     []*instance // LIFO: the most recently used last
	live     map[*instance]struct{}
	seq      uint64
	closed   bool // no instance goes back to idle
	released bool // the compiled code was released
	min, max int  // [scale] bounds, changed by SetScale
	desired  int  // what SetDesired asked for, unclamped
	health   healthCounter
	fault    startFault
	requests atomic.Uint64 // Serve calls so far

	kick     chan struct{}   // asks the maintainer to top up to floor()
	stop     context.Context // done when Close starts
	stopNow  context.CancelFunc
	maintain sync.WaitGroup
}

// instance is one reactor instance. Fields below mu are guarded by the
// runner's mu; the rest belong to whoever holds the instance (the request
// serving it, or the goroutine starting it).
type instance struct {
	seq     uint64
	started time.Time
	mod     wazeroapi.Module
	handle  wazeroapi.Function
	host    *hostState
	stdout  *logWriter
	stderr  *logWriter
	stack   [1]uint64
	reqBuf  []byte // the current request's encoding, reused

	// Guarded by the runner's mu.
	state     string
	requestID string
	requests  uint64
	lastUsed  time.Time
}

func newPooledRunner(ctx context.Context, d *Driver, e *engine, cm wazero.CompiledModule, pages uint32, spec sandbox.Spec) (*pooledRunner, error) {
	spec = withDefaults(spec)
	if spec.IdleTimeout <= 0 {
		spec.IdleTimeout = DefaultIdleTimeout
	}
	spec.MinInstances = min(max(spec.MinInstances, 0), spec.MaxInstances)
	r := &pooledRunner{
		d:        d,
		e:        e,
		compiled: cm,
		pages:    pages,
		spec:     spec,
		cfg:      baseConfig(spec).WithStartFunctions("_initialize"),
		proc:     newProc([]string{spec.Service}, envPairs(spec.Env)),
		slots:    newSlots(spec.MaxInstances, spec.MaxQueue),
		live:     map[*instance]struct{}{},
		min:      spec.MinInstances,
		max:      spec.MaxInstances,
		kick:     make(chan struct{}, 1),
	}
	r.stop, r.stopNow = context.WithCancel(context.Background())
	inst, err := r.start(ctx)
	if err != nil {
		r.stopNow()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("wasm: starting the first instance: %w", ctx.Err())
		}
		var ge *sandbox.GuestError
		if errors.As(err, &ge) {
			err = errors.New(ge.Detail)
		}
		return nil, fmt.Errorf("%w: the first instance failed to start: %v", sandbox.ErrInvalidModule, err)
	}
	r.mu.Lock()
	r.putIdle(inst)
	r.mu.Unlock()
	r.maintain.Add(1)
	go r.maintainer()
	return r, nil
}

// envPairs flattens a service's [env] into alternating keys and values,
// sorted by key. Names that are not portable are dropped (as WAGI does);
// values are made valid UTF-8 without NUL.
func envPairs(env map[string]string) []string {
	keys := make([]string, 0, len(env))
	for k := range env {
		if wagi.ValidEnvName(k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	pairs := make([]string, 0, 2*len(keys))
	for _, k := range keys {
		v := strings.ReplaceAll(strings.ToValidUTF8(env[k], "\uFFFD"), "\x00", "")
		pairs = append(pairs, k, v)
	}
	return pairs
}

// start creates and initializes an instance; it is live (and listed as
// starting) while _initialize runs. ctx bounds the start with the Spec's
// timeout.
func (r *pooledRunner) start(ctx context.Context) (*instance, error) {
	inst := &instance{started: time.Now(), state: stateStarting}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, sandbox.ErrClosed
	}
	r.seq++
	inst.seq = r.seq
	r.live[inst] = struct{}{}
	r.mu.Unlock()

	err := r.instantiate(ctx, inst)
	if err != nil && ctx.Err() == nil {
		r.health.failed(err)
	} else if err == nil {
		r.health.ok()
	}
	if err != nil {
		r.mu.Lock()
		delete(r.live, inst)
		release := r.releasable()
		r.mu.Unlock()
		if release {
			r.release()
		}
		return nil, err
	}
	return inst, nil
}

// instantiate runs the module's _initialize in a new instance.
func (r *pooledRunner) instantiate(ctx context.Context, inst *instance) error {
	ctx, cancel := context.WithTimeout(ctx, r.spec.Timeout)
	defer cancel()
	entry := api.LogEntry{Service: r.spec.Service, Version: r.spec.Version}
	entry.Stream = api.StreamStdout
	inst.stdout = &logWriter{sink: r.spec.Logs, entry: entry}
	entry.Stream = api.StreamStderr
	inst.stderr = &logWriter{sink: r.spec.Logs, entry: entry}
	inst.host = newState(&r.spec, r.proc, true)
	if err := r.fault.get(); err != nil {
		return err
	}
	cfg := r.cfg.WithStdout(inst.stdout).WithStderr(inst.stderr).WithNanosleep(inst.host.nanosleep)
	inst.host.call = ctx
	ictx := experimental.WithMemoryAllocator(withState(ctx, inst.host), memoryAllocator)
	mod, err := r.e.rt.InstantiateModule(ictx, r.compiled, cfg)
	inst.host.call = nil
	inst.stdout.flush()
	inst.stderr.flush()
	if err == nil && mod.IsClosed() {
		return &sandbox.GuestError{Kind: "start", Detail: "_initialize called proc_exit; a reactor must return from it"}
	}
	if err != nil {
		if mod != nil {
			_ = mod.Close(context.Background())
		}
		var ge *sandbox.GuestError
		switch err = runError(ctx, err, r.spec.Timeout); {
		case errors.As(err, &ge):
			return &sandbox.GuestError{Kind: "start", ExitCode: ge.ExitCode, Detail: "_initialize: " + ge.Detail}
		case errors.Is(err, sandbox.ErrTimeout):
			return &sandbox.GuestError{Kind: "start", Detail: fmt.Sprintf("_initialize did not return within %s ([limits] timeout)", r.spec.Timeout)}
		}
		return err
	}
	inst.mod = mod
	inst.handle = mod.ExportedFunction(abi.HandleExport)
	return nil
}

// Serve runs one request in a pooled instance.
//
// A request that finds no idle instance starts one (a cold start: the
// only kind when the pool is at zero), holding its slot meanwhile; the
// requests behind it wait in the queue. ErrNoCapacity comes only from a
// full queue or a wait longer than the Spec's Timeout.
func (r *pooledRunner) Serve(ctx context.Context, req *sandbox.Request) (*sandbox.Response, error) {
	discarded := false
	defer func() {
		if discarded {
			r.poke() // after the slot is back: the maintainer may need it
		}
	}()
	r.requests.Add(1)
	if err := r.slots.acquire(ctx, r.spec.Timeout); err != nil {
		return nil, err
	}
	defer r.slots.release()
	inst := r.take(req.ID)
	if inst == nil {
		// Start one for this request. The start is not cut short when the
		// client goes away: the instance serves the next request instead.
		if r.spec.OnWaitForInstance != nil {
			r.spec.OnWaitForInstance()
		}
		began := time.Now()
		var err error
		if inst, err = r.start(context.WithoutCancel(ctx)); err != nil {
			return nil, err
		}
		if r.spec.OnColdStart != nil {
			r.spec.OnColdStart(time.Since(began))
		}
		r.mu.Lock()
		inst.state, inst.requestID = stateBusy, req.ID
		r.mu.Unlock()
	}
	resp, err := r.run(ctx, inst, req)
	if err != nil || inst.mod.IsClosed() {
		r.discard(inst)
		discarded = true
		return resp, err
	}
	r.mu.Lock()
	inst.requests++
	if r.closed || len(r.live) > r.max {
		// Closing, or SetScale lowered max below what is live.
		r.mu.Unlock()
		r.discard(inst)
		return resp, nil
	}
	r.putIdle(inst)
	r.mu.Unlock()
	return resp, nil
}

// run calls the instance's handler with req. After a failure the instance
// must not be reused; after a success it may have exited anyway.
func (r *pooledRunner) run(ctx context.Context, inst *instance, req *sandbox.Request) (*sandbox.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, r.spec.Timeout)
	defer cancel()
	inst.reqBuf = appendRequest(inst.reqBuf[:0], req)
	st := inst.host
	st.begin(req, inst.reqBuf)
	st.call = ctx
	inst.stdout.entry.RequestID, inst.stderr.entry.RequestID = req.ID, req.ID
	inst.stdout.written, inst.stderr.written = 0, 0

	err := inst.handle.CallWithStack(withState(ctx, st), inst.stack[:])

	inst.stdout.flush()
	inst.stderr.flush()
	resp, refused := st.end()
	if cap(inst.reqBuf) > 1<<20 {
		inst.reqBuf = nil
	}
	if err != nil {
		var exit *sys.ExitError
		if errors.As(err, &exit) && exit.ExitCode() == 0 && resp != nil {
			return resp, nil // proc_exit(0) after responding: served, but the instance is gone
		}
		err = runError(ctx, err, r.spec.Timeout)
		var ge *sandbox.GuestError
		if refused != "" && errors.As(err, &ge) && ge.Kind == "exit" {
			return nil, refusedError(refused, ge.Detail)
		}
		return nil, err
	}
	if ret := int32(inst.stack[0]); ret != 0 {
		detail := abi.HandleExport + " returned " + strconv.Itoa(int(ret))
		if refused != "" {
			// The guest gave up because its response was refused (the Go
			// SDK returns 1): the response is at fault, not the guest.
			return nil, refusedError(refused, detail)
		}
		return nil, &sandbox.GuestError{Kind: "exit", ExitCode: uint32(ret), Detail: detail}
	}
	if resp == nil {
		detail := abi.HandleExport + " returned 0 without calling respond"
		if refused != "" {
			detail += "; respond was refused: " + refused
		}
		return nil, &sandbox.GuestError{Kind: "output", Detail: detail}
	}
	return resp, nil
}

// refusedError is the failure of a guest that exited or returned non-zero
// (how is what it did) after the host refused its response, for why: an
// "output" error, since the response (oversized or malformed) is what
// failed; why names the limit a response over [limits] response broke.
func refusedError(why, how string) *sandbox.GuestError {
	return &sandbox.GuestError{Kind: "output", Detail: "respond was refused: " + why + "; then " + how}
}

// appendRequest appends req's encoding for a pooled guest: url is the path
// and query as sent, headers come one per value, sorted by name.
func appendRequest(b []byte, req *sandbox.Request) []byte {
	route, rest := req.Route, req.RawPath
	if strings.HasSuffix(route, "/") && strings.HasPrefix(rest, "/") {
		rest = rest[1:]
	}
	path := route + rest
	if path == "" {
		path = "/"
	}
	if req.RawQuery != "" {
		path += "?" + req.RawQuery
	}
	if route == "/" {
		route = ""
	}
	var namesArr [32]string
	names := namesArr[:0]
	n := 0
	for k, vs := range req.Header {
		names = append(names, k)
		n += len(vs)
	}
	slices.Sort(names)
	hdrArr := make([]abi.Header, 0, n)
	for _, k := range names {
		for _, v := range req.Header[k] {
			hdrArr = append(hdrArr, abi.Header{Name: k, Value: v})
		}
	}
	return abi.AppendRequest(b, &abi.Request{
		Method: req.Method, URL: path, Route: route, Host: req.Host, RemoteAddr: req.RemoteAddr,
		RequestID: req.ID, Header: hdrArr, Body: req.Body,
	})
}

// take pops the most recently used idle instance and marks it busy with
// requestID, or returns nil when none is idle.
func (r *pooledRunner) take(requestID string) *instance {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.idle) == 0 {
		return nil
	}
	inst := r.idle[len(r.idle)-1]
	r.idle[len(r.idle)-1] = nil
	r.idle = r.idle[:len(r.idle)-1]
	inst.state, inst.requestID = stateBusy, requestID
	return inst
}

// putIdle pushes inst on the idle stack. r.mu must be held.
func (r *pooledRunner) putIdle(inst *instance) {
	inst.state, inst.requestID, inst.lastUsed = stateIdle, "", time.Now()
	r.idle = append(r.idle, inst)
}

// discard closes an instance that is no longer idle or never will be.
// Callers poke the maintainer when the pool may have fallen below floor().
func (r *pooledRunner) discard(inst *instance) {
	r.mu.Lock()
	delete(r.live, inst)
	release := r.releasable()
	r.mu.Unlock()
	r.closeInstance(inst)
	if release {
		r.release()
	}
}

// poke asks the maintainer to top the pool up to floor().
func (r *pooledRunner) poke() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

func (r *pooledRunner) closeInstance(inst *instance) {
	if inst.mod != nil {
		_ = inst.mod.Close(context.Background())
	}
}

// releasable reports whether the compiled code may be released now: the
// runner is closed and no instance is left. It marks it released, so only
// one caller releases. r.mu must be held.
func (r *pooledRunner) releasable() bool {
	if !r.closed || len(r.live) > 0 || r.released {
		return false
	}
	r.released = true
	return true
}

func (r *pooledRunner) release() {
	r.d.release(context.Background(), r.spec.Digest, r.pages, r.compiled)
}

// maintainer keeps floor() instances started and stops instances idle for
// longer than IdleTimeout beyond it, until Close.
func (r *pooledRunner) maintainer() {
	defer r.maintain.Done()
	every := min(max(r.spec.IdleTimeout/4, 5*time.Millisecond), 30*time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	var backoff time.Duration
	var retry <-chan time.Time
	for {
		if r.fill() {
			backoff, retry = 0, nil
		} else {
			backoff = min(max(2*backoff, 50*time.Millisecond), every)
			retry = time.After(backoff)
		}
		select {
		case <-r.stop.Done():
			return
		case <-r.kick:
		case <-retry:
		case <-t.C:
			r.stopIdle(r.floor, time.Now().Add(-r.spec.IdleTimeout))
		}
	}
}

// floor is how many instances the pool keeps warm: min, or what
// SetDesired asked for, clamped to [min, max]. r.mu must be held.
func (r *pooledRunner) floor() int {
	return min(max(r.desired, r.min), r.max)
}

// fill starts instances, one at a time, until floor() are live. Each start
// holds a slot, like a request, and only a free one: when every slot is
// held, the requests holding them have instances or start their own. A
// failed start is logged, and fill reports false: the maintainer retries
// with a backoff (and at every poke).
func (r *pooledRunner) fill() bool {
	for {
		r.mu.Lock()
		need := !r.closed && len(r.live) < r.floor()
		r.mu.Unlock()
		if !need || r.stop.Err() != nil || !r.slots.tryAcquire() {
			return true
		}
		r.mu.Lock()
		need = len(r.live) < r.floor()
		r.mu.Unlock()
		if !need {
			r.slots.releaseBackground()
			return true
		}
		inst, err := r.start(r.stop)
		if err != nil {
			r.slots.releaseBackground()
			if r.stop.Err() == nil {
				e := api.LogEntry{Time: time.Now(), Service: r.spec.Service, Version: r.spec.Version, Stream: api.StreamMote,
					Level: "warn", Message: "starting an instance to keep warm ([scale] min or the autoscaler's target): " + err.Error()}
				r.spec.Logs.Log(e)
			}
			return false
		}
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			r.slots.releaseBackground()
			r.discard(inst)
			return true
		}
		// Idle before the slot is back, so the request it lets in finds it.
		r.putIdle(inst)
		r.mu.Unlock()
		r.slots.releaseBackground()
	}
}

// stopIdle stops idle instances, least recently used first, while more
// than keep() are live and the next one was last used before cutoff (a
// zero cutoff: whenever it was used). The idle stack is ordered by last
// use, so the candidates are at its bottom. Instances beyond max are
// stopped whatever their last use.
func (r *pooledRunner) stopIdle(keep func() int, cutoff time.Time) {
	var stale []*instance
	r.mu.Lock()
	for len(r.idle) > 0 {
		inst := r.idle[0]
		beyondMax := len(r.live) > r.max
		old := cutoff.IsZero() || inst.lastUsed.Before(cutoff)
		if !beyondMax && (len(r.live) <= keep() || !old) {
			break
		}
		r.idle[0] = nil
		r.idle = r.idle[1:]
		delete(r.live, inst)
		stale = append(stale, inst)
	}
	r.mu.Unlock()
	for _, inst := range stale {
		r.closeInstance(inst)
	}
}

// Instances lists every live instance: starting, idle or busy.
func (r *pooledRunner) Instances() []api.Instance {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]api.Instance, 0, len(r.live))
	prefix := r.spec.Service + "." + strconv.Itoa(r.spec.Version) + "."
	for inst := range r.live {
		out = append(out, api.Instance{
			ID: prefix + strconv.FormatUint(inst.seq, 10), Service: r.spec.Service, Version: r.spec.Version,
			State: inst.state, Started: inst.started, Requests: inst.requests, RequestID: inst.requestID,
		})
	}
	slices.SortFunc(out, func(a, b api.Instance) int { return a.Started.Compare(b.Started) })
	return out
}

// Close stops new requests and background starts, waits for in-flight
// requests until ctx is done, then closes every idle instance. Instances
// still busy when ctx ends are closed as their requests finish; the
// compiled code is released with the last instance.
func (r *pooledRunner) Close(ctx context.Context) error {
	r.stopNow()
	err := r.slots.close(ctx)
	r.maintain.Wait()
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return err
	}
	r.closed = true
	idle := r.idle
	r.idle = nil
	for _, inst := range idle {
		delete(r.live, inst)
	}
	release := r.releasable()
	r.mu.Unlock()
	for _, inst := range idle {
		r.closeInstance(inst)
	}
	if release {
		r.release()
	}
	return err
}

// decodeResponse checks and decodes a Response a pooled guest passed to
// respond (b aliases guest memory; the result does not). On failure it
// returns the ABI error code and a message for the guest and the log.
func decodeResponse(b []byte, maxBody int64) (resp *sandbox.Response, warnings []string, code int, msg string) {
	// Past this the body alone must be over the limit: refuse it before
	// copying.
	if int64(len(b)) > maxBody+wagi.MaxHeaderBytes+8*wagi.MaxHeaderLines+16 {
		return nil, nil, abi.ErrTooLarge, fmt.Sprintf("the response is %d bytes, more than [limits] response (%d bytes) allows", len(b), maxBody)
	}
	ar, err := abi.DecodeResponse(append([]byte(nil), b...))
	if err != nil {
		return nil, nil, abi.ErrInvalid, "the response does not decode: " + err.Error()
	}
	if ar.Status < 200 {
		return nil, nil, abi.ErrInvalid, fmt.Sprintf("status %d is informational, not a response; use 200..999", ar.Status)
	}
	if int64(len(ar.Body)) > maxBody {
		return nil, nil, abi.ErrTooLarge, fmt.Sprintf("the body is %d bytes, more than [limits] response (%d bytes)", len(ar.Body), maxBody)
	}
	if len(ar.Header) > wagi.MaxHeaderLines {
		return nil, nil, abi.ErrInvalid, fmt.Sprintf("%d headers, more than %d", len(ar.Header), wagi.MaxHeaderLines)
	}
	header := make(http.Header, len(ar.Header))
	size := 0
	for i, h := range ar.Header {
		size += len(h.Name) + len(h.Value) + 4
		if size > wagi.MaxHeaderBytes {
			return nil, nil, abi.ErrInvalid, fmt.Sprintf("the headers are longer than %d bytes", wagi.MaxHeaderBytes)
		}
		if !wagi.ValidHeaderName(h.Name) {
			return nil, nil, abi.ErrInvalid, fmt.Sprintf("header %d: name %s is not an HTTP token", i, quoteShort(h.Name))
		}
		if c, bad := controlByte(h.Value); bad {
			return nil, nil, abi.ErrInvalid, fmt.Sprintf("header %s: the value holds the control byte %#02x", h.Name, c)
		}
		key := http.CanonicalHeaderKey(h.Name)
		if wagi.FramingHeader(key) {
			warnings = append(warnings, key+" dropped (the gateway frames the response)")
			continue
		}
		header[key] = append(header[key], h.Value)
	}
	return &sandbox.Response{Status: ar.Status, Header: header, Body: ar.Body}, warnings, 0, ""
}

// controlByte finds a control byte other than tab in a header value.
func controlByte(v string) (byte, bool) {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return c, true
		}
	}
	return 0, false
}

// quoteShort quotes s for a message, cut to 64 bytes.
func quoteShort(s string) string {
	if len(s) > 64 {
		s = s[:64]
		for len(s) > 0 && !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		return strconv.Quote(s) + "…"
	}
	return strconv.Quote(s)
}
