package wasm

import (
	"bytes"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/sandbox"
)

var errOutputTooLarge = errors.New("response too large")

// cappedBuffer collects a guest's stdout up to a limit. Past the limit it
// refuses the write and cancels the request, so a guest that floods stdout
// is stopped instead of being buffered without bound.
type cappedBuffer struct {
	buf      []byte
	max      int64
	overflow bool
	cancel   func()
}

var outputPool = sync.Pool{New: func() any { return &cappedBuffer{buf: make([]byte, 0, 4096)} }}

func (b *cappedBuffer) reset(max int64, cancel func()) {
	if cap(b.buf) > 1<<20 { // don't let one big response pin memory in the pool
		b.buf = make([]byte, 0, 4096)
	}
	b.buf = b.buf[:0]
	b.max, b.overflow, b.cancel = max, false, cancel
}

// Write is called from the guest's goroutine only; no locking is needed.
func (b *cappedBuffer) Write(p []byte) (int, error) {
	if b.overflow || int64(len(b.buf))+int64(len(p)) > b.max {
		b.overflow = true
		b.cancel()
		return 0, errOutputTooLarge
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

// logWriter turns a guest's stderr into log lines, up to maxStderr bytes per
// request; the rest is counted and reported in one line.
type logWriter struct {
	sink    sandbox.LogSink
	entry   api.LogEntry
	partial []byte
	written int
	dropped int
}

func (w *logWriter) Write(p []byte) (int, error) {
	n := len(p)
	if w.written+len(p) > maxStderr {
		keep := max(maxStderr-w.written, 0)
		w.dropped += len(p) - keep
		p = p[:keep]
	}
	w.written += len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.partial = append(w.partial, p...)
			break
		}
		w.emit(append(w.partial, p[:i]...))
		w.partial = w.partial[:0]
		p = p[i+1:]
	}
	return n, nil
}

func (w *logWriter) emit(line []byte) {
	e := w.entry
	e.Time = time.Now()
	e.Message = string(bytes.TrimRight(line, "\r"))
	w.sink.Log(e)
}

// flush emits a trailing line without a newline and the truncation notice.
func (w *logWriter) flush() {
	if len(w.partial) > 0 {
		w.emit(w.partial)
		w.partial = nil
	}
	if w.dropped > 0 {
		w.warn("stderr truncated: " + strconv.Itoa(w.dropped) + " bytes over the 64 KiB per-request limit were dropped")
		w.dropped = 0
	}
}

// warn logs a line of the node's own about this request.
func (w *logWriter) warn(msg string) {
	e := w.entry
	e.Time, e.Stream, e.Level, e.Message = time.Now(), api.StreamMote, "warn", msg
	w.sink.Log(e)
}
