// Package api holds the wire types of mote's admin API and the gateway's error
// body. The node and the Go SDK (package client) share these types; the package
// uses only the standard library so SDK users pull in nothing else.
//
// Every admin endpoint lives under /v1/ and speaks JSON. An error is always an
// ErrorBody with a stable Code (one of the Code* constants) and a Message that
// says what went wrong and, where it helps, what to do next.
package api

import (
	"fmt"
	"time"
)

// ABIs a Wasm service can use.
const (
	// ABIWAGI is CGI over WASI: a fresh instance of a WASI command per request.
	ABIWAGI = "wagi"
	// ABIPooled is a reactor that exports a request handler; instances are reused.
	ABIPooled = "pooled"
)

// Service is a named nanoservice and the version currently taking its traffic.
type Service struct {
	Name  string `json:"name"`
	Route string `json:"route"`
	// Version is the version serving the route (the one with all the traffic).
	Version int `json:"version"`
	// Latest is the highest version number ever deployed.
	Latest  int            `json:"latest"`
	Traffic []TrafficSplit `json:"traffic"`
	ABI     string         `json:"abi"`
	// Lifecycle, when set, overrides the serving version's [lifecycle]
	// (set with `mote lifecycle`).
	Lifecycle *Lifecycle `json:"lifecycle,omitempty"`
	// Digest is the artifact digest of the serving version.
	Digest  string    `json:"digest"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
	// URL is where the gateway serves the route, when the node knows its address.
	URL string `json:"url,omitempty"`
}

// TrafficSplit sends Weight percent of a service's requests to Version.
type TrafficSplit struct {
	Version int `json:"version"`
	Weight  int `json:"weight"`
}

// Version is an immutable snapshot of a service: its manifest and artifact.
type Version struct {
	Service string `json:"service"`
	Number  int    `json:"number"`
	// Digest identifies the artifact (module plus files): "sha256:<hex>".
	Digest string `json:"digest"`
	// Module is the digest of the Wasm module blob.
	Module string `json:"module"`
	// Files maps each packaged file's slash-separated path to its blob digest.
	Files map[string]string `json:"files,omitempty"`
	ABI   string            `json:"abi"`
	// Manifest is the mote.toml the version was deployed with, verbatim.
	Manifest string    `json:"manifest"`
	Size     int64     `json:"size"`
	Created  time.Time `json:"created"`
}

// DeployRequest asks the node to make a new version of the service the
// manifest names. Every digest must name a blob uploaded before (PUT
// /v1/blobs/{digest}).
type DeployRequest struct {
	Manifest string            `json:"manifest"`
	Module   string            `json:"module"`
	Files    map[string]string `json:"files,omitempty"`
}

// DeployResult reports a deploy. Unchanged is true when the artifact and
// manifest equal the serving version's: no version was made.
type DeployResult struct {
	Service   Service `json:"service"`
	Version   Version `json:"version"`
	Unchanged bool    `json:"unchanged"`
}

// ServiceDetail is what `mote inspect` shows: the service, its versions
// (newest first) and its live instances.
type ServiceDetail struct {
	Service
	Versions  []Version  `json:"versions"`
	Instances []Instance `json:"instances"`
}

// Instance is one running sandbox of a version.
type Instance struct {
	ID      string    `json:"id"`
	Service string    `json:"service"`
	Version int       `json:"version"`
	State   string    `json:"state"` // "starting", "busy" or "idle"
	Started time.Time `json:"started"`
	// Requests counts the requests this instance has served.
	Requests uint64 `json:"requests"`
	// RequestID is the request in progress, when State is "busy".
	RequestID string `json:"request_id,omitempty"`
}

// Log streams.
const (
	StreamStdout = "stdout"
	StreamStderr = "stderr"
	// StreamMote carries the node's own lines about the service (deploys,
	// guest failures, timeouts).
	StreamMote = "mote"
	// StreamLog carries the lines a guest writes with the log capability,
	// each with a Level.
	StreamLog = "log"
)

// LogEntry is one line in a service's logs.
type LogEntry struct {
	Time      time.Time `json:"time"`
	Service   string    `json:"service"`
	Version   int       `json:"version,omitempty"`
	RequestID string    `json:"request_id,omitempty"`
	Stream    string    `json:"stream"`
	Level     string    `json:"level,omitempty"` // "info", "warn", "error"
	Message   string    `json:"message"`
}

// ConfigEntry is one configuration value of a service, set by the operator
// with `mote config set` and read by the service through the config
// capability. When Secret is true the admin API never returns the value:
// Value is "" in every listing, and only the service itself reads it.
type ConfigEntry struct {
	Key   string `json:"key"`
	Value string `json:"value"`
	// Secret marks a value that is never shown: not in listings, logs or errors.
	Secret  bool      `json:"secret"`
	Updated time.Time `json:"updated"`
}

// ConfigRequest sets configuration values of a service (PUT
// /v1/services/{name}/config). Every value in Values is set, with Secret
// applying to all of them; keys not named keep their values.
type ConfigRequest struct {
	Values map[string]string `json:"values"`
	Secret bool              `json:"secret,omitempty"`
}

// NodeInfo describes a running node.
type NodeInfo struct {
	Version    string    `json:"version"`
	GatewayURL string    `json:"gateway_url"`
	AdminURL   string    `json:"admin_url"`
	DataDir    string    `json:"data_dir"`
	Started    time.Time `json:"started"`
	Services   int       `json:"services"`
}

// BlobInfo describes a stored blob.
type BlobInfo struct {
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
}

// Stable error codes. The gateway and the admin API map them to HTTP statuses
// as StatusOf says.
const (
	CodeBadRequest       = "bad_request"        // 400
	CodeInvalidManifest  = "invalid_manifest"   // 400
	CodeInvalidModule    = "invalid_module"     // 400
	CodeUnauthorized     = "unauthorized"       // 401
	CodeForbidden        = "forbidden"          // 403
	CodeNotFound         = "not_found"          // 404
	CodeMethodNotAllowed = "method_not_allowed" // 405
	CodeConflict         = "conflict"           // 409
	CodeGone             = "gone"               // 410
	CodeBodyTooLarge     = "body_too_large"     // 413
	CodeRateLimited      = "rate_limited"       // 429
	CodeInternal         = "internal"           // 500
	CodeGuestFailed      = "guest_failed"       // 502
	CodeNoCapacity       = "no_capacity"        // 503
	CodeNotReady         = "not_ready"          // 503
	CodeGuestTimeout     = "guest_timeout"      // 504
)

var statusOf = map[string]int{
	CodeBadRequest:       400,
	CodeInvalidManifest:  400,
	CodeInvalidModule:    400,
	CodeUnauthorized:     401,
	CodeForbidden:        403,
	CodeNotFound:         404,
	CodeMethodNotAllowed: 405,
	CodeConflict:         409,
	CodeGone:             410,
	CodeBodyTooLarge:     413,
	CodeRateLimited:      429,
	CodeInternal:         500,
	CodeGuestFailed:      502,
	CodeNoCapacity:       503,
	CodeNotReady:         503,
	CodeGuestTimeout:     504,
}

// StatusOf returns the HTTP status for an error code; 500 for unknown codes.
func StatusOf(code string) int {
	if s, ok := statusOf[code]; ok {
		return s
	}
	return 500
}

// ErrorBody is the JSON shape of every error the node returns:
// {"error": {"code": "...", "message": "..."}}.
type ErrorBody struct {
	Error *Error `json:"error"`
}

// Error is an error returned by the node. The SDK returns it as a Go error,
// so callers can switch on Code.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Hint says what to do next, when the node knows.
	Hint string `json:"hint,omitempty"`
	// Details lists individual problems, e.g. one line per invalid manifest field.
	Details []string `json:"details,omitempty"`
	// Status is the HTTP status the error came with (not serialized).
	Status int `json:"-"`
}

func (e *Error) Error() string {
	if e.Code == "" {
		return e.Message
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Errorf builds an *Error with the status for code.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Status: StatusOf(code)}
}
