//go:build race

package wasm

// raceEnabled reports whether the race detector is on: compiling big
// modules under it is slow enough to skip.
const raceEnabled = true
