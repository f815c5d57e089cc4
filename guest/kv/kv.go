// Package kv is the service's key-value store: a namespace of its own in
// the node's store, kept across requests, instances and deploys, deleted
// with the service. Grant it in mote.toml:
//
//	[allow]
//	kv = true
//
// Keys are UTF-8, 1 to 512 bytes; values up to 1 MiB. Without the grant
// every function fails with an error matching guest.ErrDenied.
//
//	if err := kv.Set("greeting", []byte("hello"), 0); err != nil {
//		return err
//	}
//	v, err := kv.Get("greeting") // "hello"
//
// There are no transactions: two requests that read, change and write the
// same key at once may overwrite each other.
package kv

import (
	"fmt"
	"time"

	"github.com/mote-run/mote/guest/internal/hostcall"
)

// Get returns the value stored under key. A missing (or expired) key is an
// error matching guest.ErrNotFound:
//
//	v, err := kv.Get("greeting")
//	if errors.Is(err, guest.ErrNotFound) {
//		v = []byte("hello") // the default
//	} else if err != nil {
//		return err
//	}
func Get(key string) ([]byte, error) {
	return hostcall.KVGet(key)
}

// Set stores value under key, replacing what was there. A ttl above zero
// makes the key expire after it (rounded up to a millisecond); 0 keeps it
// until deleted; a negative ttl is an error matching guest.ErrInvalid.
//
//	err := kv.Set("session/"+id, token, 30*time.Minute)
func Set(key string, value []byte, ttl time.Duration) error {
	if ttl < 0 {
		return fmt.Errorf("kv_set: %w: negative ttl %v", hostcall.ErrInvalid, ttl)
	}
	ms := int64((ttl + time.Millisecond - 1) / time.Millisecond)
	return hostcall.KVSet(key, value, ms)
}

// Delete deletes key. Deleting a key that does not exist succeeds.
func Delete(key string) error {
	return hostcall.KVDelete(key)
}

// List returns the keys that start with prefix, sorted; "" lists every key.
//
//	keys, err := kv.List("todo/") // ["todo/1", "todo/2"]
func List(prefix string) ([]string, error) {
	return hostcall.KVList(prefix)
}
