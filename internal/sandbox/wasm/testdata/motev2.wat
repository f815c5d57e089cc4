;; motev2.wat: a WAGI command built for a future mote ABI: it imports
;; mote_v2.kv_get (and mote_v1.log, which this node has), so Load must say
;; the module was built for ABI v2.
;; Rebuild (from this directory): wat2wasm motev2.wat -o motev2.wasm
(module
  (import "mote_v2" "kv_get" (func (param i32 i32) (result i64)))
  (import "mote_v1" "log" (func (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")))
