// Package crashtest holds the node's crash-safety tests. TestCrashSafety
// builds cmd/mote, runs `mote up` as a subprocess, makes changes through
// the Go SDK from several goroutines (deploys of new versions and new
// services, configuration, plans, API keys, quota use through the gateway,
// traffic splits, rollbacks and scale overrides), SIGKILLs the node at a
// random moment, restarts it on the same data dir and checks that every
// acknowledged change survived and that nothing half-done is visible.
// TestFlushedQuotaSurvivesKill checks one flushed quota across a kill,
// reading the counter from the node's store over NATS.
// The package has no code of its own.
//
// Run it longer with
//
//	go test ./internal/crashtest/ -run CrashSafety -v -crash.iterations 30
//
// or MOTE_CRASH_ITERATIONS=30 (5 by default, 2 with -short). Other knobs:
// MOTE_CRASH_SEED repeats a run's kill timings, MOTE_CRASH_BIN tests a
// prebuilt mote binary instead of building one, MOTE_CRASH_LOG_LEVEL sets
// the node's log level (info), and -crash.allkeys uses every API key at the
// gateway after every restart instead of the new ones and a sample.
package crashtest
