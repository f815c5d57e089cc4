;; noentry.wat: a valid module with a memory and an exported function but no
;; _start, so it is not a WASI command.
;; Rebuild (from this directory): wat2wasm noentry.wat -o noentry.wasm
(module
  (memory (export "memory") 1)
  (func (export "hello") (result i32)
    i32.const 42))
