;; badhandle.wat: a reactor whose mote_v1_handle takes a parameter, so a
;; pooled Load must refuse it for its signature.
;; Rebuild (from this directory): wat2wasm badhandle.wat -o badhandle.wasm
(module
  (memory (export "memory") 1)
  (func (export "_initialize"))
  (func (export "mote_v1_handle") (param i32) (result i32) (i32.const 0)))
