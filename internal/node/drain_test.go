package node_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/client"
	"github.com/mote-run/mote/internal/node/nodetest"
)

// TestShutdownDrains checks that Shutdown lets a request in flight finish
// with its whole response while refusing new connections.
func TestShutdownDrains(t *testing.T) {
	t.Parallel()
	env := nodetest.Start(t)
	env.Deploy(t, guestPkg(t, guestManifest("drain", "/drain", "\n[limits]\ntimeout = \"700ms\"\n")))
	_, gwPort := hostPort(t, env.Gateway)
	gwAddr := net.JoinHostPort("127.0.0.1", gwPort)

	type result struct {
		status int
		header http.Header
		body   []byte
		err    error
		at     time.Time
	}
	inflight := make(chan result, 1)
	go func() {
		// A client of its own: the request must not be retried on another
		// connection.
		hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := hc.Get(env.Gateway + "/drain/sleep")
		if err != nil {
			inflight <- result{err: err, at: time.Now()}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		inflight <- result{status: resp.StatusCode, header: resp.Header, body: b, err: err, at: time.Now()}
	}()
	nodetest.Eventually(t, 5*time.Second, "the request to be in flight", func() bool {
		is, err := env.Client.Instances(t.Context(), "drain")
		return err == nil && len(is) == 1
	})

	shutdown := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		shutdown <- env.Node.Shutdown(ctx)
	}()

	// New connections are refused while the request is still running.
	var refusedAt time.Time
	nodetest.Eventually(t, 5*time.Second, "the gateway to refuse connections", func() bool {
		conn, err := net.DialTimeout("tcp", gwAddr, time.Second)
		if err != nil {
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Logf("dial: %v", err)
			}
			refusedAt = time.Now()
			return true
		}
		conn.Close()
		return false
	})

	r := <-inflight
	if r.err != nil {
		t.Fatalf("the request in flight during Shutdown failed: %v", r.err)
	}
	if !refusedAt.Before(r.at) {
		t.Errorf("the listener closed only after the request in flight finished")
	}
	if r.status != 504 || r.header.Get("X-Request-Id") == "" || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("in-flight response: %d %v %q", r.status, r.header, r.body)
	}
	var eb api.ErrorBody
	if err := json.Unmarshal(r.body, &eb); err != nil || eb.Error == nil || eb.Error.Code != api.CodeGuestTimeout {
		t.Errorf("in-flight response body %q (%v), want a whole guest_timeout error", r.body, err)
	}

	select {
	case err := <-shutdown:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Shutdown did not return")
	}
	if _, err := net.DialTimeout("tcp", gwAddr, time.Second); err == nil {
		t.Errorf("the gateway accepts connections after Shutdown")
	}
	if err := env.Client.Health(t.Context()); !errors.Is(err, client.ErrUnreachable) {
		t.Errorf("admin API after Shutdown: %v, want unreachable", err)
	}
}
