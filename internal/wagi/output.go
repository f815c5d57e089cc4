package wagi

import (
	"bytes"
	"fmt"
	"net/http"

	"github.com/mote-run/mote/internal/sandbox"
)

// Limits on the header section of a guest's output. Past either one the
// output is malformed.
const (
	// MaxHeaderLines caps the lines before the blank line, skipped ones
	// included.
	MaxHeaderLines = 100
	// MaxHeaderBytes caps the bytes before the blank line, line ends
	// included.
	MaxHeaderBytes = 64 << 10
)

// ParseOutput parses a guest's stdout into a response; it is
// ParseOutputWarn without the warnings.
func ParseOutput(stdout []byte) (*sandbox.Response, error) {
	resp, _, err := ParseOutputWarn(stdout)
	return resp, err
}

// ParseOutputWarn parses a guest's stdout (CGI headers, a blank line, the
// body) into a response, and returns warnings for lines it skipped or
// dropped, each naming the line, for the service's log.
//
// The header section ends at the first empty line; a line's trailing '\r's
// are ignored, so "\n\n", "\r\n\r\n" and mixes all work. Output that ends
// with no empty line is all headers, with an empty body, if it has at
// least one header and every line is one: WAGI requires the blank line,
// but guests that print only headers are common, while a guest that forgot
// the blank line before its body must get an error, not an emptied body.
// Each header line is "Name: value", split at the first ':', both sides
// trimmed of spaces and tabs; names are case-insensitive. Then:
//
//   - Status: "CODE [reason]"; only CODE counts, and it must be a number
//     in 200..999 (1xx are interim, not answers). The default status is 200.
//   - Location: set as a header; the status is 302 unless a Status header
//     is given, before or after it.
//   - Content-Type: set as a header.
//   - Connection, Keep-Alive, Proxy-Connection, TE, Trailer,
//     Transfer-Encoding, Upgrade and Content-Length are dropped with a
//     warning: the gateway frames the response.
//   - Any other header is passed through under its canonical name
//     (textproto.CanonicalMIMEHeaderKey); repeated headers keep every
//     value, in order.
//   - A line without ':' is skipped with a warning (as WAGI does).
//
// At least one of Content-Type, Status and Location is required (WAGI
// accepts Status alone, more leniently than CGI). The output is malformed,
// and the error wraps ErrMalformed, when: stdout is empty; it ends with no
// empty line and has no header or a line that is not one; a header name is
// empty or not an HTTP token; a value holds a control byte other than tab
// (CR, NUL, ...); Status, Location or Content-Type appears twice; the
// status is bad; none of the three is present; or a limit
// (MaxHeaderLines, MaxHeaderBytes) is passed.
//
// The response's Header is never nil. Its Body aliases stdout (it is not
// copied): the caller must not reuse stdout while the response lives.
func ParseOutputWarn(stdout []byte) (*sandbox.Response, []string, error) {
	if len(stdout) == 0 {
		return nil, nil, malformed("the guest wrote nothing to stdout")
	}
	// One allocation holds the response and the first few header values.
	block := new(responseBlock)
	values := block.values[:0]
	// value returns v as a one-element slice, from block while it lasts.
	value := func(v string) []string {
		if len(values) == cap(values) {
			return []string{v}
		}
		values = append(values, v)
		return values[len(values)-1 : len(values) : len(values)]
	}
	var (
		header   = make(http.Header)
		warnings []string
		status   int
		// Line numbers (1-based) where each was seen; 0 for not seen.
		statusLine, locationLine, typeLine int
		headers                            int // lines that were headers
		firstSkipped                       []byte
		firstSkippedLine                   int
	)
	// Only the first MaxHeaderBytes can hold headers; never scan a big body.
	window := stdout[:min(len(stdout), MaxHeaderBytes)]
	pos, n := 0, 0
	body := stdout[len(stdout):]
	for {
		if pos >= len(stdout) {
			if headers == 0 || firstSkippedLine != 0 {
				return nil, warnings, malformed("no blank line ends the headers" +
					skippedHint(firstSkippedLine, firstSkipped, "print a blank line between headers and body"))
			}
			break // headers only: the body is empty
		}
		n++
		if n > MaxHeaderLines {
			return nil, warnings, malformed(fmt.Sprintf("more than %d header lines", MaxHeaderLines))
		}
		var raw []byte
		next := 0
		if i := bytes.IndexByte(window[pos:], '\n'); i >= 0 {
			raw, next = stdout[pos:pos+i], pos+i+1
		} else if len(stdout) > MaxHeaderBytes {
			return nil, warnings, malformed(fmt.Sprintf("the header section is longer than %d bytes", MaxHeaderBytes))
		} else {
			raw, next = stdout[pos:], len(stdout)
		}
		pos = next
		line := raw
		for len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if len(line) == 0 {
			body = stdout[next:]
			break
		}

		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			warnings = append(warnings, fmt.Sprintf("line %d: %s: not a header (no ':'), skipped", n, quote(raw)))
			if firstSkippedLine == 0 {
				firstSkipped, firstSkippedLine = raw, n
			}
			continue
		}
		headers++
		name, v := trim(line[:colon]), trim(line[colon+1:])
		if len(name) == 0 {
			return nil, warnings, lineError(n, raw, "empty header name")
		}
		if !isToken(name) {
			return nil, warnings, lineError(n, raw, "invalid header name")
		}
		if what := badValueByte(v); what != "" {
			return nil, warnings, lineError(n, raw, "header value holds "+what)
		}
		key := canonicalKey(name)
		switch key {
		case "Status":
			if statusLine != 0 {
				return nil, warnings, lineError(n, raw, fmt.Sprintf("second Status header (first on line %d)", statusLine))
			}
			code, err := parseStatus(v)
			if err != "" {
				return nil, warnings, lineError(n, raw, err)
			}
			status, statusLine = code, n
		case "Location":
			if locationLine != 0 {
				return nil, warnings, lineError(n, raw, fmt.Sprintf("second Location header (first on line %d)", locationLine))
			}
			header[key] = value(string(v))
			locationLine = n
		case "Content-Type":
			if typeLine != 0 {
				return nil, warnings, lineError(n, raw, fmt.Sprintf("second Content-Type header (first on line %d)", typeLine))
			}
			header[key] = value(internType(v))
			typeLine = n
		default:
			if FramingHeader(key) {
				warnings = append(warnings, fmt.Sprintf("line %d: %s: %s dropped (the gateway frames the response)", n, quote(raw), key))
				continue
			}
			if vs, ok := header[key]; ok {
				header[key] = append(vs, string(v))
			} else {
				header[key] = value(string(v))
			}
		}
	}

	if statusLine == 0 && locationLine == 0 && typeLine == 0 {
		return nil, warnings, malformed("no Content-Type, Status or Location header" +
			skippedHint(firstSkippedLine, firstSkipped, "did the guest forget to print headers?"))
	}
	switch {
	case statusLine != 0:
	case locationLine != 0:
		status = http.StatusFound
	default:
		status = http.StatusOK
	}
	block.resp = sandbox.Response{Status: status, Header: header, Body: body}
	return &block.resp, warnings, nil
}

// responseBlock is a response and room for its first header values, so a
// small response costs one allocation instead of several.
type responseBlock struct {
	resp   sandbox.Response
	values [4]string
}

func malformed(msg string) error { return fmt.Errorf("%w: %s", ErrMalformed, msg) }

func lineError(n int, raw []byte, msg string) error {
	return fmt.Errorf("%w: line %d: %s: %s", ErrMalformed, n, quote(raw), msg)
}

// skippedHint points at the first line that was not a header, the usual
// sign of a guest that forgot its headers or the blank line after them.
func skippedHint(n int, raw []byte, advice string) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" (line %d: %s is not a header; %s)", n, quote(raw), advice)
}

// quote quotes a line for an error, cut to a readable length.
func quote(raw []byte) string {
	const max = 64
	if len(raw) > max {
		return fmt.Sprintf("%q...", raw[:max])
	}
	return fmt.Sprintf("%q", raw)
}

// parseStatus parses "CODE [reason]". It returns the code, or a message
// saying what is wrong with it.
func parseStatus(value []byte) (int, string) {
	code := value
	if i := bytes.IndexAny(value, " \t"); i >= 0 {
		code = value[:i]
	}
	if len(code) == 0 {
		return 0, "status is empty"
	}
	n := 0
	for _, c := range code {
		if !isDigit(c) {
			return 0, "status is not a number"
		}
		if n < 1000 {
			n = n*10 + int(c-'0')
		}
	}
	if len(code) > 3 || n < 200 {
		// 1xx are interim responses in HTTP: a CGI answer must be final.
		return 0, fmt.Sprintf("status %s is not in 200..999", code)
	}
	return n, ""
}

// trim removes leading and trailing spaces and tabs.
func trim(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// tokenTable marks the bytes of an HTTP token (RFC 9110 §5.6.2 tchar).
var tokenTable = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// FramingHeader reports whether a response header (canonical form) is one
// the gateway sets itself: Connection, Keep-Alive, Proxy-Connection, TE,
// Trailer, Transfer-Encoding, Upgrade and Content-Length. A guest's are
// dropped with a warning, whatever its ABI.
func FramingHeader(key string) bool {
	switch key {
	case "Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer",
		"Transfer-Encoding", "Upgrade", "Content-Length":
		return true
	}
	return false
}

// ValidHeaderName reports whether s is an HTTP token (RFC 9110 §5.6.2), as
// a header name must be.
func ValidHeaderName(s string) bool {
	return s != "" && isToken([]byte(s))
}

func isToken(b []byte) bool {
	for _, c := range b {
		if !tokenTable[c] {
			return false
		}
	}
	return true
}

// badValueByte names the first byte of v a field value may not hold
// (RFC 9110 §5.5: controls other than tab), or returns "".
func badValueByte(v []byte) string {
	for _, c := range v {
		if (c < ' ' && c != '\t') || c == 0x7f {
			switch c {
			case 0:
				return "a NUL byte"
			case '\r':
				return "a CR byte"
			}
			return fmt.Sprintf("control byte 0x%02x", c)
		}
	}
	return ""
}

// commonKeys interns the canonical names guests print most, so parsing
// them allocates nothing.
var commonKeys = func() map[string]string {
	m := make(map[string]string)
	for _, k := range []string{
		"Status", "Location", "Content-Type", "Content-Length", "Content-Encoding",
		"Content-Language", "Content-Disposition", "Cache-Control", "Expires",
		"Last-Modified", "Etag", "Set-Cookie", "Vary", "Date", "Server", "Allow",
		"Access-Control-Allow-Origin", "Access-Control-Allow-Methods",
		"Access-Control-Allow-Headers", "X-Content-Type-Options", "Retry-After",
		"Www-Authenticate", "Connection", "Transfer-Encoding", "Keep-Alive",
		"Upgrade", "Te", "Trailer", "Proxy-Connection",
	} {
		m[k] = k
	}
	return m
}()

// canonicalKey returns the canonical form of a header name that is a
// valid token, as textproto.CanonicalMIMEHeaderKey would.
func canonicalKey(name []byte) string {
	var arr [64]byte
	buf := arr[:0]
	upper := true
	for _, c := range name {
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		} else if !upper && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		upper = c == '-'
		buf = append(buf, c)
	}
	if k, ok := commonKeys[string(buf)]; ok {
		return k
	}
	return string(buf)
}

// commonTypes interns frequent Content-Type values.
var commonTypes = func() map[string]string {
	m := make(map[string]string)
	for _, t := range []string{
		"text/plain", "text/plain; charset=utf-8", "text/plain; charset=UTF-8",
		"text/html", "text/html; charset=utf-8", "text/html; charset=UTF-8",
		"application/json", "application/json; charset=utf-8",
		"application/octet-stream", "text/css", "text/javascript",
		"application/javascript", "image/png", "image/svg+xml",
	} {
		m[t] = t
	}
	return m
}()

func internType(v []byte) string {
	if t, ok := commonTypes[string(v)]; ok {
		return t
	}
	return string(v)
}
