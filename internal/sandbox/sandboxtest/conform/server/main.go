// Command server is the conformance guest (package conform) as a plain
// HTTP server, for container drivers: it serves conform.Handler on
// 127.0.0.1:$PORT (8080 when PORT is unset) until it is killed. The
// conformance tests build it static at test time (sandboxtest.BuildServer):
//
//	CGO_ENABLED=0 go build -trimpath -o server .
package main

import (
	"log"
	"net"
	"net/http"
	"os"

	"github.com/mote-run/mote/internal/sandbox/sandboxtest/conform"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	addr := net.JoinHostPort("127.0.0.1", port)
	log.Printf("conform: serving on %s", addr)
	log.Fatal(http.ListenAndServe(addr, conform.Handler()))
}
