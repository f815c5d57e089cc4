;; moteunknown.wat: a WAGI command importing a function mote_v1 does not
;; have (mote_v1.teleport) and one with the wrong signature (mote_v1.kv_get
;; taking one i32), so Load must list both.
;; Rebuild (from this directory): wat2wasm moteunknown.wat -o moteunknown.wasm
(module
  (import "mote_v1" "teleport" (func (param i32) (result i32)))
  (import "mote_v1" "kv_get" (func (param i32) (result i64)))
  (memory (export "memory") 1)
  (func (export "_start")))
