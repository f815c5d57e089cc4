package main

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mote-run/mote/internal/manifest"
)

func TestHandler(t *testing.T) {
	for _, path := range []string{"/hello-container", "/hello-container/world", "/"} {
		rec := httptest.NewRecorder()
		handler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		body := rec.Body.String()
		if rec.Code != http.StatusOK || !strings.Contains(body, "hello from a container") || !strings.Contains(body, "you asked for "+path+"\n") {
			t.Errorf("GET %s = %d %q", path, rec.Code, body)
		}
	}
}

// TestServeShutsDown checks that serve returns once its context ends,
// refusing new connections but finishing the request in flight.
func TestServeShutsDown(t *testing.T) {
	log.SetOutput(t.Output())
	t.Cleanup(func() { log.SetOutput(os.Stderr) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started, release := make(chan struct{}), make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		handler().ServeHTTP(w, r)
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln, slow) }()

	inflight := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/hello-container/x")
		if err != nil {
			inflight <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		inflight <- string(b)
	}()
	<-started
	cancel()

	// The listener closes: new connections are refused.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting connections 5 s after the shutdown began")
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(release)
	if got := <-inflight; !strings.Contains(got, "hello from a container") {
		t.Errorf("request in flight got %q", got)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("serve did not return 5 s after its context ended")
	}
}

func TestManifest(t *testing.T) {
	m, _, err := manifest.Load(".")
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "hello-container" || m.Container == nil || m.Container.Image != "./image" || m.Build == nil {
		t.Errorf("mote.toml = %+v, want hello-container with [container] image = \"./image\" and a [build]", m)
	}
}
