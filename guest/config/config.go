// Package config reads the service's configuration: values set on the node
// with `mote config set NAME KEY=VALUE [--secret]`, not baked into the
// module, so a deploy need not change for a new URL or a rotated secret.
// Grant it in mote.toml:
//
//	[allow]
//	config = true
//
//	upstream, err := config.Get("UPSTREAM")
//	if errors.Is(err, guest.ErrNotFound) {
//		// not set: tell the operator what to run
//	}
package config

import "github.com/mote-run/mote/guest/internal/hostcall"

// Get returns the value of key. A key that is not set is an error matching
// guest.ErrNotFound; without the grant, guest.ErrDenied.
func Get(key string) (string, error) {
	return hostcall.ConfigGet(key)
}
