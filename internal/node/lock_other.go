//go:build !unix

package node

// dirLock is a no-op where flock is unavailable; NATS' own store lock still
// refuses a second node on the same dir.
type dirLock struct{}

func lockDir(string) (*dirLock, error) { return &dirLock{}, nil }

func (l *dirLock) release() error { return nil }
