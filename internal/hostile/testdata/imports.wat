;; imports.wat: a WASI command that imports functions no mote node provides:
;; from another host (env), from a newer mote ABI (mote_v2), a mote_v1
;; function that does not exist, and a mote_v1 function with the wrong
;; signature. Deploy must refuse it and name every one.
;;
;; Rebuild: wat2wasm imports.wat -o imports.wasm
(module
  (import "env" "mystery" (func (param i32)))
  (import "wasi_unstable" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
  (import "mote_v1" "teleport" (func (result i32)))
  (import "mote_v1" "kv_get" (func (param i32) (result i64)))
  (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")))
