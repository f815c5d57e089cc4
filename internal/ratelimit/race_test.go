//go:build race

package ratelimit_test

// raceEnabled: the race detector slows the embedded NATS server ten-fold.
const raceEnabled = true
