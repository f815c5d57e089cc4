// Package conform is the guest side of the sandbox conformance suite
// (package sandboxtest): one http.Handler that every driver's guest serves,
// compiled once as a pooled Wasm guest (conform/wasm) and once as a plain
// HTTP server for containers (conform/server). It uses only the standard
// library.
//
// A request is dispatched on the end of its path, so the service's route,
// which the guest sees in front of the path, does not matter:
//
//	…/status/N       answers status N (200..999) with the body "status N\n"
//	                 (none for 204 and 304); every query parameter is set as
//	                 a response header, as /header does.
//	…/header?k=v     answers 200 "ok\n" with each query parameter added as a
//	                 response header (repeat a key for several values).
//	…/big?n=N        answers 200 with Pattern(N) as the body
//	                 (application/octet-stream).
//	…/sleep?ms=N     sleeps N milliseconds, then answers 200 "slept N\n".
//	…/env?k=NAME     answers 200 with the value of the environment variable
//	                 NAME as the body, or 404 "unset\n" when it is not set.
//	…/stderr?line=T  writes T and a newline to stderr (one write per line;
//	                 repeat line for several), then answers 200 "ok\n".
//	…/panic          ends the process at once with os.Exit(3): no answer.
//	anything else    echoes the request: 200, application/json, an Echo.
//
// A malformed number answers 400 with the reason.
package conform

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// Echo is the JSON body of an echo answer: the request as the guest saw it.
type Echo struct {
	Method string `json:"method"`
	// Path is r.URL.Path: the full path, route included, unescaped.
	Path string `json:"path"`
	// RawPath is r.URL.EscapedPath(): the path as sent.
	RawPath string `json:"raw_path"`
	// Query is r.URL.RawQuery, as sent.
	Query string `json:"query"`
	// Host is r.Host.
	Host   string      `json:"host"`
	Header http.Header `json:"header"`
	// Body is the request body, byte for byte (base64 in the JSON).
	Body []byte `json:"body"`
}

// MaxSleep caps /sleep; longer asks are answered 400.
const MaxSleep = 10 * time.Minute

// MaxBig caps /big's n; larger asks are answered 400.
const MaxBig = 256 << 20

// ExitCode is the status /panic exits with.
const ExitCode = 3

// Pattern returns the n bytes /big answers: byte i is i mod 251, so the
// body holds 0x00 and every other byte value up to 0xfa, and a shifted or
// truncated copy does not match.
func Pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

// Handler returns the conformance guest's handler (see the package doc).
func Handler() http.Handler { return http.HandlerFunc(serve) }

func serve(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	dir, last := "", path
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		last = path[i+1:]
		if j := strings.LastIndexByte(path[:i], '/'); j >= 0 {
			dir = path[j+1 : i]
		}
	}
	q := r.URL.Query()
	switch {
	case dir == "status":
		status(w, last, q)
	case last == "header":
		setHeaders(w, q)
		fmt.Fprint(w, "ok\n")
	case last == "big":
		n, err := number(q.Get("n"), MaxBig)
		if err != nil {
			http.Error(w, "n: "+err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(Pattern(n))
	case last == "sleep":
		ms, err := number(q.Get("ms"), int(MaxSleep/time.Millisecond))
		if err != nil {
			http.Error(w, "ms: "+err.Error(), http.StatusBadRequest)
			return
		}
		time.Sleep(time.Duration(ms) * time.Millisecond)
		fmt.Fprintf(w, "slept %d\n", ms)
	case last == "env":
		v, ok := os.LookupEnv(q.Get("k"))
		if !ok {
			http.Error(w, "unset", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, v)
	case last == "stderr":
		for _, line := range q["line"] {
			os.Stderr.WriteString(line + "\n")
		}
		fmt.Fprint(w, "ok\n")
	case last == "panic":
		os.Exit(ExitCode)
	default:
		echo(w, r)
	}
}

// status answers /status/N.
func status(w http.ResponseWriter, code string, q map[string][]string) {
	n, err := strconv.Atoi(code)
	if err != nil || n < 200 || n > 999 {
		http.Error(w, fmt.Sprintf("status %q: want a number from 200 to 999", code), http.StatusBadRequest)
		return
	}
	setHeaders(w, q)
	w.WriteHeader(n)
	if n != http.StatusNoContent && n != http.StatusNotModified {
		fmt.Fprintf(w, "status %d\n", n)
	}
}

// setHeaders adds every query parameter as a response header.
func setHeaders(w http.ResponseWriter, q map[string][]string) {
	for k, vs := range q {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
}

// number parses a decimal in [0, max].
func number(s string, max int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > max {
		return 0, fmt.Errorf("%q is not a number from 0 to %d", s, max)
	}
	return n, nil
}

func echo(w http.ResponseWriter, r *http.Request) {
	e := Echo{
		Method:  r.Method,
		Path:    r.URL.Path,
		RawPath: r.URL.EscapedPath(),
		Query:   r.URL.RawQuery,
		Host:    r.Host,
		Header:  r.Header,
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "reading the body: "+err.Error(), http.StatusBadRequest)
		return
	}
	e.Body = body
	b, err := json.Marshal(e)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}
