package api

import "time"

// Plan is a named set of limits that API keys get: a token-bucket rate for
// spikes and a calendar quota for business limits. A plan with neither
// limits nothing but still identifies the caller.
type Plan struct {
	Name string `json:"name"`
	// Rate is the sustained request rate per key, "N/s", "N/min" or
	// "N/hour" (N ≥ 1); "" means no rate limit.
	Rate string `json:"rate,omitempty"`
	// Burst is how many requests a key may make at once above Rate (the
	// bucket's size); 0 means N of Rate.
	Burst int `json:"burst,omitempty"`
	// Quota is a calendar quota per key, "N/day" or "N/month" (N ≥ 1),
	// counted in UTC and reset at the start of each day or month; "" means
	// none.
	Quota   string    `json:"quota,omitempty"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// Key is an API key's public record. The key itself (the secret a caller
// presents) is shown once, by create and rotate (KeySecret), and stored only
// as a hash.
type Key struct {
	// ID identifies the key in listings, revocation and rotation; it is
	// also embedded in the key itself.
	ID string `json:"id"`
	// App names the consumer the key belongs to; analytics group by it.
	App  string `json:"app"`
	Plan string `json:"plan"`
	// Prefix is the key's first characters, enough to recognize it.
	Prefix string `json:"prefix"`
	// Services limits the key to these services; empty means every service.
	Services []string   `json:"services,omitempty"`
	Created  time.Time  `json:"created"`
	Expires  *time.Time `json:"expires,omitempty"`
	Revoked  *time.Time `json:"revoked,omitempty"`
	// Rotated is when the key was last rotated, if ever.
	Rotated *time.Time `json:"rotated,omitempty"`
}

// Key states, as KeyState reports them.
const (
	KeyActive  = "active"
	KeyExpired = "expired"
	KeyRevoked = "revoked"
)

// State is "active", "expired" or "revoked" at time now.
func (k Key) State(now time.Time) string {
	switch {
	case k.Revoked != nil:
		return KeyRevoked
	case k.Expires != nil && !now.Before(*k.Expires):
		return KeyExpired
	}
	return KeyActive
}

// KeyRequest creates an API key (POST /v1/keys).
type KeyRequest struct {
	App  string `json:"app"`
	Plan string `json:"plan"`
	// Services limits the key to these services; empty means every service.
	Services []string `json:"services,omitempty"`
	// Expires, when set, is when the key stops working.
	Expires *time.Time `json:"expires,omitempty"`
}

// RotateRequest rotates a key's secret (POST /v1/keys/{id}/rotate).
type RotateRequest struct {
	// Grace is how long the old secret keeps working, as a Go duration
	// ("1h"); "" or "0s" ends it at once. At most 30 days.
	Grace string `json:"grace,omitempty"`
}

// KeySecret is a key with its secret, returned only by create and rotate.
type KeySecret struct {
	Key
	// Secret is the key a caller presents as X-API-Key or
	// Authorization: Bearer. It is never shown again.
	Secret string `json:"secret"`
}

// JWTKey is a key that verifies JSON Web Tokens' signatures. Public keys
// (RS256, ES256) are shown; an HS256 shared secret never is.
type JWTKey struct {
	// ID is the key id tokens name in their "kid" header.
	ID string `json:"id"`
	// Alg is "HS256", "RS256" or "ES256"; a token must use exactly it.
	Alg string `json:"alg"`
	// PEM is the public key (PKIX "PUBLIC KEY" block) for RS256 and ES256;
	// empty for HS256.
	PEM     string    `json:"pem,omitempty"`
	Created time.Time `json:"created"`
}

// JWTKeyRequest adds or replaces a JWT verification key (PUT
// /v1/jwt-keys/{id}).
type JWTKeyRequest struct {
	Alg string `json:"alg"`
	// PEM is the public key for RS256 and ES256 (a "PUBLIC KEY" PEM block,
	// or a JWK JSON object).
	PEM string `json:"pem,omitempty"`
	// Secret is the HS256 shared secret, at least 32 bytes.
	Secret string `json:"secret,omitempty"`
}

// Lifecycle states of a service's API.
const (
	// LifecycleDraft: reachable only through the admin API (mote invoke).
	LifecycleDraft = "draft"
	// LifecyclePublished: served normally. The default.
	LifecyclePublished = "published"
	// LifecycleDeprecated: served, with Deprecation (and Sunset) headers.
	LifecycleDeprecated = "deprecated"
	// LifecycleRetired: answered 410 Gone.
	LifecycleRetired = "retired"
)

// Lifecycle is the state of a service's API and what clients are told.
type Lifecycle struct {
	// State is one of the Lifecycle* constants.
	State string `json:"state"`
	// Sunset, when set, is when the API stops answering (the Sunset header).
	Sunset *time.Time `json:"sunset,omitempty"`
	// Link, when set, documents the change (a Link header, rel="deprecation").
	Link string `json:"link,omitempty"`
}

// Stats summarizes a service's traffic over a window, split by one
// dimension (GET /v1/services/{name}/stats?since=1h&by=app).
type Stats struct {
	Service string    `json:"service"`
	Since   time.Time `json:"since"`
	Until   time.Time `json:"until"`
	// By is the dimension Groups split by: "", "app", "version", "route"
	// or "status".
	By     string       `json:"by,omitempty"`
	Groups []StatsGroup `json:"groups"`
}

// StatsGroup is the traffic of one value of the Stats' dimension.
type StatsGroup struct {
	// Key is the dimension's value ("shop", "3", "2xx"); "" when By is "".
	Key      string `json:"key"`
	Requests int64  `json:"requests"`
	// Errors counts 5xx responses; ClientErrors 4xx.
	Errors       int64   `json:"errors"`
	ClientErrors int64   `json:"client_errors"`
	RPS          float64 `json:"rps"`
	// Latency quantiles in milliseconds, measured at the gateway.
	P50 float64 `json:"p50_ms"`
	P95 float64 `json:"p95_ms"`
	P99 float64 `json:"p99_ms"`
}

// APIDoc is one service's OpenAPI document in the node's catalog (GET
// /v1/apis lists them; GET /v1/services/{name}/openapi returns the document).
type APIDoc struct {
	Service string `json:"service"`
	Version int    `json:"version"`
	Route   string `json:"route"`
	Title   string `json:"title,omitempty"`
	// APIVersion is the document's info.version.
	APIVersion string `json:"api_version,omitempty"`
	Lifecycle  string `json:"lifecycle"`
	// Validate is true when the gateway checks requests against it.
	Validate bool `json:"validate"`
}
