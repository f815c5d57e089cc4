package hostile_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mote-run/mote/internal/gateway"
	"github.com/mote-run/mote/internal/node/nodetest"
)

// rawExchange sends raw bytes on a fresh connection to addr and reads one
// response. With checkClosed it also reports whether the server then
// closed the connection (within a second).
func rawExchange(t *testing.T, addr, raw string, checkClosed bool) (resp *http.Response, body string, closed bool) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the response to %q: %v", truncate(raw, 100), err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !checkClosed {
		return resp, string(b), false
	}
	_ = conn.SetReadDeadline(time.Now().Add(time.Second))
	_, err = br.ReadByte()
	return resp, string(b), errors.Is(err, io.EOF)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// TestGatewayRefusesBadRequests sends the gateway requests a client must
// not send: ambiguous framing, oversized headers, garbage paths. Each gets
// a clean 4xx (never a 5xx, never the guest), and the node serves on.
func TestGatewayRefusesBadRequests(t *testing.T) {
	t.Parallel()
	env := nodetest.Start(t)
	deploy(t, env, "hello", "hello", "", "", nil)
	addr := strings.TrimPrefix(env.Gateway, "http://")

	t.Run("framing", func(t *testing.T) {
		tests := []struct {
			name, raw string
			says      string // in the body
		}{
			{"CL+TE", "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "Transfer-Encoding"},
			{"TE+CL", "POST /hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n", "Transfer-Encoding"},
			{"CL+TE-identity", "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: identity\r\n\r\nabcd", ""},
			{"two-CL-differ", "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde", ""},
			{"two-CL-same", "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd", "Content-Length"},
			{"obs-fold", "GET /hello HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", ""},
			{"TE-in-HTTP/1.0", "POST /hello HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", ""},
			{"negative-CL", "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", ""},
			{"CL-with-sign", "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: +4\r\n\r\nabcd", ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				resp, body, closed := rawExchange(t, addr, tt.raw, true)
				if resp.StatusCode != 400 && resp.StatusCode != 501 {
					t.Fatalf("%d %q, want 400", resp.StatusCode, body)
				}
				if !strings.Contains(body, tt.says) {
					t.Errorf("body %q does not name %s", body, tt.says)
				}
				if !closed {
					t.Errorf("the connection stayed open after a request with ambiguous framing")
				}
			})
		}
	})

	t.Run("oversized-headers", func(t *testing.T) {
		tests := []struct {
			name   string
			header string
			status int
		}{
			{"one-100KiB-header", "X-Big: " + strings.Repeat("a", 100<<10) + "\r\n", 431},
			{"2000-headers", strings.Repeat("X-Many: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n", 2000), 431},
			{"1MiB-cookie", "Cookie: " + strings.Repeat("c=1; ", 200<<10) + "\r\n", 431},
			{"under-the-limit", "X-Big: " + strings.Repeat("a", 60<<10) + "\r\n", 200},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				resp, body, _ := rawExchange(t, addr, "GET /hello HTTP/1.1\r\nHost: x\r\n"+tt.header+"\r\n", false)
				if resp.StatusCode != tt.status {
					t.Errorf("%d %q, want %d", resp.StatusCode, truncate(body, 200), tt.status)
				}
			})
		}
	})

	t.Run("garbage-paths", func(t *testing.T) {
		tests := []struct {
			target string
			status int
		}{
			{"/%ff%fe", 404},
			{"/\xff\xfe", 404},
			{"/\xc0\xaf", 404},
			{"/%", 400},
			{"/%zz", 400},
			{"/%00", 404},
			{"/%2e%2e/%2e%2e/etc/passwd", 404},
			{"/../../etc/passwd", 404},
			{"/hello/%ff%00%c0%af", 200},
			{"/hello/..%2f..%2fadmin.token", 200},
			// Dot segments are not resolved: the literal prefix routes.
			{"/hello/../nowhere", 200},
			{"/" + strings.Repeat("a", 60<<10), 404},
			{"/\x01", 400},
			{"*", 404},
			{"hello", 400},
			{"http://evil.example/hello", 200},
			{"/hello?%ff%00=%zz&&&", 200},
		}
		for _, tt := range tests {
			t.Run(truncate(fmt.Sprintf("%q", tt.target), 40), func(t *testing.T) {
				t.Parallel()
				resp, body, _ := rawExchange(t, addr, "GET "+tt.target+" HTTP/1.1\r\nHost: x\r\n\r\n", false)
				if resp.StatusCode != tt.status {
					t.Errorf("%d %q, want %d", resp.StatusCode, truncate(body, 200), tt.status)
				}
				if resp.StatusCode == 404 {
					e := errorOf(body)
					if e == nil || len(e.Message) > 300 {
						t.Errorf("404 body %q: want a short JSON error", truncate(body, 300))
					}
				}
			})
		}
	})

	// After all that, the node serves as before.
	if r := do(t.Context(), http.DefaultClient, "GET", env.Gateway+"/hello", nil); r.status != 200 || r.body != "hello\n" {
		t.Errorf("after the bad requests: %s", r)
	}
}

// TestSlowClients: a client that sends its header slowly (slowloris), or
// nothing at all, is cut off at the gateway's header timeout, and does not
// keep others from being served. The timeout is not configurable, so this
// takes 10 s; it runs in parallel with the rest.
func TestSlowClients(t *testing.T) {
	t.Parallel()
	srv := gateway.New(gateway.Options{}).Server()
	if srv.ReadHeaderTimeout != gateway.ReadHeaderTimeout || gateway.ReadHeaderTimeout != 10*time.Second {
		t.Errorf("the gateway's ReadHeaderTimeout is %s (constant %s), want 10s", srv.ReadHeaderTimeout, gateway.ReadHeaderTimeout)
	}
	if srv.MaxHeaderBytes != 64<<10 || srv.ReadTimeout <= 0 || srv.IdleTimeout <= 0 {
		t.Errorf("gateway server limits: MaxHeaderBytes %d, ReadTimeout %s, IdleTimeout %s", srv.MaxHeaderBytes, srv.ReadTimeout, srv.IdleTimeout)
	}

	env := nodetest.Start(t)
	deploy(t, env, "hello", "hello", "", "", nil)
	addr := strings.TrimPrefix(env.Gateway, "http://")

	const conns = 50
	var wg sync.WaitGroup
	lasted := make([]time.Duration, conns)
	errs := make([]error, conns)
	for i := range conns {
		wg.Go(func() {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				errs[i] = err
				return
			}
			defer conn.Close()
			start := time.Now()
			if i%2 == 1 { // the odd ones send nothing at all
				_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
				_, err := conn.Read(make([]byte, 1))
				lasted[i], errs[i] = time.Since(start), expectClosed(err)
				return
			}
			// One header byte every 200 ms: never a complete header.
			if _, err := io.WriteString(conn, "GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: "); err != nil {
				errs[i] = err
				return
			}
			for time.Since(start) < 20*time.Second {
				time.Sleep(200 * time.Millisecond)
				if _, err := conn.Write([]byte("a")); err != nil {
					lasted[i] = time.Since(start)
					return
				}
				_ = conn.SetReadDeadline(time.Now().Add(time.Millisecond))
				if _, err := conn.Read(make([]byte, 1)); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
					lasted[i] = time.Since(start)
					return
				}
			}
			errs[i] = errors.New("the connection was still open after 20 s")
		})
	}
	// Meanwhile the node serves others.
	time.Sleep(time.Second)
	hc := newHTTP()
	for range 20 {
		if r := do(t.Context(), hc, "GET", env.Gateway+"/hello", nil); r.status != 200 || r.took > time.Second {
			t.Errorf("while slow clients hold %d connections: %s", conns, r)
		}
	}
	wg.Wait()
	for i := range conns {
		switch {
		case errs[i] != nil:
			t.Errorf("slow client %d: %v", i, errs[i])
		case lasted[i] < 9*time.Second || lasted[i] > 13*time.Second:
			t.Errorf("slow client %d was cut off after %s, want about 10 s", i, lasted[i].Round(time.Millisecond))
		}
	}
	t.Logf("slow clients cut off after %s (trickling) and %s (silent)", lasted[0].Round(time.Millisecond), lasted[1].Round(time.Millisecond))
}

// expectClosed accepts the end of a read on a connection the server
// closed (EOF, or a reset).
func expectClosed(err error) error {
	if err == nil {
		return errors.New("the server sent data to a client that sent nothing")
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return errors.New("the connection was still open after 20 s")
	}
	return nil
}
