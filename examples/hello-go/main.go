// Command hello-go is a WAGI nanoservice in plain Go: no SDK, just the
// standard library compiled with GOOS=wasip1 GOARCH=wasm.
//
// Rebuild (from this directory):
//
//	GOOS=wasip1 GOARCH=wasm go build -trimpath -ldflags="-s -w" -o hello.wasm .
//
// WAGI hands the request to a WASI command: the path after the service's
// route is in the PATH_INFO environment variable, and whatever the program
// writes to stdout is the response: header lines, a blank line, then the body.
// GREETING comes from the [env] table of mote.toml.
package main

import (
	"fmt"
	"os"
)

func main() {
	greeting := os.Getenv("GREETING")
	if greeting == "" {
		greeting = "Hello"
	}
	fmt.Print("Content-Type: text/plain\n\n")
	fmt.Printf("%s from Go on mote!\n", greeting)
	if path := os.Getenv("PATH_INFO"); path != "" {
		fmt.Printf("You asked for %s\n", path)
	}
}
