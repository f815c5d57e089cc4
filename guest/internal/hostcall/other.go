//go:build !wasip1

package hostcall

import (
	"fmt"
	"os"
	"strings"
)

var defaultHost Host = noHost{}

// noHost stands in for the node outside a guest: every capability answers
// ErrNotInGuest, and log lines go to stderr so a program's logs are not
// lost in tests.
type noHost struct{}

var levelNames = [...]string{"DEBUG", "INFO", "WARN", "ERROR"}

func (noHost) Request([]byte) ([]byte, error) { return nil, notInGuest("request_read") }
func (noHost) Respond([]byte) error           { return notInGuest("respond") }

func (noHost) Log(level int, msg string) {
	name := "LOG"
	if level >= 0 && level < len(levelNames) {
		name = levelNames[level]
	}
	fmt.Fprintf(os.Stderr, "%s %s\n", name, strings.TrimSuffix(msg, "\n"))
}

func (noHost) KVGet(string) ([]byte, error)        { return nil, notInGuest("kv_get") }
func (noHost) KVSet(string, []byte, int64) error   { return notInGuest("kv_set") }
func (noHost) KVDelete(string) error               { return notInGuest("kv_delete") }
func (noHost) KVList(string) ([]byte, error)       { return nil, notInGuest("kv_list") }
func (noHost) ConfigGet(string) ([]byte, error)    { return nil, notInGuest("config_get") }
func (noHost) Fetch([]byte) ([]byte, error)        { return nil, notInGuest("http_fetch") }
func (noHost) Call(string, []byte) ([]byte, error) { return nil, notInGuest("call") }

func notInGuest(op string) error { return fmt.Errorf("%s: %w", op, ErrNotInGuest) }
