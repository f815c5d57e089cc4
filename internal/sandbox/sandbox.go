// Package sandbox defines what the node asks of a sandbox driver: load a
// version once, then serve requests with it. Drivers live in subpackages
// (wasm for WebAssembly through wazero); all of them pass the conformance
// suite in sandbox/sandboxtest.
//
// Requests and responses are buffered: a request's body is read whole before
// the guest starts (WAGI needs CONTENT_LENGTH) and a response is complete
// before the gateway writes it.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/guest/abi"
)

// Errors a Runner's Serve returns, by class. The gateway maps each class to
// a status (see the package gateway); other errors are 500s.
var (
	// ErrInvalidModule: the artifact is not something this driver can run.
	ErrInvalidModule = errors.New("invalid module")
	// ErrGuestFailed: the guest trapped, exited non-zero or wrote a malformed
	// response. Serve returns a *GuestError wrapping it.
	ErrGuestFailed = errors.New("guest failed")
	// ErrTimeout: the guest ran past its wall-clock limit and was stopped.
	ErrTimeout = errors.New("guest timed out")
	// ErrNoCapacity: every instance slot is busy and the wait queue is full.
	ErrNoCapacity = errors.New("no capacity")
	// ErrClosed: the runner was closed; the request was not started.
	ErrClosed = errors.New("runner closed")
)

// Errors a Host returns to a guest's capability call, by class; the wasm
// driver turns each into the ABI's error code (guest/abi). ErrTimeout above
// serves for calls that ran out of time; any other error is "failed".
var (
	// ErrDenied: the manifest does not grant the capability or target.
	ErrDenied = errors.New("capability not granted")
	// ErrNotFound: no such key, config value or service.
	ErrNotFound = errors.New("not found")
	// ErrTooLarge: a key, value, request or response is over its limit.
	ErrTooLarge = errors.New("too large")
	// ErrInvalid: a malformed argument (bad key, URL or request).
	ErrInvalid = errors.New("invalid argument")
	// ErrDepth: service-to-service calls nested deeper than MaxCallDepth.
	ErrDepth = errors.New("call depth limit")
)

// MaxCallDepth bounds nested service-to-service calls: a call made at this
// depth is refused (so a request passes through at most MaxCallDepth+1
// services), and a loop of calls ends.
const MaxCallDepth = 8

// Host gives a version's guests their capabilities (docs/abi.md); the log
// function, always allowed, is the driver's own. One Host
// serves every instance of a version and must be safe for concurrent use.
// ctx is the guest's request: RequestFrom and CallDepth read it. Errors
// should wrap the classes above and say what to do in their message; the
// guest sees the message.
type Host interface {
	KVGet(ctx context.Context, key string) ([]byte, error)
	KVSet(ctx context.Context, key string, value []byte, ttl time.Duration) error
	KVDelete(ctx context.Context, key string) error
	KVList(ctx context.Context, prefix string) ([]string, error)
	Config(ctx context.Context, key string) (string, error)
	Fetch(ctx context.Context, req *abi.Request) (*abi.Response, error)
	Call(ctx context.Context, service string, req *abi.Request) (*abi.Response, error)
}

type requestKey struct{}
type depthKey struct{}

// WithRequest returns ctx carrying the request a guest is serving.
func WithRequest(ctx context.Context, r *Request) context.Context {
	return context.WithValue(ctx, requestKey{}, r)
}

// RequestFrom returns the request ctx carries, or nil.
func RequestFrom(ctx context.Context) *Request {
	r, _ := ctx.Value(requestKey{}).(*Request)
	return r
}

// WithCallDepth returns ctx one service-to-service call deeper.
func WithCallDepth(ctx context.Context) context.Context {
	return context.WithValue(ctx, depthKey{}, CallDepth(ctx)+1)
}

// CallDepth is how many calls deep ctx is: 0 for a request from a client.
func CallDepth(ctx context.Context) int {
	d, _ := ctx.Value(depthKey{}).(int)
	return d
}

// GuestError says how a guest failed. It wraps ErrGuestFailed.
type GuestError struct {
	// Kind is "trap", "exit", "output" (malformed or oversized response) or
	// "start" (the instance could not be created).
	Kind string
	// ExitCode is the guest's exit code when Kind is "exit".
	ExitCode uint32
	// Detail is a one-line description fit for a log (never for a client).
	Detail string
}

func (e *GuestError) Error() string {
	return fmt.Sprintf("guest failed (%s): %s", e.Kind, e.Detail)
}

func (e *GuestError) Unwrap() error { return ErrGuestFailed }

// Spec is everything a driver needs to load one version of a service.
type Spec struct {
	Service string
	Version int
	ABI     string // api.ABIWAGI, api.ABIPooled or api.ABIContainer
	// Digest identifies the module (for a container, the image manifest);
	// drivers cache compiled code by it.
	Digest string
	// Module is the Wasm module; nil for a container.
	Module []byte
	// Container describes the process of an api.ABIContainer version; nil
	// for Wasm.
	Container *Container
	// Files are the package's files, served read-only at the guest's "/".
	// Nil means no files.
	Files fs.FS
	// Env is the manifest's [env]; the guest sees nothing of the host's.
	Env map[string]string
	// MemoryLimit caps an instance's linear memory, in bytes.
	MemoryLimit uint64
	// Timeout caps one request's wall-clock time.
	Timeout time.Duration
	// MaxOutput caps the bytes a guest may write as its response.
	MaxOutput int64
	// MaxInstances caps concurrent instances; MaxQueue caps requests
	// waiting for one. Zero means the driver's default.
	MaxInstances int
	MaxQueue     int
	// Logs receives the guest's stderr and the driver's own lines.
	Logs LogSink
	// Host gives guests their capabilities; nil denies them all.
	Host Host
	// MinInstances are kept initialized while the version is loaded, for a
	// pooled ABI; IdleTimeout is how long an instance beyond them may sit
	// unused before it is stopped. Zero IdleTimeout means the driver's
	// default.
	MinInstances int
	IdleTimeout  time.Duration
	// OnColdStart, when not nil, is called with the time a request waited
	// for a new instance to start: for a pooled ABI each time a request
	// found no idle instance and started one; for WAGI, where every
	// request is a fresh instance, with each request's instantiation time
	// (before _start runs). It is called on the request path and must be
	// cheap and safe for concurrent use.
	OnColdStart func(time.Duration)
	// OnWaitForInstance, when not nil, is called when a request of a pooled
	// ABI finds no idle instance and has to wait for one to start (it is
	// already counted in Scalable.InFlight): an autoscaler parked at zero
	// decides at once on it. It is called on the request path and must not
	// block. WAGI never calls it: it has no warm instances to wait for.
	OnWaitForInstance func()
}

// Container is what an OCI driver needs to run one version's process.
// The node resolves it from the image (entrypoint, env, user) and the
// manifest ([container], [limits]) before Load.
type Container struct {
	// Rootfs is the directory of the unpacked image. The driver mounts it
	// read-only and never writes to it; it outlives the Runner.
	Rootfs string
	// Args is the process's argv: the image's Entrypoint then Cmd. Args[0]
	// is a path inside Rootfs (or a name found on the image's PATH).
	Args []string
	// Env is the process's environment as "KEY=value": the image's, then
	// Spec.Env over it. The driver adds PORT.
	Env []string
	// WorkDir is the process's working directory; "" means "/".
	WorkDir string
	// UID and GID are the process's numeric user and group inside the
	// container (resolved from the image's User).
	UID, GID uint32
	// UIDShift, when not 0, runs the container in a user namespace where
	// container uid/gid 0..65535 are host UIDShift..UIDShift+65535; Rootfs
	// was unpacked with ownership shifted by it. 0 means no user namespace.
	UIDShift uint32
	// Port is the TCP port the process listens on at 127.0.0.1 inside its
	// network namespace; it sees it as $PORT. Default 8080.
	Port int
	// Concurrency caps the requests one instance serves at once. Default 80.
	Concurrency int
	// CPU caps an instance's CPU time, in cores (0.5 = half a core). 0
	// means no cap.
	CPU float64
	// Pids caps an instance's processes and threads. 0 means 256.
	Pids int64
	// Grace is how long a stopping instance has between SIGTERM and
	// SIGKILL. 0 means 10 s.
	Grace time.Duration
	// StartTimeout bounds the wait for a new instance to accept
	// connections on Port. 0 means 30 s.
	StartTimeout time.Duration
}

// LogSink receives log lines. Implementations must be safe for concurrent
// use and must not block for long: they sit on the request path.
type LogSink interface {
	Log(api.LogEntry)
}

// LogFunc adapts a function to LogSink.
type LogFunc func(api.LogEntry)

// Log calls f(e).
func (f LogFunc) Log(e api.LogEntry) { f(e) }

// Request is one HTTP request as the gateway hands it to a guest.
type Request struct {
	ID         string
	Method     string
	Proto      string // "HTTP/1.1"
	Scheme     string // "http" or "https"
	Host       string // the Host header, as sent
	RemoteAddr string // "ip:port"
	// Route is the service's route prefix that matched ("/hello"); it is
	// the CGI SCRIPT_NAME.
	Route string
	// RawPath is the escaped path after Route ("/a%20b"); "" when the
	// request hit the route itself.
	RawPath  string
	RawQuery string
	Header   http.Header
	Body     []byte
	// ServerName and ServerPort name the gateway as the client addressed it.
	ServerName string
	ServerPort string
}

// Response is a guest's complete answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Driver loads versions. It is safe for concurrent use.
type Driver interface {
	// Load validates and compiles spec's module and returns a Runner for it.
	// A module this driver cannot run yields an error wrapping
	// ErrInvalidModule whose message names the problem.
	Load(ctx context.Context, spec Spec) (Runner, error)
	// Close releases everything the driver holds. Runners must be closed first.
	Close(ctx context.Context) error
}

// Runner serves requests for one loaded version. It is safe for concurrent use.
type Runner interface {
	// Serve runs req in an instance and returns the guest's response, or an
	// error of one of the classes above.
	Serve(ctx context.Context, req *Request) (*Response, error)
	// Instances lists the instances alive now.
	Instances() []api.Instance
	// Close waits for in-flight requests (until ctx is done), then releases
	// the version's instances and compiled code. Serve after Close returns
	// ErrClosed.
	Close(ctx context.Context) error
}

// Scalable is a Runner whose warm instances an autoscaler can steer. The
// wasm driver's runners implement it; check with a type assertion.
type Scalable interface {
	// InFlight is the number of requests running or queued now.
	InFlight() int
	// Ready is the number of instances initialized and not stopping (idle
	// and busy ones; not those still starting).
	Ready() int
	// SetDesired asks the runner to keep about n instances warm: it starts
	// instances ahead of demand in the background (never more than
	// MaxInstances live) and stops idle ones beyond n at once (never busy
	// ones). n is clamped to [MinInstances, MaxInstances]; until the first
	// call the runner keeps MinInstances.
	SetDesired(n int)
	// SetScale changes MinInstances and MaxInstances live (mote scale). A
	// max of 0 or less means the driver's default; min is clamped to
	// [0, max]. max bounds concurrent requests and live instances from now
	// on: lowering it never stops a busy instance, it stops admitting
	// requests beyond the new max and stops instances as they go idle.
	SetScale(min, max int)
}

// Health is what a runner knows of its instances' health.
type Health struct {
	// ConsecutiveStartFailures counts instance starts that failed in a
	// row (a trap or timeout in _initialize, or an instantiation error);
	// a successful start resets it to 0.
	ConsecutiveStartFailures int
	// LastError describes the most recent failure of that streak; it is ""
	// when ConsecutiveStartFailures is 0.
	LastError string
}

// HealthReporter is a Runner that reports Health. The wasm driver's
// runners implement it; check with a type assertion.
type HealthReporter interface {
	Health() Health
}
