;; noinit.wat: exports mote_v1_handle and a memory but no _initialize, so a
;; pooled Load must refuse it as not being a reactor.
;; Rebuild (from this directory): wat2wasm noinit.wat -o noinit.wasm
(module
  (memory (export "memory") 1)
  (func (export "mote_v1_handle") (result i32) (i32.const 0)))
