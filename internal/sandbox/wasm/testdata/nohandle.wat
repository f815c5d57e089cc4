;; nohandle.wat: a reactor (it exports _initialize and a memory) without
;; mote_v1_handle, so a pooled Load must refuse it.
;; Rebuild (from this directory): wat2wasm nohandle.wat -o nohandle.wasm
(module
  (memory (export "memory") 1)
  (func (export "_initialize")))
