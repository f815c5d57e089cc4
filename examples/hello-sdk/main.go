// Command hello-sdk is the smallest pooled service written with mote's Go
// SDK: an http.Handler, registered in init, compiled to a WebAssembly
// reactor whose initialized instances mote reuses across requests.
//
// Rebuild (from this directory):
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -ldflags="-s -w" -o hello.wasm .
//
// Unlike hello-go (WAGI: a fresh instance, and a fresh Go runtime, per
// request), the runtime starts once per instance, so a request costs a
// function call. It is the benchmark guest for the pooled ABI.
package main

import (
	"io"
	"net/http"

	"github.com/mote-run/mote/guest"
)

func init() {
	guest.Serve(guest.StripRoute(http.HandlerFunc(hello)))
}

// hello greets, and says what was asked for below the service's route.
func hello(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "Hello from Go on mote!\n")
	if r.URL.Path != "/" {
		io.WriteString(w, "You asked for "+r.URL.Path+"\n")
	}
}

func main() {} // a reactor's main is never called
