package httpguard

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// seen is what the test handler saw for one request.
type seen struct {
	target string
	body   string
	err    error
}

// serve starts an http.Server on a wrapped listener and returns its address
// and the channel of what the handler saw.
func serve(t *testing.T) (string, <-chan seen) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan seen, 100)
	srv := &http.Server{
		ConnContext:       ConnContext,
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			err := Check(r)
			if again := Check(r); again != err {
				t.Errorf("second Check = %v, first %v", again, err)
			}
			b, _ := io.ReadAll(r.Body)
			ch <- seen{r.Method + " " + r.RequestURI, string(b), err}
			fmt.Fprintf(w, "ok")
		}),
	}
	go srv.Serve(Listen(ln))
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), ch
}

const canary = "POST /canary HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"

func TestCheckOverTCP(t *testing.T) {
	type want struct {
		target string
		body   string
		err    error
	}
	canaryWant := want{"POST /canary", "", ErrContentLengthAndTransferEncoding}
	tests := []struct {
		name string
		raw  string
		want []want
	}{
		{
			name: "clean keep-alive GETs",
			raw:  "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b?q=1 HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n" + canary,
			want: []want{{"GET /a", "", nil}, {"GET /b?q=1", "", nil}, canaryWant},
		},
		{
			name: "CL and TE",
			raw: "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n" +
				"5\r\nhello\r\n0\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n" + canary,
			want: []want{{"POST /a", "hello", ErrContentLengthAndTransferEncoding}, {"GET /b", "", nil}, canaryWant},
		},
		{
			name: "TE before CL, odd case",
			raw: "POST /a HTTP/1.1\r\nhost: x\r\ntransfer-encoding:  Chunked \r\ncontent-LENGTH: 999\r\n\r\n" +
				"3;ext=1\r\nabc\r\n0\r\n\r\n" + canary,
			want: []want{{"POST /a", "abc", ErrContentLengthAndTransferEncoding}, canaryWant},
		},
		{
			name: "two Content-Length lines",
			raw:  "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabcGET /b HTTP/1.1\r\nHost: x\r\n\r\n" + canary,
			want: []want{{"POST /a", "abc", ErrMultipleContentLength}, {"GET /b", "", nil}, canaryWant},
		},
		{
			name: "obs-fold",
			raw:  "GET /a HTTP/1.1\r\nHost: x\r\nX-Long: one\r\n\ttwo\r\nX-B: c\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n" + canary,
			want: []want{{"GET /a", "", ErrObsFold}, {"GET /b", "", nil}, canaryWant},
		},
		{
			name: "obs-fold continues Content-Length",
			raw:  "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n 2\r\n\r\nhi" + canary,
			want: []want{{"POST /a", "hi", ErrObsFold}, canaryWant},
		},
		{
			name: "Transfer-Encoding in HTTP/1.0",
			raw:  "POST /a HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\nhi" + canary,
			want: []want{{"POST /a", "hi", ErrContentLengthAndTransferEncoding}, canaryWant},
		},
		{
			name: "Transfer-Encoding alone in HTTP/1.0 is ignored by Go",
			raw:  "GET /a HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n" + canary,
			want: []want{{"GET /a", "", ErrTransferEncodingHTTP10}, canaryWant},
		},
		{
			name: "pipelined chunked bodies with extensions and trailers",
			raw: "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
				"4;name=\"v\"\r\nwiki\r\nA \r\npedia in\r\n\r\n0\r\n\r\n" +
				"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n" +
				"3\r\nabc\r\n0\r\nX-Sum: 123\r\nX-Other: 4\r\n\r\n" +
				"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nbody" + canary,
			want: []want{{"POST /up", "wikipedia in\r\n", nil}, {"POST /up", "abc", nil}, {"POST /up", "body", nil}, canaryWant},
		},
		{
			name: "identical request lines keep their order",
			raw: "POST /same HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n1" + canary +
				"POST /same HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n2" +
				"POST /same HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n3" + canary,
			want: []want{{"POST /same", "1", nil}, canaryWant, {"POST /same", "2", ErrMultipleContentLength},
				{"POST /same", "3", nil}, canaryWant},
		},
		{
			name: "CRLF after a POST body, as Go tolerates",
			raw:  "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n" + canary,
			want: []want{{"POST /a", "x", nil}, {"GET /b", "", nil}, canaryWant},
		},
		{
			name: "requests Go answers itself are skipped",
			raw:  "OPTIONS * HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nxGET /b HTTP/1.1\r\nHost: x\r\n\r\n" + canary,
			want: []want{{"GET /b", "", nil}, canaryWant},
		},
		{
			name: "bare LF line endings in headers",
			raw:  "GET /a HTTP/1.1\nHost: x\nContent-Length: 0\nContent-Length: 0\n\n" + canary,
			want: []want{{"GET /a", "", ErrMultipleContentLength}, canaryWant},
		},
	}
	for _, tt := range tests {
		for _, split := range []string{"whole", "bytes"} {
			t.Run(tt.name+"/"+split, func(t *testing.T) {
				addr, ch := serve(t)
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				go io.Copy(io.Discard, c) // responses
				if split == "whole" {
					_, err = io.WriteString(c, tt.raw)
				} else {
					for i := 0; i < len(tt.raw) && err == nil; i++ {
						_, err = c.Write([]byte{tt.raw[i]})
					}
				}
				if err != nil {
					t.Fatal(err)
				}
				deadline := time.After(10 * time.Second)
				for i, w := range tt.want {
					select {
					case got := <-ch:
						if got.target != w.target || got.body != w.body || !errors.Is(got.err, w.err) {
							t.Fatalf("request %d: got %s %q %v, want %s %q %v", i, got.target, got.body, got.err, w.target, w.body, w.err)
						}
					case <-deadline:
						t.Fatalf("request %d (%s) never reached the handler", i, w.target)
					}
				}
			})
		}
	}
}

// TestGoRefusals shows what Go's server refuses itself: those requests
// never reach Check.
func TestGoRefusals(t *testing.T) {
	for name, raw := range map[string]string{
		"differing Content-Length": "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
		"gzip transfer coding":     "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
		"bad Content-Length":       "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\na",
	} {
		t.Run(name, func(t *testing.T) {
			addr, ch := serve(t)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			io.WriteString(c, raw)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode < 400 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			select {
			case got := <-ch:
				t.Fatalf("handler saw %v", got)
			default:
			}
		})
	}
}

func TestCheckWithoutListener(t *testing.T) {
	r := httptest.NewRequest("POST", "/", strings.NewReader("x"))
	if err := Check(r); err != nil {
		t.Fatal(err)
	}
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	if ctx := ConnContext(t.Context(), c1); ctx != t.Context() {
		t.Fatal("ConnContext changed the context for a foreign conn")
	}
	// HTTP/2 requests are never checked.
	sc := newConn(c1)
	sc.s.feed([]byte("GET / HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n"))
	r = httptest.NewRequest("GET", "/", nil).WithContext(context.WithValue(t.Context(), connKey{}, sc))
	r.ProtoMajor, r.Proto = 2, "HTTP/2.0"
	if err := Check(r); err != nil {
		t.Fatal(err)
	}
	r.ProtoMajor, r.Proto = 1, "HTTP/1.1"
	if err := Check(r); !errors.Is(err, ErrMultipleContentLength) {
		t.Fatalf("Check = %v", err)
	}
}

func TestPendingBounded(t *testing.T) {
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	sc := newConn(c1)
	for i := range 10 * maxPending {
		sc.s.feed(fmt.Appendf(nil, "GET /%d HTTP/1.1\r\n\r\n", i))
	}
	if len(sc.pending) > maxPending || len(sc.pending) < maxPending/2 {
		t.Fatalf("%d verdicts pending", len(sc.pending))
	}
}
