package wasm

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/sandbox"
	"github.com/mote-run/mote/internal/wagi"
)

// Defaults for a Spec's zero limits.
const (
	DefaultMaxInstances = 20
	DefaultMaxOutput    = 16 << 20
	DefaultTimeout      = 30 * time.Second
	// maxStderr caps what one request's stderr adds to the logs.
	maxStderr = 64 << 10
)

// wagiRunner serves a version with a fresh instance per request.
type wagiRunner struct {
	d        *Driver
	e        *engine
	compiled wazero.CompiledModule
	pages    uint32
	spec     sandbox.Spec
	base     wazero.ModuleConfig
	slots    *slots
	tracker  tracker
	health   healthCounter
	fault    startFault
	requests atomic.Uint64 // Serve calls so far
}

func newWAGIRunner(d *Driver, e *engine, cm wazero.CompiledModule, pages uint32, spec sandbox.Spec) *wagiRunner {
	spec = withDefaults(spec)
	return &wagiRunner{
		d:        d,
		e:        e,
		compiled: cm,
		pages:    pages,
		spec:     spec,
		base:     baseConfig(spec).WithStartFunctions(), // _start is called by Serve, after timing the instantiation
		slots:    newSlots(spec.MaxInstances, spec.MaxQueue),
		tracker:  tracker{service: spec.Service, version: spec.Version, live: map[*liveInstance]struct{}{}},
	}
}

// withDefaults fills in spec's zero limits.
func withDefaults(spec sandbox.Spec) sandbox.Spec {
	if spec.Timeout <= 0 {
		spec.Timeout = DefaultTimeout
	}
	if spec.MaxOutput <= 0 {
		spec.MaxOutput = DefaultMaxOutput
	}
	if spec.MaxInstances <= 0 {
		spec.MaxInstances = DefaultMaxInstances
	}
	// MaxQueue stays 0 or less for the default: the queue then follows
	// MaxInstances (queuePerSlot per slot), also when SetScale changes it.
	if spec.Logs == nil {
		spec.Logs = discardLogs
	}
	return spec
}

// newState returns the host state of one instance of spec's module.
func newState(spec *sandbox.Spec, p *proc, pooled bool) *hostState {
	return &hostState{
		host:      spec.Host,
		logs:      spec.Logs,
		entry:     api.LogEntry{Service: spec.Service, Version: spec.Version},
		proc:      p,
		maxOutput: spec.MaxOutput,
		pooled:    pooled,
	}
}

// baseConfig is the part of a module's configuration that is the same for
// every request: real clocks, secure random, the package's files. Runners
// replace its Nanosleep with the instance's hostState.nanosleep, which
// ends a sleep when the request does.
func baseConfig(spec sandbox.Spec) wazero.ModuleConfig {
	cfg := wazero.NewModuleConfig().
		WithName("").
		WithSysWalltime().
		WithSysNanotime().
		WithSysNanosleep().
		WithRandSource(rand.Reader)
	if spec.Files != nil {
		cfg = cfg.WithFSConfig(wazero.NewFSConfig().WithFSMount(spec.Files, "/"))
	}
	return cfg
}

// Serve runs one request in a fresh instance.
func (r *wagiRunner) Serve(ctx context.Context, req *sandbox.Request) (*sandbox.Response, error) {
	r.requests.Add(1)
	if err := r.slots.acquire(ctx, r.spec.Timeout); err != nil {
		return nil, err
	}
	defer r.slots.release()
	inst := r.tracker.start(req.ID)
	defer r.tracker.finish(inst)

	ctx, cancel := context.WithTimeout(ctx, r.spec.Timeout)
	defer cancel()

	out := outputPool.Get().(*cappedBuffer)
	out.reset(r.spec.MaxOutput, cancel)
	defer outputPool.Put(out)
	errw := &logWriter{sink: r.spec.Logs, entry: api.LogEntry{
		Service: r.spec.Service, Version: r.spec.Version, RequestID: req.ID, Stream: api.StreamStderr,
	}}

	st := newState(&r.spec, newProc(wagi.Args(req), wagi.Env(req, r.spec.Env)), false)
	st.begin(req, nil)
	st.call = ctx
	cfg := r.base.
		WithStdin(bytes.NewReader(req.Body)).
		WithStdout(out).
		WithStderr(errw).
		WithNanosleep(st.nanosleep)
	ictx := experimental.WithMemoryAllocator(withState(ctx, st), memoryAllocator)

	err := r.instantiateAndRun(ictx, cfg)
	st.end()
	errw.flush()
	if err != nil || out.overflow {
		return nil, r.classify(ctx, err, out)
	}
	resp, warnings, err := wagi.ParseOutputWarn(out.buf)
	for _, w := range warnings {
		errw.warn("response: " + w)
	}
	if err != nil {
		return nil, &sandbox.GuestError{Kind: "output", Detail: err.Error()}
	}
	resp.Body = bytes.Clone(resp.Body)
	return resp, nil
}

// instantiateAndRun creates the request's instance, then runs its _start.
// The two are apart (as wazero's InstantiateModule would do them, with its
// errors) so the instantiation alone is timed for OnColdStart and its
// failures count as start failures in Health.
func (r *wagiRunner) instantiateAndRun(ctx context.Context, cfg wazero.ModuleConfig) error {
	var began time.Time
	if r.spec.OnColdStart != nil {
		began = time.Now()
	}
	mod, err := r.e.rt.InstantiateModule(ctx, r.compiled, cfg)
	if err == nil {
		err = r.fault.get()
	}
	if err != nil {
		if mod != nil {
			_ = mod.Close(context.Background())
		}
		if ctx.Err() != nil {
			return err
		}
		ge := &sandbox.GuestError{Kind: "start", Detail: "instantiating: " + firstLine(err.Error())}
		r.health.failed(ge)
		return ge
	}
	r.health.ok()
	if r.spec.OnColdStart != nil {
		r.spec.OnColdStart(time.Since(began))
	}
	_, err = mod.ExportedFunction("_start").Call(ctx)
	_ = mod.Close(context.Background())
	if err == nil {
		return nil
	}
	if exit, ok := err.(*sys.ExitError); ok {
		if exit.ExitCode() == 0 {
			return nil
		}
		return err
	}
	return fmt.Errorf("module[] function[_start] failed: %w", err)
}

// classify maps an instantiation error to the sandbox error classes.
func (r *wagiRunner) classify(ctx context.Context, err error, out *cappedBuffer) error {
	if out.overflow {
		return &sandbox.GuestError{Kind: "output", Detail: fmt.Sprintf("the response is larger than %d bytes ([limits] response)", r.spec.MaxOutput)}
	}
	var ge *sandbox.GuestError
	if errors.As(err, &ge) && ge.Kind == "start" {
		return err
	}
	return runError(ctx, err, r.spec.Timeout)
}

// runError maps the error of running guest code under ctx, which has the
// request's timeout, to the sandbox error classes.
func runError(ctx context.Context, err error, timeout time.Duration) error {
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		switch exit.ExitCode() {
		case sys.ExitCodeDeadlineExceeded:
			return fmt.Errorf("%w after %s", sandbox.ErrTimeout, timeout)
		case sys.ExitCodeContextCanceled:
			return context.Canceled
		}
		return &sandbox.GuestError{Kind: "exit", ExitCode: exit.ExitCode(), Detail: "exited with code " + strconv.FormatUint(uint64(exit.ExitCode()), 10)}
	}
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w after %s", sandbox.ErrTimeout, timeout)
	}
	return &sandbox.GuestError{Kind: "trap", Detail: firstLine(err.Error())}
}

// Instances lists requests in flight: under WAGI each is its own instance.
func (r *wagiRunner) Instances() []api.Instance { return r.tracker.list() }

// Close stops new requests, waits for in-flight ones until ctx is done, then
// releases the compiled code.
func (r *wagiRunner) Close(ctx context.Context) error {
	err := r.slots.close(ctx)
	r.d.release(context.Background(), r.spec.Digest, r.pages, r.compiled)
	return err
}

func firstLine(s string) string {
	if i := bytes.IndexByte([]byte(s), '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// tracker records live instances for `mote ps`.
type tracker struct {
	service string
	version int
	seq     atomic.Uint64
	mu      sync.Mutex
	live    map[*liveInstance]struct{}
}

type liveInstance struct {
	seq       uint64
	requestID string
	started   time.Time
}

func (t *tracker) start(requestID string) *liveInstance {
	inst := &liveInstance{seq: t.seq.Add(1), requestID: requestID, started: time.Now()}
	t.mu.Lock()
	t.live[inst] = struct{}{}
	t.mu.Unlock()
	return inst
}

func (t *tracker) finish(inst *liveInstance) {
	t.mu.Lock()
	delete(t.live, inst)
	t.mu.Unlock()
}

func (t *tracker) list() []api.Instance {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]api.Instance, 0, len(t.live))
	for inst := range t.live {
		out = append(out, api.Instance{
			ID: t.service + "." + strconv.Itoa(t.version) + "." + strconv.FormatUint(inst.seq, 10), Service: t.service, Version: t.version, State: "busy",
			Started: inst.started, Requests: 0, RequestID: inst.requestID,
		})
	}
	return out
}
