package analytics

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestAccessLogLine(t *testing.T) {
	tests := []struct {
		name  string
		entry AccessEntry
		want  string
	}{
		{
			name: "full",
			entry: AccessEntry{
				Time:      time.Date(2026, 11, 27, 12, 0, 0, 123456789, time.FixedZone("CET", 3600)),
				RequestID: "01J9", Service: "hello", Version: 3, App: "shop",
				Method: "GET", Path: "/items/7", Status: 200, Latency: 1500 * time.Microsecond,
				BytesIn: 12, BytesOut: 345, ClientIP: "192.0.2.7",
			},
			want: `{"time":"2026-11-27T11:00:00.123456789Z","request_id":"01J9","service":"hello","version":3,"app":"shop","method":"GET","path":"/items/7","status":200,"latency_ms":1.5,"bytes_in":12,"bytes_out":345,"client_ip":"192.0.2.7"}`,
		},
		{
			name:  "zero",
			entry: AccessEntry{Time: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)},
			want:  `{"time":"2026-11-27T12:00:00Z","request_id":"","service":"","version":0,"app":"","method":"","path":"","status":0,"latency_ms":0,"bytes_in":0,"bytes_out":0,"client_ip":""}`,
		},
		{
			name:  "query string is not logged",
			entry: AccessEntry{Time: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC), Path: "/login?token=s3cret&x=1", Latency: 250 * time.Nanosecond},
			want:  `{"time":"2026-11-27T12:00:00Z","request_id":"","service":"","version":0,"app":"","method":"","path":"/login","status":0,"latency_ms":0.00025,"bytes_in":0,"bytes_out":0,"client_ip":""}`,
		},
		{
			name:  "escaped",
			entry: AccessEntry{Time: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC), Path: "/a\"<b>\n\xff"},
			want:  `{"time":"2026-11-27T12:00:00Z","request_id":"","service":"","version":0,"app":"","method":"","path":"/a\"<b>\n\ufffd","status":0,"latency_ms":0,"bytes_in":0,"bytes_out":0,"client_ip":""}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf syncBuffer
			l := NewAccessLog(&buf, 10)
			l.Write(tt.entry)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if got := buf.String(); got != tt.want+"\n" {
				t.Errorf("line:\n got %s\nwant %s", got, tt.want)
			}
			if !json.Valid([]byte(buf.String())) {
				t.Errorf("not JSON: %s", buf.String())
			}
		})
	}
}

// blockingWriter blocks every Write until released, after announcing it.
type blockingWriter struct {
	syncBuffer
	writing chan struct{}
	release chan struct{}
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	select {
	case w.writing <- struct{}{}:
	default:
	}
	<-w.release
	return w.syncBuffer.Write(p)
}

func TestAccessLogDropsWhenFull(t *testing.T) {
	w := &blockingWriter{writing: make(chan struct{}, 1), release: make(chan struct{})}
	l := NewAccessLog(w, 4)
	entry := func(i int) AccessEntry { return AccessEntry{RequestID: fmt.Sprint(i)} }
	l.Write(entry(0))
	select {
	case <-w.writing: // the writer holds entry 0
	case <-time.After(10 * time.Second):
		t.Fatal("the log did not write")
	}
	for i := 1; i <= 10; i++ {
		done := make(chan struct{})
		go func() { l.Write(entry(i)); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("Write %d blocked", i)
		}
	}
	if got := l.Dropped(); got != 6 {
		t.Errorf("dropped = %d, want 6 (10 written, 4 buffered)", got)
	}
	close(w.release)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for line := range strings.Lines(w.String()) {
		var v struct {
			RequestID string `json:"request_id"`
		}
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		ids = append(ids, v.RequestID)
	}
	if got, want := strings.Join(ids, ","), "0,1,2,3,4"; got != want {
		t.Errorf("lines = %s, want %s", got, want)
	}
	l.Write(entry(11))
	if got := l.Dropped(); got != 7 {
		t.Errorf("dropped after Close = %d, want 7", got)
	}
}

// TestAccessLogCloseFlushes writes more than the writer's buffer from
// several goroutines and checks Close writes every line.
func TestAccessLogCloseFlushes(t *testing.T) {
	var buf syncBuffer
	const n = 5000
	l := NewAccessLog(&buf, n)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range n / 4 {
				l.Write(AccessEntry{RequestID: fmt.Sprintf("%d-%d", g, i), Path: strings.Repeat("x", 100)})
			}
		})
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if got := strings.Count(buf.String(), "\n"); got != n || l.Dropped() != 0 {
		t.Errorf("%d lines, %d dropped; want %d, 0", got, l.Dropped(), n)
	}
}

// TestAccessLogFlushesWhenIdle checks a line reaches the writer without
// Close once the log has nothing else to write.
func TestAccessLogFlushesWhenIdle(t *testing.T) {
	var buf syncBuffer
	l := NewAccessLog(&buf, 0)
	defer l.Close()
	l.Write(AccessEntry{RequestID: "r1"})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(buf.String(), `"r1"`) {
		if time.Now().After(deadline) {
			t.Fatal("the line was not written")
		}
		time.Sleep(time.Millisecond)
	}
}

type failingWriter struct{}

var errDisk = errors.New("disk full")

func (failingWriter) Write([]byte) (int, error) { return 0, errDisk }

func TestAccessLogWriteError(t *testing.T) {
	l := NewAccessLog(failingWriter{}, 10)
	l.Write(AccessEntry{})
	err := l.Close()
	if !errors.Is(err, errDisk) {
		t.Fatalf("Close = %v, want %v", err, errDisk)
	}
}

func BenchmarkAccessLogWrite(b *testing.B) {
	l := NewAccessLog(io.Discard, 1<<16)
	e := AccessEntry{Time: time.Now(), RequestID: "01J9", Service: "hello", Version: 3, App: "shop", Method: "GET", Path: "/items/7", Status: 200, Latency: time.Millisecond, ClientIP: "192.0.2.7"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Write(e)
		}
	})
	b.StopTimer()
	l.Close()
	b.ReportMetric(float64(l.Dropped())/float64(b.N), "dropped/op")
}

// FuzzAccessLine checks any entry makes one line of valid JSON whose path
// has no query string.
func FuzzAccessLine(f *testing.F) {
	f.Add("GET", "/items/7?token=x", "shop", "01J9", "192.0.2.7", 200, int64(1500000))
	f.Add("", "\xff\n\u2028", "", "", "", -1, int64(-1))
	f.Fuzz(func(t *testing.T, method, path, app, id, ip string, status int, latency int64) {
		var buf syncBuffer
		l := NewAccessLog(&buf, 1)
		l.Write(AccessEntry{Method: method, Path: path, App: app, RequestID: id, ClientIP: ip, Status: status, Latency: time.Duration(latency)})
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
			t.Fatalf("not one line: %q", out)
		}
		var v struct{ Path string }
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("%q: %v", out, err)
		}
		if strings.Contains(v.Path, "?") {
			t.Fatalf("path %q has a query", v.Path)
		}
	})
}
