// Package wasm is mote's WebAssembly sandbox driver, built on wazero.
//
// A Driver compiles each module once per (digest, memory limit) and shares
// the compiled code between every version that uses it; compiled code is also
// cached on disk (wazero's compilation cache) so a restarted node does not
// recompile. Modules run with capabilities denied by default: no host
// environment, no files but the package's own (read-only, jailed), real clocks
// and a secure random source, and a linear-memory cap.
//
// Only the WAGI ABI (a fresh instance of a WASI command per request) is
// implemented here; see docs/abi.md.
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
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/mote-run/mote/api"
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

	mu       sync.Mutex
	closed   bool
	runtimes map[uint32]*engine          // by memory limit in pages
	modules  map[moduleKey]*sharedModule // compiled code, reference counted
}

// engine is a wazero runtime with WASI instantiated. A runtime's memory
// limit is fixed at creation, so the driver keeps one per limit in use.
type engine struct {
	rt      wazero.Runtime
	wasiFns map[string]bool // names wasi_snapshot_preview1 provides
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
		WithCloseOnContextDone(true)
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	if err := instantiateWASI(ctx, rt); err != nil {
		_ = rt.Close(ctx)
		return nil, err
	}
	e := &engine{rt: rt, wasiFns: map[string]bool{}}
	for name := range rt.Module(wasi_snapshot_preview1.ModuleName).ExportedFunctionDefinitions() {
		e.wasiFns[name] = true
	}
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

// checkImports refuses modules that import anything mote does not provide,
// listing every such import.
func checkImports(e *engine, cm wazero.CompiledModule) error {
	var unknown []string
	for _, f := range cm.ImportedFunctions() {
		mod, name, _ := f.Import()
		if mod == wasi_snapshot_preview1.ModuleName && e.wasiFns[name] {
			continue
		}
		unknown = append(unknown, mod+"."+name)
	}
	for _, m := range cm.ImportedMemories() {
		mod, name, _ := m.Import()
		unknown = append(unknown, mod+"."+name+" (memory)")
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return fmt.Errorf("%w: the module imports %d function(s) mote does not provide: %s; a WAGI module may import only wasi_snapshot_preview1",
			sandbox.ErrInvalidModule, len(unknown), strings.Join(unknown, ", "))
	}
	return nil
}

// Load compiles and validates spec's module and returns its Runner.
func (d *Driver) Load(ctx context.Context, spec sandbox.Spec) (sandbox.Runner, error) {
	switch spec.ABI {
	case api.ABIWAGI, "":
	case api.ABIPooled:
		return nil, fmt.Errorf("%w: abi %q is not supported by this node yet; use abi = \"wagi\"", sandbox.ErrInvalidModule, spec.ABI)
	default:
		return nil, fmt.Errorf("%w: unknown abi %q; use \"wagi\"", sandbox.ErrInvalidModule, spec.ABI)
	}
	pages := Pages(spec.MemoryLimit)
	e, cm, err := d.compile(ctx, spec.Digest, spec.Module, pages)
	if err != nil {
		return nil, err
	}
	if err := validateCommand(e, cm); err != nil {
		d.release(ctx, spec.Digest, pages, cm)
		return nil, err
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
