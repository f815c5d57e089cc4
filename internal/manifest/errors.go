package manifest

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Errors Load and Parse return, by class.
var (
	// ErrInvalid: the manifest is not valid TOML or breaks a rule. Every
	// *Error matches it with errors.Is.
	ErrInvalid = errors.New("invalid mote.toml")
	// ErrNotFound: Load found no manifest at the path it was given.
	ErrNotFound = errors.New("no mote.toml")
)

// Problem is one thing wrong with a manifest.
type Problem struct {
	// Line is the 1-based line of the offending key (or of the table that
	// should hold a missing key); 0 when the line is not known.
	Line int
	// Key names the offending key as a reader finds it in the file:
	// "name", "[limits] memory", "[env] HOME", "[wasm]". It is empty for
	// TOML syntax errors.
	Key string
	// Message says what is wrong and what to write instead.
	Message string
}

// String renders the problem without a file name: "[limits] memory: ...".
func (p Problem) String() string {
	if p.Key == "" {
		return p.Message
	}
	return p.Key + ": " + p.Message
}

// Error is an invalid manifest: every problem found, ordered by line
// (problems with no known line first). It matches ErrInvalid.
type Error struct {
	// File names the manifest in messages; Parse sets "mote.toml", Load the
	// path it read.
	File     string
	Problems []Problem
}

// Error renders one problem per line, like
//
//	mote.toml:4: [limits] memory: "64 MB" is not a size; write it like "64MiB"
func (e *Error) Error() string {
	file := e.File
	if file == "" {
		file = "mote.toml"
	}
	if len(e.Problems) == 0 {
		return file + ": invalid"
	}
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		if p.Line > 0 {
			fmt.Fprintf(&b, "%s:%d: %s", file, p.Line, p)
		} else {
			fmt.Fprintf(&b, "%s: %s", file, p)
		}
	}
	return b.String()
}

// Is reports whether target is ErrInvalid.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// sortProblems orders problems by line, then key, keeping the discovery
// order of equal ones.
func sortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Line != ps[j].Line {
			return ps[i].Line < ps[j].Line
		}
		return ps[i].Key < ps[j].Key
	})
}
