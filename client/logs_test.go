package client

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
)

// deployHello gives the fake a service named hello.
func deployHello(t *testing.T, c *Client) {
	t.Helper()
	if _, err := c.Deploy(t.Context(), Package{Manifest: []byte(`name = "hello"`), Module: []byte("m")}); err != nil {
		t.Fatal(err)
	}
}

func logLine(i int, msg string) api.LogEntry {
	return api.LogEntry{Time: time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC), Service: "hello", Stream: api.StreamStdout, Message: msg}
}

func TestLogs(t *testing.T) {
	f := newFakeNode(t)
	c := f.client(t)
	deployHello(t, c)
	for i, m := range []string{"one", "two", "three", "four"} {
		f.addLog(logLine(i, m))
	}
	f.requests()
	tests := []struct {
		name      string
		opts      LogOptions
		wantQuery url.Values
		want      []string
	}{
		{"all", LogOptions{}, url.Values{}, []string{"one", "two", "three", "four"}},
		{"tail", LogOptions{Tail: 2}, url.Values{"tail": {"2"}}, []string{"three", "four"}},
		{"since", LogOptions{Since: logLine(1, "").Time.In(time.FixedZone("X", 3600))},
			url.Values{"since": {"2026-01-01T00:00:01Z"}}, []string{"two", "three", "four"}},
		{"since and tail", LogOptions{Tail: 1, Since: logLine(1, "").Time}, url.Values{"tail": {"1"}, "since": {"2026-01-01T00:00:01Z"}},
			[]string{"four"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for e, err := range c.Logs(t.Context(), "hello", tt.opts) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, e.Message)
			}
			if !equalStrings(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			r := f.requests()[0]
			q, _ := url.ParseQuery(r.RawQuery)
			if r.Path != "/v1/services/hello/logs" || q.Encode() != tt.wantQuery.Encode() || r.Auth != "Bearer "+fakeToken {
				t.Errorf("sent %s?%s auth %q, want query %s", r.Path, r.RawQuery, r.Auth, tt.wantQuery.Encode())
			}
			if r.Accept != "application/x-ndjson" {
				t.Errorf("Accept %q", r.Accept)
			}
		})
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestLogsErrors(t *testing.T) {
	f := newFakeNode(t)
	c := f.client(t)
	deployHello(t, c)

	var errs []error
	for _, err := range c.Logs(t.Context(), "ghost", LogOptions{}) {
		errs = append(errs, err)
	}
	if len(errs) != 1 {
		t.Fatalf("unknown service: %d errors, want 1", len(errs))
	}
	wantAPIError(t, errs[0], 404, api.CodeNotFound, "ghost")

	// A line that is not JSON is an error, and the stream goes on.
	f.addLog(logLine(0, "before"))
	f.addLog(logLine(1, "<garbage>"))
	f.addLog(logLine(2, "after"))
	var got []string
	errs = nil
	for e, err := range c.Logs(t.Context(), "hello", LogOptions{}) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		got = append(got, e.Message)
	}
	if !equalStrings(got, []string{"before", "after"}) || len(errs) != 1 {
		t.Errorf("got %q and errors %v, want before, after and one error", got, errs)
	}
}

// TestLogsFollow follows a stream: the lines there, then a line written
// while following, then a cancelled context ends the loop without error.
func TestLogsFollow(t *testing.T) {
	f := newFakeNode(t)
	c := f.client(t)
	deployHello(t, c)
	f.addLog(logLine(0, "old-1"))
	f.addLog(logLine(1, "old-2"))
	f.requests()

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan struct{})
	var got []string
	var errs []error
	go func() {
		defer close(done)
		for e, err := range c.Logs(ctx, "hello", LogOptions{Follow: true}) {
			if err != nil {
				errs = append(errs, err)
				continue
			}
			got = append(got, e.Message)
			switch len(got) {
			case 2:
				f.addLog(logLine(2, "new"))
			case 3:
				cancel()
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Logs did not end 10s after the context was cancelled")
	}
	if !equalStrings(got, []string{"old-1", "old-2", "new"}) || len(errs) != 0 {
		t.Errorf("got %q and errors %v", got, errs)
	}
	if q, _ := url.ParseQuery(f.requests()[0].RawQuery); q.Get("follow") != "true" {
		t.Errorf("follow not asked for: %v", q)
	}
	waitFor(t, "the stream to close", func() bool { return f.following() == 0 })
}

// TestLogsBreak checks that leaving the loop closes a followed stream.
func TestLogsBreak(t *testing.T) {
	f := newFakeNode(t)
	c := f.client(t)
	deployHello(t, c)
	f.addLog(logLine(0, "one"))
	for e, err := range c.Logs(t.Context(), "hello", LogOptions{Follow: true}) {
		if err != nil || e.Message != "one" {
			t.Fatalf("got %+v, %v", e, err)
		}
		if f.following() != 1 {
			t.Errorf("%d streams open while following, want 1", f.following())
		}
		break
	}
	waitFor(t, "the stream to close", func() bool { return f.following() == 0 })
}

// TestLogsCancelledBeforeStart checks that a done context is no error.
func TestLogsCancelledBeforeStart(t *testing.T) {
	f := newFakeNode(t)
	c := f.client(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, err := range c.Logs(ctx, "hello", LogOptions{Follow: true}) {
		t.Errorf("got %v from a cancelled context", err)
	}
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Fatal("context not cancelled")
	}
}

// waitFor polls cond until it holds or 5s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
