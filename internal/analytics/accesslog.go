package analytics

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// AccessLog writes one JSON object per request, one per line, from a
// background goroutine. Write never blocks: when the buffer is full, the
// entry is dropped and counted. Create it with NewAccessLog; it is safe for
// concurrent use.
//
// A line's fields, in order: time (RFC 3339 with nanoseconds, UTC),
// request_id, service, version, app, method, path, status, latency_ms (a
// float), bytes_in, bytes_out, client_ip. Only the path is logged: never a
// query string or a header, where secrets live.
type AccessLog struct {
	entries chan AccessEntry
	quit    chan struct{}
	done    chan struct{}
	closed  atomic.Bool
	dropped atomic.Uint64
	once    sync.Once
	err     error // the first write error; read after done is closed
}

// AccessEntry is one access log line.
type AccessEntry struct {
	Time      time.Time
	RequestID string
	Service   string
	Version   int
	// App is the API key's app; "" when anonymous.
	App    string
	Method string
	// Path is the request's path; anything from a '?' on is not logged.
	Path     string
	Status   int
	Latency  time.Duration
	BytesIn  int64
	BytesOut int64
	ClientIP string
}

// accessLine is an AccessEntry's JSON form.
type accessLine struct {
	Time      string  `json:"time"`
	RequestID string  `json:"request_id"`
	Service   string  `json:"service"`
	Version   int     `json:"version"`
	App       string  `json:"app"`
	Method    string  `json:"method"`
	Path      string  `json:"path"`
	Status    int     `json:"status"`
	LatencyMS float64 `json:"latency_ms"`
	BytesIn   int64   `json:"bytes_in"`
	BytesOut  int64   `json:"bytes_out"`
	ClientIP  string  `json:"client_ip"`
}

// DefaultAccessLogBuffer is NewAccessLog's buffer when it is given ≤ 0.
const DefaultAccessLogBuffer = 4096

// NewAccessLog starts an access log writing to w, holding up to buffer
// entries (≤ 0 means DefaultAccessLogBuffer) not yet written. Close stops
// it; w is not closed.
func NewAccessLog(w io.Writer, buffer int) *AccessLog {
	if buffer <= 0 {
		buffer = DefaultAccessLogBuffer
	}
	l := &AccessLog{
		entries: make(chan AccessEntry, buffer),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go l.run(w)
	return l
}

// Write queues an entry, or drops it (counted by Dropped) if the buffer is
// full or the log is closed.
func (l *AccessLog) Write(e AccessEntry) {
	if l.closed.Load() {
		l.dropped.Add(1)
		return
	}
	select {
	case l.entries <- e:
	default:
		l.dropped.Add(1)
	}
}

// Dropped is how many entries were not written: the buffer was full, the
// log was closed, or writing failed.
func (l *AccessLog) Dropped() uint64 {
	return l.dropped.Load()
}

// Close writes the entries queued so far and stops the log. It returns the
// first error writing to w, if any. Entries written concurrently with Close
// may be lost; later ones are dropped. Close is idempotent.
func (l *AccessLog) Close() error {
	l.once.Do(func() {
		l.closed.Store(true)
		close(l.quit)
	})
	<-l.done
	return l.err
}

// run writes entries until quit, then what is left.
func (l *AccessLog) run(w io.Writer) {
	defer close(l.done)
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	write := func(e AccessEntry) {
		if l.err != nil {
			l.dropped.Add(1)
			return
		}
		if err := enc.Encode(line(e)); err != nil {
			l.err = fmt.Errorf("access log: %w", err)
			l.dropped.Add(1)
		}
	}
	flush := func() {
		if err := bw.Flush(); err != nil && l.err == nil {
			l.err = fmt.Errorf("access log: %w", err)
		}
	}
	for {
		select {
		case e := <-l.entries:
			write(e)
			if len(l.entries) == 0 {
				flush()
			}
		case <-l.quit:
			for {
				select {
				case e := <-l.entries:
					write(e)
				default:
					flush()
					return
				}
			}
		}
	}
}

// line is e's JSON form.
func line(e AccessEntry) accessLine {
	path, _, _ := strings.Cut(e.Path, "?")
	return accessLine{
		Time:      e.Time.UTC().Format(time.RFC3339Nano),
		RequestID: e.RequestID,
		Service:   e.Service,
		Version:   e.Version,
		App:       e.App,
		Method:    e.Method,
		Path:      path,
		Status:    e.Status,
		LatencyMS: float64(e.Latency) / float64(time.Millisecond),
		BytesIn:   e.BytesIn,
		BytesOut:  e.BytesOut,
		ClientIP:  e.ClientIP,
	}
}
