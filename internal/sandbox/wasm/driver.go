// Package wasm is mote's WebAssembly sandbox driver, built on wazero.
//
// A Driver compiles each module once per (digest, memory limit) and shares
// the compiled code between every version that uses it; compiled code is also
// cached on disk (wazero's compilation cache) so a restarted node does not
// recompile. Modules run with capabilities denied by default: no host
// environment, no files but the package's own (read-only, jailed), real clocks
// and a secure random source, and a linear-memory cap.
//
// Two ABIs are implemented (docs/abi.md): WAGI, a fresh instance of a WASI
// command per request, and pooled, initialized reactor instances reused
// across requests. Both may import the mote_v1 host functions, which give
// a guest the capabilities of its Spec's Host.
package wasm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/tetratelabs/wazero"
	wazeroapi "github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/guest/abi"
	"github.com/mote-run/mote/internal/sandbox"
)

// PageSize is the size of a WebAssembly memory page.
const PageSize = 65536

// Options configure a Driver. The zero value is valid: no on-disk cache.
type Options struct {
	// CacheDir holds wazero's compilation cache; "" keeps compiled code in
	// memory only.
	CacheDir string
	// Logger receives the driver's own diagnostics; nil discards them.
	Logger *slog.Logger
}

// Driver runs WebAssembly modules. It is safe for concurrent use.
type Driver struct {
	cache  wazero.CompilationCache
	logger *slog.Logger

	// noInterrupt turns off stopping guests when their context is done,
	// for BenchmarkInterruptCost only: timeouts do not work without it.
	noInterrupt bool

	mu       sync.Mutex
	closed   bool
	runtimes map[uint32]*engine          // by memory limit in pages
	modules  map[moduleKey]*sharedModule // compiled code, reference counted
}

// engine is a wazero runtime with WASI and mote_v1 instantiated. A
// runtime's memory limit is fixed at creation, so the driver keeps one per
// limit in use.
type engine struct {
	rt      wazero.Runtime
	wasiFns map[string]wazeroapi.FunctionDefinition // what wasi_snapshot_preview1 provides
}

type moduleKey struct {
	digest string
	pages  uint32
}

type sharedModule struct {
	compiled wazero.CompiledModule
	refs     int
}

var _ sandbox.Driver = (*Driver)(nil)

// New returns a Driver.
func New(opts Options) (*Driver, error) {
	d := &Driver{
		logger:   opts.Logger,
		runtimes: map[uint32]*engine{},
		modules:  map[moduleKey]*sharedModule{},
	}
	if d.logger == nil {
		d.logger = slog.New(slog.DiscardHandler)
	}
	if opts.CacheDir != "" {
		c, err := wazero.NewCompilationCacheWithDir(opts.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("wasm: compilation cache in %s: %w", opts.CacheDir, err)
		}
		d.cache = c
	} else {
		d.cache = wazero.NewCompilationCache()
	}
	return d, nil
}

// Pages converts a memory limit in bytes to whole wasm pages, at least 1 and
// at most 65536 (4 GiB).
func Pages(limit uint64) uint32 {
	p := (limit + PageSize - 1) / PageSize
	switch {
	case p < 1:
		return 1
	case p > 65536:
		return 65536
	}
	return uint32(p)
}

// engineFor returns the runtime for a memory limit, creating it on first use.
// d.mu must be held.
func (d *Driver) engineFor(ctx context.Context, pages uint32) (*engine, error) {
	if e, ok := d.runtimes[pages]; ok {
		return e, nil
	}
	cfg := wazero.NewRuntimeConfig().
		WithCompilationCache(d.cache).
		WithMemoryLimitPages(pages).
		WithCloseOnContextDone(!d.noInterrupt)
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	if err := instantiateWASI(ctx, rt); err != nil {
		_ = rt.Close(ctx)
		return nil, err
	}
	if err := instantiateMote(ctx, rt); err != nil {
		_ = rt.Close(ctx)
		return nil, err
	}
	e := &engine{rt: rt, wasiFns: rt.Module(wasi_snapshot_preview1.ModuleName).ExportedFunctionDefinitions()}
	d.runtimes[pages] = e
	return e, nil
}

// compile returns the compiled code for a module under a memory limit,
// compiling it on first use. Callers must release it.
func (d *Driver) compile(ctx context.Context, digest string, module []byte, pages uint32) (*engine, wazero.CompiledModule, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, nil, sandbox.ErrClosed
	}
	e, err := d.engineFor(ctx, pages)
	if err != nil {
		return nil, nil, err
	}
	key := moduleKey{digest, pages}
	if m, ok := d.modules[key]; ok && digest != "" {
		m.refs++
		return e, m.compiled, nil
	}
	// Compiling under the lock serializes compiles, which is what wazero's
	// compilation cache wants (it does not lock across a compile) and keeps
	// a burst of deploys from starving the request path of both cores.
	cm, err := e.rt.CompileModule(ctx, module)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s", sandbox.ErrInvalidModule, compileMessage(err, pages))
	}
	if digest != "" {
		d.modules[key] = &sharedModule{compiled: cm, refs: 1}
	}
	return e, cm, nil
}

// release drops a reference to compiled code and frees it with the last one.
func (d *Driver) release(ctx context.Context, digest string, pages uint32, cm wazero.CompiledModule) {
	d.mu.Lock()
	defer d.mu.Unlock()
	key := moduleKey{digest, pages}
	m, ok := d.modules[key]
	if !ok || m.compiled != cm {
		_ = cm.Close(ctx)
		return
	}
	if m.refs--; m.refs == 0 {
		delete(d.modules, key)
		_ = cm.Close(ctx)
	}
}

// compileMessage turns wazero's compile errors into advice.
func compileMessage(err error, pages uint32) string {
	msg := err.Error()
	if strings.Contains(msg, "over limit of") {
		return fmt.Sprintf("%s; the module needs more memory than [limits] memory allows (%d MiB): raise it in mote.toml",
			msg, uint64(pages)*PageSize>>20)
	}
	if strings.Contains(msg, "invalid magic number") {
		return "not a WebAssembly module (it does not start with \\0asm); point [wasm] module at a .wasm file"
	}
	return msg
}

// checkImports refuses modules that import anything mote does not provide
// (or provides with another signature), listing every such import.
func checkImports(e *engine, cm wazero.CompiledModule) error {
	var unknown, versions []string
	for _, f := range cm.ImportedFunctions() {
		mod, name, _ := f.Import()
		var params, results []wazeroapi.ValueType
		switch {
		case mod == wasi_snapshot_preview1.ModuleName && e.wasiFns[name] != nil:
			params, results = e.wasiFns[name].ParamTypes(), e.wasiFns[name].ResultTypes()
		case mod == abi.Module && moteFuncByName[name] != nil:
			params, results = moteFuncByName[name].params, moteFuncByName[name].results
		case mod == abi.Module:
			unknown = append(unknown, mod+"."+name+" (no such function in "+abi.Module+")")
			continue
		default:
			if v, ok := strings.CutPrefix(mod, "mote_v"); ok && v != "" && strings.Trim(v, "0123456789") == "" && !slices.Contains(versions, v) {
				versions = append(versions, v)
			}
			unknown = append(unknown, mod+"."+name)
			continue
		}
		if !slices.Equal(f.ParamTypes(), params) || !slices.Equal(f.ResultTypes(), results) {
			unknown = append(unknown, fmt.Sprintf("%s.%s %s (mote's is %s)", mod, name,
				signature(f.ParamTypes(), f.ResultTypes()), signature(params, results)))
		}
	}
	for _, m := range cm.ImportedMemories() {
		mod, name, _ := m.Import()
		unknown = append(unknown, mod+"."+name+" (memory)")
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	if len(versions) > 0 {
		slices.Sort(versions)
		built := "v" + strings.Join(versions, ", v")
		return fmt.Errorf("%w: the module was built for mote ABI %s; this node speaks v%d: rebuild it with this node's SDK, or run it on a node that speaks %s (imports mote does not provide: %s)",
			sandbox.ErrInvalidModule, built, abi.Version, built, strings.Join(unknown, ", "))
	}
	return fmt.Errorf("%w: the module imports %d function(s) mote does not provide: %s; a module may import only wasi_snapshot_preview1 and %s",
		sandbox.ErrInvalidModule, len(unknown), strings.Join(unknown, ", "), abi.Module)
}

// Load compiles and validates spec's module and returns its Runner. For
// the pooled ABI it also starts the first instance (running _initialize),
// so a module that fails to initialize is refused here.
func (d *Driver) Load(ctx context.Context, spec sandbox.Spec) (sandbox.Runner, error) {
	validate := validateCommand
	switch spec.ABI {
	case api.ABIWAGI, "":
	case api.ABIPooled:
		validate = validateReactor
	default:
		return nil, fmt.Errorf("%w: unknown abi %q; use \"wagi\" or \"pooled\"", sandbox.ErrInvalidModule, spec.ABI)
	}
	pages := Pages(spec.MemoryLimit)
	e, cm, err := d.compile(ctx, spec.Digest, spec.Module, pages)
	if err != nil {
		return nil, err
	}
	if err := validate(e, cm); err != nil {
		d.release(ctx, spec.Digest, pages, cm)
		return nil, err
	}
	// The compiled code is shared by digest; a runner keeping the module's
	// bytes too would hold a copy per version (most of the heap of a node
	// with thousands of services).
	spec.Module = nil
	if spec.ABI == api.ABIPooled {
		r, err := newPooledRunner(ctx, d, e, cm, pages, spec)
		if err != nil {
			d.release(ctx, spec.Digest, pages, cm)
			return nil, err
		}
		return r, nil
	}
	return newWAGIRunner(d, e, cm, pages, spec), nil
}

// validateCommand checks that cm is a WASI command mote can run.
func validateCommand(e *engine, cm wazero.CompiledModule) error {
	if err := checkImports(e, cm); err != nil {
		return err
	}
	start, ok := cm.ExportedFunctions()["_start"]
	if !ok {
		hint := "build it as a WASI command (a program with main)"
		if _, ok := cm.ExportedFunctions()["_initialize"]; ok {
			hint = "it looks like a reactor (it exports _initialize): use abi = \"pooled\", or build a command"
		}
		return fmt.Errorf("%w: the module exports no _start function; %s", sandbox.ErrInvalidModule, hint)
	}
	if len(start.ParamTypes()) != 0 || len(start.ResultTypes()) != 0 {
		return fmt.Errorf("%w: _start must take no parameters and return nothing", sandbox.ErrInvalidModule)
	}
	if len(cm.ExportedMemories()) == 0 {
		return fmt.Errorf("%w: the module exports no memory; WASI needs one named \"memory\"", sandbox.ErrInvalidModule)
	}
	return nil
}

// validateReactor checks that cm is a reactor mote can pool: it exports
// _initialize, mote_v1_handle and a memory.
func validateReactor(e *engine, cm wazero.CompiledModule) error {
	if err := checkImports(e, cm); err != nil {
		return err
	}
	exports := cm.ExportedFunctions()
	handle, ok := exports[abi.HandleExport]
	if !ok {
		hint := "a pooled module is a reactor exporting mote_v1_handle () -> i32 (in Go: guest.Serve, or //go:wasmexport mote_v1_handle)"
		if _, ok := exports["_start"]; ok {
			hint = "it looks like a WAGI command (it exports _start): use abi = \"wagi\", or build a reactor that exports mote_v1_handle"
		}
		return fmt.Errorf("%w: the module exports no %s function; %s", sandbox.ErrInvalidModule, abi.HandleExport, hint)
	}
	if want := []wazeroapi.ValueType{wazeroapi.ValueTypeI32}; len(handle.ParamTypes()) != 0 || !slices.Equal(handle.ResultTypes(), want) {
		return fmt.Errorf("%w: %s is %s; it must be () -> (i32)", sandbox.ErrInvalidModule, abi.HandleExport,
			signature(handle.ParamTypes(), handle.ResultTypes()))
	}
	init, ok := exports["_initialize"]
	if !ok {
		return fmt.Errorf("%w: the module exports no _initialize function; build it as a WASI reactor (Go: -buildmode=c-shared; C: -mexec-model=reactor)", sandbox.ErrInvalidModule)
	}
	if len(init.ParamTypes()) != 0 || len(init.ResultTypes()) != 0 {
		return fmt.Errorf("%w: _initialize is %s; it must take no parameters and return nothing", sandbox.ErrInvalidModule,
			signature(init.ParamTypes(), init.ResultTypes()))
	}
	if len(cm.ExportedMemories()) == 0 {
		return fmt.Errorf("%w: the module exports no memory; the ABI needs one named \"memory\"", sandbox.ErrInvalidModule)
	}
	return nil
}

// Close releases every runtime. Runners must be closed first.
func (d *Driver) Close(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	var errs []error
	for _, e := range d.runtimes {
		errs = append(errs, e.rt.Close(ctx))
	}
	errs = append(errs, d.cache.Close(ctx))
	return errors.Join(errs...)
}
