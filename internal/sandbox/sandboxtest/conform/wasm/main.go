//go:build wasip1

// Command wasm is the conformance guest (package conform) as a pooled Go
// SDK guest: a WebAssembly reactor serving conform.Handler through
// guest.Serve. The build constraint keeps `go build ./...` and `go vet
// ./...` on the host from building it; its module is committed as
// conform.wasm beside it. Rebuild from this directory:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -ldflags="-s -w" -o conform.wasm .
package main

import (
	"github.com/mote-run/mote/guest"
	"github.com/mote-run/mote/internal/sandbox/sandboxtest/conform"
)

func init() {
	guest.Serve(conform.Handler())
}

func main() {} // a reactor's main never runs
