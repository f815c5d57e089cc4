package wasm

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero"
	wazeroapi "github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// mote's WASI is wazero's wasi_snapshot_preview1 with the four functions
// that read argv and the environment replaced by ones that read them from
// the call's context. wazero's own versions read them from the module's
// configuration, and setting n variables there copies the configuration n
// times (n² work per request); a request's variables are built once, in
// the layout WASI wants, and handed over in the context with the rest of
// the instance's state (hostState).

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
