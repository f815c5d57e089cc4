;; bigmem.wat: a WASI command whose memory's minimum is 2048 pages (128 MiB):
;; over a 64 MiB [limits] memory, deploy must refuse it before it runs.
;;
;; Rebuild: wat2wasm bigmem.wat -o bigmem.wasm
(module
  (memory (export "memory") 2048)
  (func (export "_start")))
