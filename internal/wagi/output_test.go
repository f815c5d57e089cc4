package wagi

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/textproto"
	"reflect"
	"strings"
	"testing"

	"github.com/mote-run/mote/internal/sandbox"
)

func TestParseOutput(t *testing.T) {
	binary := []byte{0, 1, 2, '\r', '\n', '\n', 0xff, 0xfe, '\r'}
	tests := []struct {
		name     string
		out      string
		status   int
		header   http.Header
		body     string
		warnings int
	}{
		{"hello", "Content-Type: text/plain\n\nhello\n", 200,
			http.Header{"Content-Type": {"text/plain"}}, "hello\n", 0},
		{"CRLF", "Content-Type: text/plain\r\nX-A: 1\r\n\r\nhi\r\n", 200,
			http.Header{"Content-Type": {"text/plain"}, "X-A": {"1"}}, "hi\r\n", 0},
		{"mixed line ends", "Content-Type: text/plain\r\n\nhi", 200,
			http.Header{"Content-Type": {"text/plain"}}, "hi", 0},
		{"LF then CRLF blank", "Content-Type: text/plain\n\r\nhi", 200,
			http.Header{"Content-Type": {"text/plain"}}, "hi", 0},
		{"status with reason", "Status: 404 Not Found\nContent-Type: text/plain\n\nnope", 404,
			http.Header{"Content-Type": {"text/plain"}}, "nope", 0},
		{"status alone", "Status: 204\n\n", 204, http.Header{}, "", 0},
		{"status tab reason", "Status: 500\tOops\n\n", 500, http.Header{}, "", 0},
		{"status 999", "status: 999\n\n", 999, http.Header{}, "", 0},
		{"location is 302", "Location: https://example.com/\n\n", 302,
			http.Header{"Location": {"https://example.com/"}}, "", 0},
		{"location then status", "Location: /x\nStatus: 301\n\n", 301,
			http.Header{"Location": {"/x"}}, "", 0},
		{"status then location", "Status: 307 Temporary\nLocation: /x\n\n", 307,
			http.Header{"Location": {"/x"}}, "", 0},
		{"case-insensitive names", "CONTENT-TYPE: text/html\nx-custom-thing: v\nSTATUS: 201\n\n", 201,
			http.Header{"Content-Type": {"text/html"}, "X-Custom-Thing": {"v"}}, "", 0},
		{"spaces trimmed", "  Content-Type  :   text/plain  \n\n", 200,
			http.Header{"Content-Type": {"text/plain"}}, "", 0},
		{"no space after colon", "Content-Type:text/plain\n\n", 200,
			http.Header{"Content-Type": {"text/plain"}}, "", 0},
		{"value with colon", "Content-Type: text/plain\nX-Time: 12:30:00\n\n", 200,
			http.Header{"Content-Type": {"text/plain"}, "X-Time": {"12:30:00"}}, "", 0},
		{"empty value", "Content-Type: text/plain\nX-Empty:\n\n", 200,
			http.Header{"Content-Type": {"text/plain"}, "X-Empty": {""}}, "", 0},
		{"repeated header keeps all", "Content-Type: text/plain\nSet-Cookie: a=1\nSet-Cookie: b=2\n\n", 200,
			http.Header{"Content-Type": {"text/plain"}, "Set-Cookie": {"a=1", "b=2"}}, "", 0},
		{"hop-by-hop dropped", "Content-Type: text/plain\nConnection: close\nTransfer-Encoding: chunked\nContent-Length: 99\nKeep-Alive: x\nUpgrade: h2c\nTE: trailers\nTrailer: X\nProxy-Connection: x\n\nbody", 200,
			http.Header{"Content-Type": {"text/plain"}}, "body", 8},
		{"line without colon skipped", "Content-Type: text/plain\njunk line\n\nbody", 200,
			http.Header{"Content-Type": {"text/plain"}}, "body", 1},
		{"obs-text value allowed", "Content-Type: text/plain\nX-A: caf\xc3\xa9\n\n", 200,
			http.Header{"Content-Type": {"text/plain"}, "X-A": {"caf\xc3\xa9"}}, "", 0},
		{"no blank line, headers only", "Content-Type: text/plain\n", 200,
			http.Header{"Content-Type": {"text/plain"}}, "", 0},
		{"no blank line, no final newline", "Status: 204", 204, http.Header{}, "", 0},
		{"body containing blank lines", "Content-Type: text/plain\n\na\n\nb\r\n\r\nc", 200,
			http.Header{"Content-Type": {"text/plain"}}, "a\n\nb\r\n\r\nc", 0},
		{"body with header-like lines", "Content-Type: text/plain\n\nStatus: 500\n", 200,
			http.Header{"Content-Type": {"text/plain"}}, "Status: 500\n", 0},
		{"binary body byte-exact", "Content-Type: application/octet-stream\r\n\r\n" + string(binary), 200,
			http.Header{"Content-Type": {"application/octet-stream"}}, string(binary), 0},
		{"empty body after blank", "Content-Type: text/plain\n\n", 200,
			http.Header{"Content-Type": {"text/plain"}}, "", 0},
		{"trailing CRs ignored", "Content-Type: text/plain\r\r\n\r\r\nx", 200,
			http.Header{"Content-Type": {"text/plain"}}, "x", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, warnings, err := ParseOutputWarn([]byte(tt.out))
			if err != nil {
				t.Fatalf("ParseOutputWarn: %v", err)
			}
			if resp.Status != tt.status {
				t.Errorf("status = %d, want %d", resp.Status, tt.status)
			}
			if !reflect.DeepEqual(resp.Header, tt.header) {
				t.Errorf("header = %v, want %v", resp.Header, tt.header)
			}
			if string(resp.Body) != tt.body {
				t.Errorf("body = %q, want %q", resp.Body, tt.body)
			}
			if len(warnings) != tt.warnings {
				t.Errorf("warnings = %q, want %d", warnings, tt.warnings)
			}
			for _, w := range warnings {
				if !strings.HasPrefix(w, "line ") {
					t.Errorf("warning %q does not name its line", w)
				}
			}
		})
	}
}

func TestParseOutputMalformed(t *testing.T) {
	tests := []struct {
		name string
		out  string
		want string // the error's text after "wagi: malformed guest output: "
	}{
		{"empty", "", "the guest wrote nothing to stdout"},
		{"no headers at all", "\nbody", "no Content-Type, Status or Location header"},
		{"only a custom header", "X-A: 1\n\nbody", "no Content-Type, Status or Location header"},
		{"forgot headers", "hello world\n\nbye", `no Content-Type, Status or Location header (line 1: "hello world" is not a header; did the guest forget to print headers?)`},
		{"no blank line", "hello world", `no blank line ends the headers (line 1: "hello world" is not a header; print a blank line between headers and body)`},
		{"forgot blank line", "Content-Type: text/plain\nhello\nworld\n", `no blank line ends the headers (line 2: "hello" is not a header; print a blank line between headers and body)`},
		{"bad status", "Content-Type: text/plain\nStatus: abc\n\n", `line 2: "Status: abc": status is not a number`},
		{"status empty", "Status:\n\n", `line 1: "Status:": status is empty`},
		{"status too small", "Status: 99\n\n", `line 1: "Status: 99": status 99 is not in 200..999`},
		{"interim status", "Status: 101 Switching Protocols\n\n", `line 1: "Status: 101 Switching Protocols": status 101 is not in 200..999`},
		{"status too big", "Status: 1000\n\n", `line 1: "Status: 1000": status 1000 is not in 200..999`},
		{"status huge", "Status: 99999999999999999999999\n\n", `line 1: "Status: 99999999999999999999999": status 99999999999999999999999 is not in 200..999`},
		{"status negative", "Status: -200\n\n", `line 1: "Status: -200": status is not a number`},
		{"status twice", "Status: 200\nStatus: 404\n\n", `line 2: "Status: 404": second Status header (first on line 1)`},
		{"location twice", "Location: /a\nLocation: /b\n\n", `line 2: "Location: /b": second Location header (first on line 1)`},
		{"content-type twice", "Content-Type: a/b\ncontent-type: c/d\n\n", `line 2: "content-type: c/d": second Content-Type header (first on line 1)`},
		{"empty name", "Content-Type: text/plain\n: v\n\n", `line 2: ": v": empty header name`},
		{"invalid name", "Content-Type: text/plain\nX A: v\n\n", `line 2: "X A: v": invalid header name`},
		{"invalid name char", "Content-Type: text/plain\nX(A): v\n\n", `line 2: "X(A): v": invalid header name`},
		{"CR in value", "Content-Type: text/plain\nX-A: a\rb\n\n", `line 2: "X-A: a\rb": header value holds a CR byte`},
		{"NUL in value", "Content-Type: text/pl\x00ain\n\n", `line 1: "Content-Type: text/pl\x00ain": header value holds a NUL byte`},
		{"control in value", "Content-Type: text/plain\nX-A: \x1b[31m\n\n", `line 2: "X-A: \x1b[31m": header value holds control byte 0x1b`},
		{"DEL in value", "Content-Type: text/plain\nX-A: a\x7f\n\n", `line 2: "X-A: a\x7f": header value holds control byte 0x7f`},
		{"too many lines", strings.Repeat("X-A: 1\n", MaxHeaderLines) + "Content-Type: text/plain\n\n", "more than 100 header lines"},
		{"header section too long", "Content-Type: text/plain\nX-A: " + strings.Repeat("a", MaxHeaderBytes) + "\n\nbody", "the header section is longer than 65536 bytes"},
		{"big body without headers", strings.Repeat("a", MaxHeaderBytes+10), "the header section is longer than 65536 bytes"},
		{"long line quoted short", "X-" + strings.Repeat("b", 100) + "(: v\n\n",
			fmt.Sprintf("line 1: %q...: invalid header name", "X-"+strings.Repeat("b", 62))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := ParseOutput([]byte(tt.out))
			if err == nil {
				t.Fatalf("ParseOutput = %d %v %q, want an error", resp.Status, resp.Header, resp.Body)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
			if want := ErrMalformed.Error() + ": " + tt.want; err.Error() != want {
				t.Errorf("error:\n got %s\nwant %s", err, want)
			}
			if resp != nil {
				t.Errorf("a response came back with the error: %+v", resp)
			}
		})
	}
}

func TestParseOutputLimitsAreInclusive(t *testing.T) {
	lines := strings.Repeat("X-A: 1\n", MaxHeaderLines-2) + "Content-Type: text/plain\n\nbody"
	if _, err := ParseOutput([]byte(lines)); err != nil {
		t.Errorf("%d header lines and the blank one: %v", MaxHeaderLines-1, err)
	}
	head := "Content-Type: text/plain\nX-A: "
	value := strings.Repeat("a", MaxHeaderBytes-len(head)-2)
	out := head + value + "\n\n" + strings.Repeat("b", 1<<20)
	resp, err := ParseOutput([]byte(out))
	if err != nil {
		t.Fatalf("a header section of exactly %d bytes: %v", MaxHeaderBytes, err)
	}
	if len(resp.Body) != 1<<20 {
		t.Errorf("body length = %d", len(resp.Body))
	}
}

func TestParseOutputBodyAliasesStdout(t *testing.T) {
	out := []byte("Content-Type: text/plain\n\nhello")
	resp, err := ParseOutput(out)
	if err != nil {
		t.Fatal(err)
	}
	out[len(out)-1] = '!'
	if string(resp.Body) != "hell!" {
		t.Errorf("body = %q: want it to alias stdout", resp.Body)
	}
}

func TestCanonicalKeyMatchesTextproto(t *testing.T) {
	for _, name := range []string{
		"content-type", "CONTENT-TYPE", "x-a-b", "X_a_B", "a", "-a-", "www-authenticate",
		"etag", "x--y", "a.b-c", "1-x", "!#$%&'*+-.^_`|~", strings.Repeat("ab-", 40),
	} {
		if got, want := canonicalKey([]byte(name)), textproto.CanonicalMIMEHeaderKey(name); got != want {
			t.Errorf("canonicalKey(%q) = %q, textproto says %q", name, got, want)
		}
	}
}

// serialize writes resp back as WAGI output, with a Status line only where
// the status is not implied, so it never has more lines than the original.
func serialize(resp *sandbox.Response) []byte {
	var b bytes.Buffer
	_, hasLocation := resp.Header["Location"]
	_, hasType := resp.Header["Content-Type"]
	implied := http.StatusOK
	if hasLocation {
		implied = http.StatusFound
	}
	if resp.Status != implied || !(hasType || hasLocation) {
		fmt.Fprintf(&b, "Status: %d\n", resp.Status)
	}
	for k, vs := range resp.Header {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\n", k, v)
		}
	}
	b.WriteString("\n")
	b.Write(resp.Body)
	return b.Bytes()
}

func FuzzParseOutput(f *testing.F) {
	for _, s := range []string{
		"Content-Type: text/plain\n\nhello\n",
		"Status: 404 Not Found\r\nContent-Type: text/html\r\n\r\n<h1>no</h1>",
		"Location: https://x/\n\n",
		"Location: /x\nStatus: 301\nSet-Cookie: a\nSet-Cookie: b\n\n",
		"junk\nContent-Type: a/b\nConnection: close\n\n\x00\xff",
		"Status: 204",
		"x-a:1\n\n",
		"Content-Type: t\r\r\n\r\n\n\n",
		"",
		"\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, out []byte) {
		orig := bytes.Clone(out)
		resp, warnings, err := ParseOutputWarn(out)
		if !bytes.Equal(out, orig) {
			t.Fatal("ParseOutputWarn modified its input")
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) || resp != nil {
				t.Fatalf("err = %v, resp = %v", err, resp)
			}
			return
		}
		if resp.Status < 200 || resp.Status > 999 {
			t.Fatalf("status %d out of range", resp.Status)
		}
		if resp.Header == nil {
			t.Fatal("nil header")
		}
		for _, w := range warnings {
			if !strings.HasPrefix(w, "line ") {
				t.Errorf("warning %q", w)
			}
		}
		for k, vs := range resp.Header {
			if k != textproto.CanonicalMIMEHeaderKey(k) || !isToken([]byte(k)) {
				t.Errorf("header name %q is not a canonical token", k)
			}
			for _, v := range vs {
				if badValueByte([]byte(v)) != "" || v != string(trim([]byte(v))) {
					t.Errorf("header %s value %q", k, v)
				}
			}
		}
		if !bytes.HasSuffix(out, resp.Body) {
			t.Fatal("body is not the tail of stdout")
		}
		again := serialize(resp)
		if len(again)-len(resp.Body) > MaxHeaderBytes {
			return // "k:v" became "K: v" and grew past the limit
		}
		resp2, err := ParseOutput(again)
		if err != nil {
			t.Fatalf("re-parse of %q: %v", again, err)
		}
		if resp2.Status != resp.Status || !reflect.DeepEqual(resp2.Header, resp.Header) || !bytes.Equal(resp2.Body, resp.Body) {
			t.Fatalf("round trip changed the response:\n%d %v %q\n%d %v %q",
				resp.Status, resp.Header, resp.Body, resp2.Status, resp2.Header, resp2.Body)
		}
	})
}

func BenchmarkParseOutput(b *testing.B) {
	out := []byte("Content-Type: text/plain\n\nHello, world!\n")
	b.ReportAllocs()
	b.SetBytes(int64(len(out)))
	for b.Loop() {
		if _, err := ParseOutput(out); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseOutputHeaders(b *testing.B) {
	out := []byte("Status: 201 Created\r\nContent-Type: application/json\r\nCache-Control: no-store\r\n" +
		"X-Request-Id: abc\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n{\"ok\":true}")
	b.ReportAllocs()
	b.SetBytes(int64(len(out)))
	for b.Loop() {
		if _, err := ParseOutput(out); err != nil {
			b.Fatal(err)
		}
	}
}
