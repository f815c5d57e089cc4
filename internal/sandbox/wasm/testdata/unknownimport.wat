;; unknownimport.wat: a WASI command that also imports functions no host
;; provides (env.mystery_fn and a made-up WASI call), so instantiation must
;; fail. Were the imports satisfied, _start would print a valid response.
;; Rebuild (from this directory): wat2wasm unknownimport.wat -o unknownimport.wasm
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "env" "mystery_fn" (func $mystery (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "not_a_wasi_call" (func $not_wasi (result i32)))
  (memory (export "memory") 1)
  ;; iovec at 0: {base = 16, len = 38}; the response text at 16.
  (data (i32.const 0) "\10\00\00\00\26\00\00\00")
  (data (i32.const 16) "Content-Type: text/plain\n\nunreachable\n")
  (func (export "_start")
    (drop (call $mystery (call $not_wasi)))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
