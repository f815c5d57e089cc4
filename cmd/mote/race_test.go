//go:build race

package main

// raceEnabled: the race detector slows wazero's compiler down ~10×.
const raceEnabled = true
