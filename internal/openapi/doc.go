// Package openapi loads a service's OpenAPI document, matches requests to
// its path templates and validates requests against it at the gateway.
//
// A document is JSON only (OpenAPI 3.0.x or 3.1.x); mote takes no YAML
// dependency, so a YAML document is rejected with ErrYAML and a hint to
// convert it. Parse compiles everything validation needs (path templates,
// parameters, schemas, regular expressions) once; a *Doc is immutable and
// safe for concurrent use.
//
// # Path matching
//
// Request paths are matched segment by segment after percent-decoding each
// segment. A literal segment beats a partly templated one ("/r/{id}.json"),
// which beats a fully templated one ("/r/{id}"), from left to right: "/items/mine"
// wins over "/items/{id}". A template variable matches one non-empty segment.
// The trailing slash is significant: "/items/" does not match "/items".
// HEAD falls back to the GET operation when the path declares no HEAD.
//
// # Validation scope
//
// Validate checks, in this order, and reports the first violation:
//   - the path matches a template ("path") and the method has an operation ("method");
//   - path, query and header parameters: required, and the value against the
//     parameter's schema after coercion from the string (integer, number and
//     boolean types; arrays split per style: query form (explode default true,
//     "a=1&a=2", or "a=1,2" when explode is false), spaceDelimited and
//     pipeDelimited, path and header simple ("1,2")). Object-typed parameters,
//     deepObject and label/matrix styles are checked for presence only. A
//     parameter described by content (instead of schema) with a JSON media type is
//     decoded as JSON and checked. Cookie parameters and the header parameters
//     Accept, Content-Type and Authorization are ignored, as OpenAPI says;
//   - requestBody: required (an empty body counts as absent), the Content-Type
//     against the media types (exact, "type/*", "*/*"; parameters such as charset
//     are ignored; the most specific entry wins);
//   - a JSON body (application/json or any "+json" type) against the media
//     type's schema.
//
// Schema keywords checked: type (including 3.1 type arrays and 3.0 nullable),
// enum, const, minimum, maximum, exclusiveMinimum and exclusiveMaximum (3.0
// boolean and 3.1 number forms), multipleOf, minLength and maxLength (in
// Unicode code points), pattern (Go regexp syntax, unanchored, compiled at
// Parse), items, prefixItems, minItems, maxItems, uniqueItems, properties,
// patternProperties, additionalProperties (boolean or schema), required
// (a required property whose schema is readOnly is not required in a request),
// minProperties, maxProperties, allOf, anyOf, oneOf, not and the boolean
// schemas true and false. Every other keyword, format included, is ignored.
// Non-JSON bodies are checked for content type only.
//
// # Limits
//
// A document is at most MaxDocSize bytes with at most MaxPaths paths. $ref
// must be local ("#/components/schemas/Item"); chains of plain references may
// not loop. Schemas may refer to themselves (a tree of nodes), so validation is
// bounded: at most MaxDepth nested schema applications, and a work budget of
// schema applications proportional to the body size, so that nested anyOf
// cannot blow up. Exceeding either fails validation with rule "depth" or "limit".
package openapi

import (
	"errors"
	"net/http"
	"net/url"
)

// Limits of a document and of one validation.
const (
	// MaxDocSize is the largest document Parse accepts, in bytes.
	MaxDocSize = 4 << 20
	// MaxPaths is the largest number of entries in "paths".
	MaxPaths = 1000
	// MaxDepth bounds nested schemas, at Parse and at validation.
	MaxDepth = 128
	// maxRefHops bounds a chain of references to references.
	maxRefHops = 32
)

// Errors returned by Parse. A problem at one place in the document is a
// *ParseError, which matches ErrInvalid with errors.Is.
var (
	// ErrTooLarge means the document exceeds MaxDocSize.
	ErrTooLarge = errors.New("openapi: document larger than 4 MiB")
	// ErrYAML means the document looks like YAML; mote reads JSON only.
	ErrYAML = errors.New("openapi: the document is YAML, but mote reads JSON only; convert it, e.g. `yq -o=json openapi.yaml > openapi.json`")
	// ErrInvalid means the document is not a valid OpenAPI 3.0/3.1 JSON document.
	ErrInvalid = errors.New("openapi: invalid document")
)

// ParseError is a problem at one place of a document.
type ParseError struct {
	// Location is where, as dotted keys and [index] from the root:
	// "paths./items/{id}.get.parameters[0]"; "" for the document as a whole.
	Location string
	// Message says what is wrong.
	Message string
}

func (e *ParseError) Error() string {
	if e.Location == "" {
		return e.Message
	}
	return e.Location + ": " + e.Message
}

// Unwrap makes every ParseError match ErrInvalid.
func (e *ParseError) Unwrap() error { return ErrInvalid }

// Doc is a compiled OpenAPI document. Create it with Parse.
type Doc struct {
	// Title and Version are info.title and info.version ("" when absent).
	Title, Version string
	// OpenAPI is the document's "openapi" field, such as "3.1.0".
	OpenAPI string

	raw   []byte
	root  *node
	paths int
}

// Request is the part of an HTTP request that Validate reads.
type Request struct {
	// Method is the HTTP method ("GET"); it is matched case-insensitively.
	Method string
	// Path is the escaped path below the service's route ("/items/42";
	// "" means "/"), as in url.URL.EscapedPath: each segment is
	// percent-decoded after splitting on "/".
	Path string
	// Query is the parsed query string; nil means none.
	Query url.Values
	// Header holds the request headers with canonical keys, as net/http
	// makes them; nil means none.
	Header http.Header
	// Body is the whole request body; empty means no body.
	Body []byte
}

// ValidationError is a request that violates the document.
type ValidationError struct {
	// Rule is the violated rule: "path", "method", "required", "type",
	// "enum", "const", "minimum", "maximum", "exclusiveMinimum",
	// "exclusiveMaximum", "multipleOf", "minLength", "maxLength", "pattern",
	// "minItems", "maxItems", "uniqueItems", "minProperties",
	// "maxProperties", "additionalProperties", "anyOf", "oneOf", "not",
	// "false", "contentType", "json", "depth" or "limit".
	Rule string
	// Location is where: "path", "method", "path.id", "query.limit",
	// "header.X-Tenant", "header.Content-Type", "body", "body.items[2].name".
	Location string
	// Message is the whole human-readable message, location included:
	// `query parameter "limit": 500 is greater than maximum 100`.
	Message string
}

func (e *ValidationError) Error() string { return e.Message }
