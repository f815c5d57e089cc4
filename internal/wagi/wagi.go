// Package wagi is the runtime-free half of mote's WAGI ABI (CGI/1.1 over
// WASI): it turns a sandbox.Request into the guest's environment and argv
// (Env, Args) and a guest's stdout into a sandbox.Response (ParseOutput).
// The wasm driver supplies stdin (the request body) and runs the module.
//
// mote follows the deislabs WAGI docs and code, with Spin's variant where
// WAGI is silent; where mote deliberately differs, the function doc says
// so. Everything here is pure, allocation-conscious and safe on hostile
// input: no function panics, and every value it returns is valid UTF-8
// without NUL bytes (wazero refuses NUL in argv and environ, and Rust's
// std::env::vars panics on non-UTF-8).
package wagi

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// Errors ParseOutput returns.
var (
	// ErrMalformed: the guest's stdout is not a WAGI response. The wrapping
	// error says what is wrong and, for a bad header, on which line.
	ErrMalformed = errors.New("wagi: malformed guest output")
)

// ValidEnvName reports whether s is a portable environment variable name:
// a letter or '_' followed by letters, digits and '_'. Env drops service
// variables whose names are not valid; manifest validation should reject
// them earlier with the same rule.
func ValidEnvName(s string) bool {
	if s == "" || isDigit(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isAlpha(c) || isDigit(c) || c == '_') {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// clean makes s safe to hand a guest as an env value or argument: NUL bytes
// are removed and invalid UTF-8 becomes U+FFFD. It allocates only when s
// needs changing.
func clean(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == 0 || c >= utf8.RuneSelf {
			return cleanSlow(s)
		}
	}
	return s
}

func cleanSlow(s string) string {
	if strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
}
