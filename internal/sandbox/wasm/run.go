package wasm

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/sys"

	"github.com/mote-run/mote/internal/jailfs"
	"github.com/mote-run/mote/internal/sandbox"
)

// Mount grants a guest a host directory, jailed: the guest cannot reach
// anything outside HostDir, through ".." or symlinks.
type Mount struct {
	HostDir  string
	GuestDir string
	ReadOnly bool
}

// RunOptions configure Run. The zero value runs the module with no
// arguments, no environment, no files and no stdio.
type RunOptions struct {
	Name   string   // argv[0]; default "module.wasm"
	Args   []string // argv[1:]
	Env    []string // "KEY=value" pairs; nothing of the host's is passed
	Mounts []Mount
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// MemoryLimit caps linear memory in bytes; 0 means 4 GiB.
	MemoryLimit uint64
}

// Run runs a WASI command once, like `wasmtime run`, and returns its exit
// code. A trap is reported as an error (and exit code 134, as a shell would
// report SIGABRT); an invalid module is an error wrapping
// sandbox.ErrInvalidModule.
func (d *Driver) Run(ctx context.Context, module []byte, opts RunOptions) (exitCode uint32, err error) {
	pages := Pages(opts.MemoryLimit)
	if opts.MemoryLimit == 0 {
		pages = 65536
	}
	e, cm, err := d.compile(ctx, "", module, pages)
	if err != nil {
		return 1, err
	}
	defer d.release(ctx, "", pages, cm)
	if err := validateCommand(e, cm); err != nil {
		return 1, err
	}

	name := opts.Name
	if name == "" {
		name = "module.wasm"
	}
	cfg := wazero.NewModuleConfig().
		WithName("").
		WithSysWalltime().
		WithSysNanotime().
		WithSysNanosleep().
		WithRandSource(rand.Reader)
	if opts.Stdin != nil {
		cfg = cfg.WithStdin(opts.Stdin)
	}
	if opts.Stdout != nil {
		cfg = cfg.WithStdout(opts.Stdout)
	}
	if opts.Stderr != nil {
		cfg = cfg.WithStderr(opts.Stderr)
	}
	env := make([]string, 0, 2*len(opts.Env))
	for _, kv := range opts.Env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return 1, fmt.Errorf("wasm: environment entry %q is not KEY=value", kv)
		}
		env = append(env, k, v)
	}
	// No Host: a module that imports mote_v1 runs with every capability
	// denied.
	st := &hostState{logs: discardLogs, proc: newProc(append([]string{name}, opts.Args...), env), call: ctx}
	cfg = cfg.WithNanosleep(st.nanosleep) // a sleep ends when ctx does
	ctx = withState(ctx, st)
	if len(opts.Mounts) > 0 {
		fsc := wazero.NewFSConfig()
		for _, m := range opts.Mounts {
			jail, err := jailfs.New(m.HostDir, m.ReadOnly)
			if err != nil {
				return 1, fmt.Errorf("wasm: mount %s: %w", m.HostDir, err)
			}
			defer jail.Close()
			fsc = fsc.(sysfs.FSConfig).WithSysFSMount(jail, m.GuestDir)
		}
		cfg = cfg.WithFSConfig(fsc)
	}

	mod, err := e.rt.InstantiateModule(ctx, cm, cfg)
	if mod != nil {
		_ = mod.Close(ctx)
	}
	if err == nil {
		return 0, nil
	}
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		switch exit.ExitCode() {
		case sys.ExitCodeContextCanceled, sys.ExitCodeDeadlineExceeded:
			return 130, ctx.Err()
		}
		return exit.ExitCode(), nil
	}
	return 134, &sandbox.GuestError{Kind: "trap", Detail: firstLine(err.Error())}
}
