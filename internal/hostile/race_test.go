//go:build race

package hostile_test

// raceEnabled: under the race detector the 256 MiB upload is skipped
// (it slows it past 10 s).
const raceEnabled = true
