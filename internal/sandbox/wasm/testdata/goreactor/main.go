//go:build ignore

// A pooled hello in Go without the SDK, for the cold-start and warm
// benchmarks: a reactor that exports mote_v1_handle and imports the mote_v1
// functions it needs directly. It reads the request, as every real guest
// does, and answers 200 "Hello from Go".
//
// Rebuild (from this directory):
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -ldflags=-s -o ../goreactor.wasm main.go
package main

import (
	"encoding/binary"
	"unsafe"
)

//go:wasmimport mote_v1 request_len
func requestLen() int32

//go:wasmimport mote_v1 request_read
func requestRead(ptr unsafe.Pointer, n int32) int32

//go:wasmimport mote_v1 respond
func respond(ptr unsafe.Pointer, n int32) int32

var (
	req  []byte
	resp = encodeResponse(200, "Content-Type", "text/plain", "Hello from Go\n")
)

func encodeResponse(status uint32, name, value, body string) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 1)
	b = binary.LittleEndian.AppendUint32(b, status)
	b = binary.LittleEndian.AppendUint32(b, 1)
	for _, s := range []string{name, value, body} {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return b
}

//go:wasmexport mote_v1_handle
func handle() int32 {
	n := requestLen()
	if cap(req) < int(n) {
		req = make([]byte, n)
	}
	req = req[:n]
	if n > 0 {
		requestRead(unsafe.Pointer(&req[0]), n)
	}
	return respond(unsafe.Pointer(&resp[0]), int32(len(resp)))
}

func main() {}
