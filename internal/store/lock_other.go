//go:build !(linux || darwin || freebsd || openbsd || netbsd || dragonfly)

package store

import "os"

// lockDir is a no-op where flock(2) is missing (e.g. Windows): there, nothing
// stops two nodes from sharing a data directory.
func lockDir(string) (*os.File, error) { return nil, nil }

func unlockDir(*os.File) error { return nil }
