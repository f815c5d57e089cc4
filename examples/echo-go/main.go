// Command echo-go is a WAGI nanoservice that answers with what it was asked:
// method, path, query, headers and body, as JSON. It shows how a plain Go
// program (GOOS=wasip1 GOARCH=wasm, no SDK) reads a request and shapes its
// response: ?status=NNN sets the status and every answer carries X-Echo: yes.
//
// Rebuild (from this directory):
//
//	GOOS=wasip1 GOARCH=wasm go build -trimpath -ldflags="-s -w" -o echo.wasm .
//
// Under WAGI the request arrives as CGI environment variables
// (REQUEST_METHOD, PATH_INFO, QUERY_STRING, CONTENT_TYPE, HTTP_<HEADER>, ...)
// with the body on stdin; the response is header lines on stdout, a blank
// line, then the body.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"
)

func main() {
	body, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo: reading the body:", err)
		os.Exit(1)
	}
	if _, err := os.Stdout.Write(respond(os.Environ(), body)); err != nil {
		fmt.Fprintln(os.Stderr, "echo: writing the response:", err)
		os.Exit(1)
	}
}

// reply is the JSON body echo-go answers with.
type reply struct {
	Method string `json:"method"`
	Path   string `json:"path"`
	// Query maps each query parameter to its values, in order.
	Query map[string][]string `json:"query"`
	// Headers maps canonical header names ("User-Agent") to their values.
	Headers   map[string]string `json:"headers"`
	BodyBytes int               `json:"body_bytes"`
	// Body is the body as text; it is left out when the body is not UTF-8.
	Body      *string `json:"body,omitempty"`
	RequestID string  `json:"request_id,omitempty"`
}

// respond builds the complete WAGI response (headers, blank line, body) for
// a request given as CGI environment ("KEY=value" entries) and body.
func respond(environ []string, body []byte) []byte {
	env := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	// A malformed query still yields the parameters that did parse.
	query, _ := url.ParseQuery(env["QUERY_STRING"])
	r := reply{
		Method:    env["REQUEST_METHOD"],
		Path:      env["PATH_INFO"],
		Query:     query,
		Headers:   headers(env),
		BodyBytes: len(body),
		RequestID: env["X_REQUEST_ID"],
	}
	if utf8.Valid(body) {
		s := string(body)
		r.Body = &s
	}

	var js bytes.Buffer
	enc := json.NewEncoder(&js)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		// Unreachable: reply holds only strings, ints, maps and slices.
		return []byte("Content-Type: text/plain\nStatus: 500\n\necho: " + err.Error() + "\n")
	}

	var out bytes.Buffer
	out.WriteString("Content-Type: application/json\nX-Echo: yes\n")
	if s := query.Get("status"); s != "" {
		code, err := strconv.Atoi(s)
		if err != nil || code < 200 || code > 599 {
			out.WriteString("Status: 400\n\n")
			msg, _ := json.Marshal(map[string]string{"error": "status must be a number from 200 to 599, not " + strconv.Quote(s)})
			out.Write(msg)
			out.WriteByte('\n')
			return out.Bytes()
		}
		fmt.Fprintf(&out, "Status: %d\n", code)
	}
	out.WriteByte('\n')
	out.Write(js.Bytes())
	return out.Bytes()
}

// headers rebuilds the request's headers from the CGI variables: HTTP_X_FOO
// becomes X-Foo, and CONTENT_TYPE and CONTENT_LENGTH, which CGI keeps
// without the HTTP_ prefix, become Content-Type and Content-Length.
func headers(env map[string]string) map[string]string {
	h := make(map[string]string)
	for k, v := range env {
		switch {
		case strings.HasPrefix(k, "HTTP_"):
			h[canonical(k[len("HTTP_"):])] = v
		case (k == "CONTENT_TYPE" || k == "CONTENT_LENGTH") && v != "":
			h[canonical(k)] = v
		}
	}
	return h
}

// canonical turns a CGI name ("USER_AGENT") into a header name ("User-Agent").
func canonical(name string) string {
	b := []byte(strings.ToLower(name))
	upper := true
	for i, c := range b {
		switch {
		case c == '_' || c == '-':
			b[i] = '-'
			upper = true
		case upper && 'a' <= c && c <= 'z':
			b[i] = c - 'a' + 'A'
			upper = false
		default:
			upper = false
		}
	}
	return string(b)
}
