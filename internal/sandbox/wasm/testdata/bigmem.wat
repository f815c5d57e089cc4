;; bigmem.wat: a WAGI hello whose memory declares a minimum of 2000 pages
;; (125 MiB), more than a small memory limit allows: loading it under a
;; 64 MiB limit must fail, and under a 128 MiB limit it answers normally.
;; Rebuild (from this directory): wat2wasm bigmem.wat -o bigmem.wasm
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2000)
  ;; iovec at 0: {base = 16, len = 37}; the response text at 16.
  (data (i32.const 0) "\10\00\00\00\25\00\00\00")
  (data (i32.const 16) "Content-Type: text/plain\n\nbig memory\n")
  (func (export "_start")
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
