// badinit.c: a reactor whose _initialize traps (a constructor runs
// `unreachable`), so Load must refuse it with the trap's message.
//
// Rebuild (from this directory):
//   clang --target=wasm32-wasi --sysroot=/usr -O2 -mexec-model=reactor -Wl,--strip-all -o badinit.wasm badinit.c
#include <stdint.h>

__attribute__((constructor)) static void init(void) { __builtin_trap(); }

__attribute__((export_name("mote_v1_handle"))) int32_t handle(void) { return 0; }
