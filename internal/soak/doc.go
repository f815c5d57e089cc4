// Package soak holds mote's sustained-load test (soak_test.go): a `mote up`
// subprocess serving several services over both ABIs and with API
// management, driven open-loop at half of its measured maximum for a long
// time while its memory, goroutines and open files are sampled. The run
// fails on any request error or on growth. It runs only when asked:
//
//	go test ./internal/soak/ -run TestSoak -soak -soak.duration 10m -soak.out /tmp/soak -timeout 30m -v
//
// Without -soak, `go test ./...` runs only the package's fast unit tests
// (line fit, growth rule, parsers, plot). docs/soak.md has the method and the last
// result. The package has no non-test code.
package soak
