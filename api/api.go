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

// ABIs a service can use: two for Wasm modules, one for OCI containers.
const (
	// ABIWAGI is CGI over WASI: a fresh instance of a WASI command per request.
	ABIWAGI = "wagi"
	// ABIPooled is a reactor that exports a request handler; instances are reused.
	ABIPooled = "pooled"
	// ABIContainer is an OCI container ([container] in mote.toml): a
	// process that serves HTTP on 127.0.0.1:$PORT inside its own
	// namespaces; instances are reused and serve requests concurrently.
	ABIContainer = "container"
)

// Service is a named nanoservice and how its traffic is split among its
// versions.
type Service struct {
	Name string `json:"name"`
	// Route is the route of the serving version (Version): every version
	// in Traffic is served there, and a tagged one also at Route@tag.
	Route string `json:"route"`
	// Version is the serving version: the one with the largest weight in
	// Traffic (on a tie, the newest).
	Version int `json:"version"`
	// Latest is the highest version number ever deployed.
	Latest int `json:"latest"`
	// Traffic lists every routed version: each with a weight above zero
	// or a tag. The weights sum to 100.
	Traffic []TrafficSplit `json:"traffic"`
	// Stable lists the versions that were given 100% of the traffic, the
	// most recent last (at most MaxStable): `mote rollback` goes back
	// along it.
	Stable []int  `json:"stable,omitempty"`
	ABI    string `json:"abi"`
	// Lifecycle, when set, overrides the serving version's [lifecycle]
	// (set with `mote lifecycle`).
	Lifecycle *Lifecycle `json:"lifecycle,omitempty"`
	// Scale, when set, overrides the [scale] min and max of every version
	// (set with `mote scale`); it applies without a new version.
	Scale *Scale `json:"scale,omitempty"`
	// Guard, when set, watches the versions of a split that are not the
	// last stable one and rolls the service back when one of them fails
	// too often (set with `mote traffic --rollback-on`; a later change of
	// the split clears it).
	Guard *CanaryGuard `json:"guard,omitempty"`
	// Digest is the artifact digest of the serving version.
	Digest  string    `json:"digest"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
	// URL is where the gateway serves the route, when the node knows its address.
	URL string `json:"url,omitempty"`
}

// MaxStable is how many versions Service.Stable remembers.
const MaxStable = 20

// TrafficSplit sends Weight percent of a service's requests to Version.
// A Tag makes the version reachable on its own, whatever its weight: at
// the service's route followed by "@" and the tag ("/hello@canary/x"; for
// the root route "/@canary/x"), or with the request header X-Mote-Tag.
type TrafficSplit struct {
	Version int `json:"version"`
	// Weight is a percentage, 0 to 100.
	Weight int `json:"weight"`
	// Tag is 1 to 32 characters of a-z, 0-9 and -, unique in the service;
	// "" for none.
	Tag string `json:"tag,omitempty"`
}

// HeaderTag is the request header that sends a request to the version
// with that tag, bypassing the weights. The guest sees it too.
const HeaderTag = "X-Mote-Tag"

// TrafficRequest sets the whole traffic split of a service (PUT
// /v1/services/{name}/traffic): every version named must exist, the
// weights are 0 to 100 and sum to 100, tags are unique. A version given
// weight 0 and no tag stops being routed. Versions not named stop being
// routed too.
type TrafficRequest struct {
	Traffic []TrafficSplit `json:"traffic"`
	// Guard, when set, rolls the service back automatically if a canary
	// (a version in the split other than the last one that had 100%)
	// fails too often.
	Guard *CanaryGuard `json:"guard,omitempty"`
}

// CanaryGuard is an automatic rollback condition: when a guarded version
// answers more than MaxErrorRate of its requests with a 5xx over the last
// minute, having answered at least MinRequests, the node rolls the service
// back to the last version that had all of the traffic.
type CanaryGuard struct {
	// MaxErrorRate is a fraction, above 0 and at most 1 (0.05 for 5%).
	MaxErrorRate float64 `json:"max_error_rate"`
	// MinRequests is how many requests a version must have answered in
	// the window before it is judged; 0 means 20.
	MinRequests int `json:"min_requests,omitempty"`
}

// Scale overrides a service's [scale] (PUT /v1/services/{name}/scale):
// a nil field keeps each version's own value. Min is 0 to 1000, Max 1 to
// 1000, and Min is at most Max when both are set. When only one is set
// and a version's own other bound contradicts it, the override wins.
type Scale struct {
	// Min is the number of instances kept warm; 0 scales to zero when idle.
	Min *int `json:"min,omitempty"`
	// Max caps the instances of each version.
	Max *int `json:"max,omitempty"`
}

// States of a version, as VersionStatus reports them.
const (
	// VersionServing: the version takes a share of the service's requests.
	VersionServing = "serving"
	// VersionTagged: no share of the requests, but reachable by its tag.
	VersionTagged = "tagged"
	// VersionStandby: not routed; traffic can be moved to it at once.
	VersionStandby = "standby"
	// VersionUnhealthy: routed, but its instances keep failing (traps at
	// start, repeated 5xx).
	VersionUnhealthy = "unhealthy"
	// VersionDraining: no longer routed; requests it started are finishing.
	VersionDraining = "draining"
)

// VersionStatus is a version and its place in the service's traffic, as
// `mote versions` lists it (GET /v1/services/{name}/versions).
type VersionStatus struct {
	Version
	// Weight is the version's percentage of the service's requests.
	Weight int    `json:"weight"`
	Tag    string `json:"tag,omitempty"`
	// State is one of the Version* states.
	State string `json:"state"`
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
	// NoTraffic keeps the service's traffic split: the new version gets
	// no share of the requests (it is reachable only by Tag, if set). The
	// service must have a serving version already.
	NoTraffic bool `json:"no_traffic,omitempty"`
	// Tag, when set, tags the new version (taking the tag from the version
	// that had it).
	Tag string `json:"tag,omitempty"`
}

// DeployResult reports a deploy. Unchanged is true when the artifact and
// manifest equal the serving version's (or, for a NoTraffic deploy, the
// latest version's): no version was made, though a requested tag was set
// on that version.
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
	ID      string `json:"id"`
	Service string `json:"service"`
	Version int    `json:"version"`
	// State is "starting", "busy" or "idle"; a container instance that
	// exited and waits to be restarted is "restarting".
	State   string    `json:"state"`
	Started time.Time `json:"started"`
	// Restarts counts how often a container instance's process exited
	// unexpectedly and was started again; always 0 for Wasm.
	Restarts int `json:"restarts,omitempty"`
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
	// Platform is the "os/arch" whose container images the node runs
	// ("linux/amd64"); `mote deploy` picks that image of a
	// multi-platform one.
	Platform string `json:"platform"`
	// NoContainers is "" when the node runs [container] services, else why
	// it does not ("runc is not installed", ...).
	NoContainers string `json:"no_containers,omitempty"`
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

// MaxTagLen is the longest tag a version may carry.
const MaxTagLen = 32

// CheckTag returns an *Error (CodeBadRequest) unless tag is 1 to
// MaxTagLen characters of a-z, 0-9 and -.
func CheckTag(tag string) error {
	ok := len(tag) >= 1 && len(tag) <= MaxTagLen
	for i := 0; ok && i < len(tag); i++ {
		b := tag[i]
		ok = b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '-'
	}
	if !ok {
		return Errorf(CodeBadRequest, "tag %q is not 1 to %d characters of a-z, 0-9 and -", tag, MaxTagLen)
	}
	return nil
}
