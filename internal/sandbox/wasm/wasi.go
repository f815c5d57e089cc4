package wasm

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tetratelabs/wazero"
	wazeroapi "github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
)

// mote's WASI is wazero's wasi_snapshot_preview1 with the four functions
// that read argv and the environment replaced by ones that read them from
// the call's context. wazero's own versions read them from the module's
// configuration, and setting n variables there copies the configuration n
// times (n² work per request); a request's variables are built once, in
// the layout WASI wants, and handed over in the context with the rest of
// the instance's state (hostState).

// A guest's sleeps end when its request does. WASI sleeps in poll_oneoff
// (Go's time.Sleep, C's sleep), which wazero implements with the module's
// Nanosleep: wazero's own (WithSysNanosleep) blocks for the whole sleep, and
// WithCloseOnContextDone stops a guest only when it runs Wasm code again, so
// a guest sleeping an hour would hold its instance for an hour past its
// timeout. Each instance is configured with its hostState's nanosleep
// instead, which ends the call when the call's context (hostState.call) is
// done, as proc_exit does.

// nanosleep sleeps ns nanoseconds. When st.call is done first, it does not
// return to the guest (which would run on past its deadline, maybe to a
// response): it panics with the *sys.ExitError wazero reports for a done
// context (ExitCodeDeadlineExceeded or ExitCodeContextCanceled), which
// wazero returns from the call as proc_exit's. It runs on the instance's
// goroutine, like every call into the instance.
func (st *hostState) nanosleep(ns int64) {
	if ns <= 0 {
		return
	}
	var done <-chan struct{}
	if st.call != nil {
		done = st.call.Done()
	}
	if done == nil {
		time.Sleep(time.Duration(ns))
		return
	}
	select {
	case <-done:
		panic(contextExit(st.call))
	default:
	}
	if st.sleep == nil {
		st.sleep = time.NewTimer(time.Duration(ns))
	} else {
		st.sleep.Reset(time.Duration(ns))
	}
	select {
	case <-st.sleep.C:
	case <-done:
		st.sleep.Stop()
		panic(contextExit(st.call))
	}
}

// contextExit is the exit error wazero reports for a call stopped because
// ctx is done.
func contextExit(ctx context.Context) *sys.ExitError {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return sys.NewExitError(sys.ExitCodeDeadlineExceeded)
	}
	return sys.NewExitError(sys.ExitCodeContextCanceled)
}

// proc is one instance's argv and environment, in WASI's layout: the
// NUL-terminated strings back to back, and where each starts.
type proc struct {
	args, env        []byte
	argOffs, envOffs []uint32
}

// newProc builds argv and the environment (alternating keys and values).
func newProc(args []string, env []string) *proc {
	p := &proc{}
	for _, a := range args {
		p.argOffs = append(p.argOffs, uint32(len(p.args)))
		p.args = append(append(p.args, a...), 0)
	}
	p.envOffs = make([]uint32, 0, len(env)/2)
	n := 0
	for _, s := range env {
		n += len(s) + 1
	}
	p.env = make([]byte, 0, n)
	for i := 0; i+1 < len(env); i += 2 {
		p.envOffs = append(p.envOffs, uint32(len(p.env)))
		p.env = append(append(append(append(p.env, env[i]...), '='), env[i+1]...), 0)
	}
	return p
}

// procOf returns the argv and environment of the instance ctx runs.
func procOf(ctx context.Context) *proc {
	if p := stateOf(ctx).proc; p != nil {
		return p
	}
	return &proc{}
}

// WASI errno values used here.
const (
	errnoSuccess = 0
	errnoFault   = 21
)

// instantiateWASI instantiates mote's wasi_snapshot_preview1 in rt.
func instantiateWASI(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder(wasi_snapshot_preview1.ModuleName)
	wasi_snapshot_preview1.NewFunctionExporter().ExportFunctions(b)
	i32 := wazeroapi.ValueTypeI32
	export := func(name string, fn wazeroapi.GoModuleFunc, params ...string) {
		types := make([]wazeroapi.ValueType, len(params))
		for i := range types {
			types[i] = i32
		}
		b.NewFunctionBuilder().
			WithGoModuleFunction(fn, types, []wazeroapi.ValueType{i32}).
			WithParameterNames(params...).
			Export(name)
	}
	export("args_get", func(ctx context.Context, mod wazeroapi.Module, stack []uint64) {
		p := procOf(ctx)
		stack[0] = writeStrings(mod.Memory(), p.args, p.argOffs, uint32(stack[0]), uint32(stack[1]))
	}, "argv", "argv_buf")
	export("args_sizes_get", func(ctx context.Context, mod wazeroapi.Module, stack []uint64) {
		p := procOf(ctx)
		stack[0] = writeSizes(mod.Memory(), len(p.argOffs), len(p.args), uint32(stack[0]), uint32(stack[1]))
	}, "result.argc", "result.argv_len")
	export("environ_get", func(ctx context.Context, mod wazeroapi.Module, stack []uint64) {
		p := procOf(ctx)
		stack[0] = writeStrings(mod.Memory(), p.env, p.envOffs, uint32(stack[0]), uint32(stack[1]))
	}, "environ", "environ_buf")
	export("environ_sizes_get", func(ctx context.Context, mod wazeroapi.Module, stack []uint64) {
		p := procOf(ctx)
		stack[0] = writeSizes(mod.Memory(), len(p.envOffs), len(p.env), uint32(stack[0]), uint32(stack[1]))
	}, "result.environc", "result.environv_len")
	if _, err := b.Instantiate(ctx); err != nil {
		return fmt.Errorf("wasm: instantiate WASI: %w", err)
	}
	return nil
}

// writeStrings writes the pointer array at ptrs and the strings at buf.
func writeStrings(mem wazeroapi.Memory, strs []byte, offs []uint32, ptrs, buf uint32) uint64 {
	if !mem.Write(buf, strs) {
		return errnoFault
	}
	for i, off := range offs {
		if !mem.WriteUint32Le(ptrs+uint32(4*i), buf+off) {
			return errnoFault
		}
	}
	return errnoSuccess
}

// writeSizes writes a count and a byte length.
func writeSizes(mem wazeroapi.Memory, count, size int, countPtr, sizePtr uint32) uint64 {
	if !mem.WriteUint32Le(countPtr, uint32(count)) || !mem.WriteUint32Le(sizePtr, uint32(size)) {
		return errnoFault
	}
	return errnoSuccess
}
