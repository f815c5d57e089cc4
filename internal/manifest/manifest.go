// Package manifest reads and checks mote.toml, the file that defines a
// service: its name and route, what runs it (a Wasm module or a container
// image), its limits, environment, scaling, granted capabilities and how to
// build it, and how the gateway manages its API: keys and JSON Web Tokens
// ([auth]), CORS, client address rules ([ip]), its lifecycle state and its
// OpenAPI document.
//
// Parse and Load apply the defaults and check every rule, reporting all
// problems at once in an *Error whose lines look like
//
//	mote.toml:4: [limits] memory: "64 MB" is not a size; write it like "64MiB"
//
// A Manifest returned without error is valid: Validate accepts it and
// Format writes it back as TOML that parses to the same Manifest.
package manifest

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// FileName is the manifest's name inside a service directory.
const FileName = "mote.toml"

// MaxSize bounds a manifest file; Parse rejects larger input.
const MaxSize = 1 << 20

// Defaults Parse applies to keys a manifest leaves out.
const (
	DefaultABI      = "wagi"
	DefaultMemory   = 128 * MiB
	DefaultTimeout  = Duration(30e9)
	DefaultBody     = 10 * MiB
	DefaultResponse = 16 * MiB
	DefaultScaleMin = 0
	DefaultScaleMax = 20
	DefaultIdle     = Duration(5 * 60e9)

	// Container defaults ([container] and [limits] keys only containers take).
	DefaultPort        = 8080
	DefaultConcurrency = 80 // as Cloud Run
	DefaultGrace       = Duration(10e9)
	DefaultPids        = 256
)

// Manifest is one service's mote.toml, with defaults applied.
type Manifest struct {
	// Name is the service's name: 1 to 63 of [a-z0-9-], starting and ending
	// with a letter or digit.
	Name string
	// Route is the gateway path prefix that reaches the service. Default
	// "/" + Name.
	Route string
	// Description is free text for listings; optional, at most 1024 bytes.
	Description string
	// Wasm is set when a Wasm module runs the service; exactly one of Wasm
	// and Container is non-nil.
	Wasm *Wasm
	// Container is set when an OCI image runs the service.
	Container *Container
	Limits    Limits
	// Env holds the variables the service sees (at most 256); nil when the
	// manifest sets none.
	Env   map[string]string
	Scale Scale
	// Auth says what callers present; the zero value (no [auth]) asks for
	// nothing.
	Auth Auth
	// Allow grants host capabilities; the zero value (no [allow]) denies
	// them all.
	Allow Allow
	// Build says how to build the module; nil when there is no [build].
	Build *Build
	// CORS lets pages on other origins call the service; nil when there is
	// no [cors] (the gateway adds no CORS headers).
	CORS *CORS
	// IP limits the client addresses that may call the service; nil when
	// there is no [ip] (any address may).
	IP *IPRules
	// Lifecycle is the API's state; without [lifecycle] it is published.
	Lifecycle Lifecycle
	// OpenAPI names the service's OpenAPI document; nil when there is no
	// [openapi].
	OpenAPI *OpenAPI
}

// Wasm is the [wasm] table.
type Wasm struct {
	// Module is the module's path relative to the manifest's directory,
	// slash-separated and cleaned (path.Clean); it ends in ".wasm".
	Module string
	// ABI is how the module serves requests: "wagi" (the default; a fresh
	// instance per request, CGI over WASI) or "pooled".
	ABI string
	// Files lists package files the guest may read, read-only, at the same
	// relative path under "/": slash-separated paths or globs relative to
	// the manifest's directory, cleaned (see Match for the glob syntax).
	// nil when there are none.
	Files []string
}

// Container is the [container] table.
type Container struct {
	// Image is an OCI image layout dir, an OCI or docker archive (a path
	// relative to the manifest's directory, starting with "./" or "../",
	// or absolute), or a registry reference like
	// "registry.example.com/team/app:1.2".
	Image string
	// Port is the TCP port the process listens on at 127.0.0.1 inside its
	// network namespace; it gets it as $PORT. 1 to 65535, default 8080.
	Port int
	// Concurrency caps the requests one instance serves at once: 1 to
	// 1000, default 80. The autoscaler aims at 70% of it per instance.
	Concurrency int
	// Grace is how long a stopping instance has between SIGTERM and
	// SIGKILL: 0s to 5m, default 10s.
	Grace Duration
}

// Limits is the [limits] table.
type Limits struct {
	// Memory bounds one instance's memory: 64KiB to 4GiB, default 128MiB.
	Memory ByteSize
	// Timeout bounds one request's wall-clock time: 1ms to 15m, default 30s.
	Timeout Duration
	// Body bounds a request body: at most 1GiB, default 10MiB.
	Body ByteSize
	// Response bounds a response: 1KiB to 1GiB, default 16MiB.
	Response ByteSize
	// CPU caps a container instance's CPU time, in cores: 0.01 to 64; 0
	// (the default) means no cap. Containers only.
	CPU float64
	// Pids caps a container instance's processes and threads: 8 to 32768,
	// default 256. Containers only.
	Pids int
}

// Scale is the [scale] table.
type Scale struct {
	// Min is the number of instances kept warm: 0 (the default) to Max.
	Min int
	// Max caps the instances: 1 to 1000, default 20.
	Max int
	// Idle is how long an instance stays idle before it is stopped (down to
	// Min): at least 1s, default 5m.
	Idle Duration
}

// Allow is the [allow] table: the host capabilities (docs/abi.md) the
// service may use. Each is denied unless granted here.
type Allow struct {
	// KV grants the service's own key-value namespace.
	KV bool
	// Config grants reading the values set with `mote config set`.
	Config bool
	// HTTP lists the hosts outbound requests may reach: "host" (any port)
	// or "host:port", lowercase, with IPv6 addresses in brackets
	// ("[::1]:8080"); no scheme, path or wildcard. nil when there are none.
	HTTP []string
	// Call lists the services this one may call by name; "*" allows any.
	// nil when there are none.
	Call []string
}

// AllowsHTTP reports whether a request to host (lowercase, without
// brackets) on port may go out: an entry names the host and either no
// port or that port.
func (a Allow) AllowsHTTP(host, port string) bool {
	for _, e := range a.HTTP {
		h, p := SplitHostPort(e)
		if h == host && (p == "" || p == port) {
			return true
		}
	}
	return false
}

// AllowsCall reports whether the service may call service.
func (a Allow) AllowsCall(service string) bool {
	for _, e := range a.Call {
		if e == "*" || e == service {
			return true
		}
	}
	return false
}

// Build is the [build] table.
type Build struct {
	// Command is a shell command run in the manifest's directory; it must
	// produce the module.
	Command string
	// Watch lists globs of the sources the module is built from, relative
	// to the manifest's directory and cleaned (see Match). nil means every
	// file that is not hidden, not the module and not mote.toml.
	Watch []string
}

// Parse reads a manifest, applies the defaults and checks every rule. The
// error is an *Error (matching ErrInvalid) listing each problem with its
// line; its File is "mote.toml".
func Parse(data []byte) (*Manifest, error) {
	m, problems := parse(data)
	if len(problems) > 0 {
		return nil, &Error{File: FileName, Problems: problems}
	}
	return m, nil
}

// Load reads the manifest at path: a directory holding mote.toml, or the
// manifest file itself; "" means ".". It returns the manifest and the
// absolute directory that holds it (module and file paths are relative to
// it). A missing manifest is an error matching ErrNotFound that says how to
// make one; an invalid one is an *Error whose File is the path read.
func Load(path string) (m *Manifest, dir string, err error) {
	if path == "" {
		path = "."
	}
	file := path
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, "", fmt.Errorf("%w at %s: the path does not exist; Try: mote new NAME, or pass the directory that holds %s", ErrNotFound, path, FileName)
	case err != nil:
		return nil, "", fmt.Errorf("read manifest: %w", err)
	case info.IsDir():
		file = filepath.Join(path, FileName)
	}
	dir, err = filepath.Abs(filepath.Dir(file))
	if err != nil {
		return nil, "", fmt.Errorf("read manifest: %w", err)
	}
	f, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("%w in %s; Try: mote new NAME to create a service there, or pass the directory that holds %s", ErrNotFound, dir, FileName)
	}
	if err != nil {
		return nil, "", fmt.Errorf("read manifest: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, "", fmt.Errorf("read %s: %w", file, err)
	}
	m, problems := parse(data)
	if len(problems) > 0 {
		return nil, "", &Error{File: file, Problems: problems}
	}
	return m, dir, nil
}

// Validate checks every rule on m as Parse leaves it (defaults applied).
// The error is an *Error whose problems have no line numbers.
func (m *Manifest) Validate() error {
	var problems []Problem
	validate(m, func(path []string, table bool, msg string) {
		problems = append(problems, Problem{Key: displayKey(path, table), Message: msg})
	})
	if len(problems) > 0 {
		sortProblems(problems)
		return &Error{File: FileName, Problems: problems}
	}
	return nil
}
