package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/mote-run/mote/api"
)

// Errors the Client returns before or instead of an answer from the node.
// An answer with a non-2xx status is an *api.Error instead.
var (
	// ErrUnreachable: nothing answered at the node's address (connection
	// refused, unknown host, dial timeout). The error is an *UnreachableError.
	ErrUnreachable = errors.New("mote node unreachable")
	// ErrInvalidAddr: the admin address is not an http(s) URL or host:port.
	ErrInvalidAddr = errors.New("invalid admin address")
	// ErrInvalidName: a service name is not 1-63 characters of a-z, 0-9 and -.
	ErrInvalidName = errors.New("invalid service name")
	// ErrInvalidDigest: a digest is not "sha256:" and 64 lowercase hex digits.
	ErrInvalidDigest = errors.New("invalid digest")
	// ErrInvalidPackage: a Package to deploy lacks its manifest or module, or
	// has a file with an empty path.
	ErrInvalidPackage = errors.New("invalid package")
	// ErrInvalidConfig: SetConfig got no values or an empty key, or
	// DeleteConfig an empty key.
	ErrInvalidConfig = errors.New("invalid config")
)

// unreachableHint is what to do when no node answers.
const unreachableHint = "Try: start a node with `mote up`, or point --addr / MOTE_ADDR at a running one"

// UnreachableError says that no node answered at Addr. It matches
// ErrUnreachable with errors.Is, and Err (the network error) too.
type UnreachableError struct {
	// Addr is the admin base URL the Client dialled.
	Addr string
	// Err is the network error, e.g. "connection refused".
	Err error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach the mote node at %s: %v (%s)", e.Addr, e.Err, unreachableHint)
}

// Hint says what to do next: start a node or point the client at one.
func (e *UnreachableError) Hint() string { return unreachableHint }

// Unwrap returns ErrUnreachable and the network error.
func (e *UnreachableError) Unwrap() []error { return []error{ErrUnreachable, e.Err} }

// transportError classifies an error from http.Client.Do: failing to
// connect at all is an *UnreachableError, anything else (a cancelled
// context, a connection that broke) is wrapped with the call it ended.
// Neither ever holds the token: it travels only in a header.
func (c *Client) transportError(method, path string, err error) error {
	var ue *url.Error
	inner := err
	if errors.As(err, &ue) {
		inner = ue.Err
	}
	var op *net.OpError
	var dns *net.DNSError
	if (errors.As(inner, &op) && (op.Op == "dial" || op.Op == "proxyconnect")) || errors.As(inner, &dns) {
		return &UnreachableError{Addr: c.base, Err: inner}
	}
	return fmt.Errorf("client: %s %s%s: %w", method, c.base, path, inner)
}

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 1 << 20

// maxErrorText bounds the Message made from an answer that is not JSON.
const maxErrorText = 512

// errorFrom reads a non-2xx answer into an *api.Error, adding the token
// hint to a 401.
func (c *Client) errorFrom(resp *http.Response) *api.Error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := decodeError(resp.StatusCode, body)
	if e.Status == http.StatusUnauthorized {
		// The node cannot know where this client looks for its token; the
		// client can, so its hint wins.
		e.Hint = c.unauthorizedHint()
	}
	return e
}

// decodeError turns a non-2xx answer's body into an *api.Error with Status
// set. A body that is not an api.ErrorBody with a code becomes an error
// whose Code follows the status and whose Message is the body's text,
// trimmed to 512 bytes (the status text when the body is empty).
func decodeError(status int, body []byte) *api.Error {
	var eb api.ErrorBody
	if json.Unmarshal(body, &eb) == nil && eb.Error != nil && eb.Error.Code != "" {
		eb.Error.Status = status
		return eb.Error
	}
	msg := strings.TrimSpace(strings.ToValidUTF8(string(body), "\uFFFD"))
	if len(msg) > maxErrorText {
		i := maxErrorText
		for i > 0 && !utf8.RuneStart(msg[i]) {
			i--
		}
		msg = strings.TrimSpace(msg[:i])
	}
	if msg == "" {
		msg = fmt.Sprintf("HTTP %d %s", status, http.StatusText(status))
	}
	return &api.Error{Code: codeForStatus(status), Message: msg, Status: status}
}

// codeForStatus names the api code of a status for an answer without one.
// 502-504 are "internal", not the gateway's guest codes: an answer without
// a JSON body did not come from mote but from something in front of it.
func codeForStatus(status int) string {
	switch status {
	case http.StatusBadRequest:
		return api.CodeBadRequest
	case http.StatusUnauthorized:
		return api.CodeUnauthorized
	case http.StatusForbidden:
		return api.CodeForbidden
	case http.StatusNotFound:
		return api.CodeNotFound
	case http.StatusMethodNotAllowed:
		return api.CodeMethodNotAllowed
	case http.StatusConflict:
		return api.CodeConflict
	case http.StatusRequestEntityTooLarge:
		return api.CodeBodyTooLarge
	case http.StatusTooManyRequests:
		return api.CodeRateLimited
	}
	if status >= 400 && status < 500 {
		return api.CodeBadRequest
	}
	return api.CodeInternal
}

// unauthorizedHint says where the token came from and where to get one.
func (c *Client) unauthorizedHint() string {
	file := TokenFile(DefaultDataDir())
	if c.token == "" {
		return fmt.Sprintf("no admin token was sent. Pass one with --token or MOTE_TOKEN; "+
			"`mote up` writes it to DATA/admin.token (here %s)", file)
	}
	return fmt.Sprintf("the node rejected %s. Use the token `mote up` wrote to DATA/admin.token "+
		"of the node at %s (here %s), via --token or MOTE_TOKEN", c.tokenFrom, c.base, file)
}

// knownCode reports whether code is one of the api.Code* constants.
func knownCode(code string) bool {
	return code == api.CodeInternal || api.StatusOf(code) != http.StatusInternalServerError
}

// ResponseError returns the platform error a response carries, or nil. A
// response carries one when its status is 4xx or 5xx, its Content-Type is
// application/json, and its body is an api.ErrorBody with a known code: an
// error from mote (unknown service, guest failed, timed out, ...) rather
// than an answer the service wrote itself. A service can still imitate one;
// only the node's own codes are recognized.
//
// ResponseError leaves resp.Body readable from its start: it reads no byte
// of a response that cannot be an error and replays what it read of one
// that might be. It reads at most 1 MiB.
//
//	resp, err := c.Invoke(ctx, "hello", client.InvokeRequest{Path: "/"})
//	if err != nil {
//		return err
//	}
//	defer resp.Body.Close()
//	if e := client.ResponseError(resp); e != nil {
//		return e // e.g. guest_timeout: ...
//	}
func ResponseError(resp *http.Response) *api.Error {
	if resp == nil || resp.Body == nil || resp.StatusCode < 400 {
		return nil
	}
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return nil
	}
	var read bytes.Buffer
	var eb api.ErrorBody
	derr := json.NewDecoder(io.TeeReader(io.LimitReader(resp.Body, maxErrorBody), &read)).Decode(&eb)
	resp.Body = &replayBody{Reader: io.MultiReader(&read, resp.Body), Closer: resp.Body}
	if derr != nil || eb.Error == nil || !knownCode(eb.Error.Code) {
		return nil
	}
	eb.Error.Status = resp.StatusCode
	return eb.Error
}

// replayBody is a body whose first bytes were read and are served again.
type replayBody struct {
	io.Reader
	io.Closer
}
