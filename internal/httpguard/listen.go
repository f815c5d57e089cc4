package httpguard

import (
	"context"
	"errors"
	"hash/maphash"
	"io"
	"net"
	"net/http"
	"sync"
)

// Framing errors returned by Check. Their messages are written for the
// client: the gateway can put them in a 400 body as they are.
var (
	// ErrContentLengthAndTransferEncoding means the request carried both
	// headers, the classic request-smuggling ambiguity. Go's server silently
	// drops Content-Length in this case.
	ErrContentLengthAndTransferEncoding = errors.New("the request has both Content-Length and Transfer-Encoding; send one (RFC 9112 §6.1)")
	// ErrMultipleContentLength means the request had more than one
	// Content-Length line (Go's server accepts identical duplicates).
	ErrMultipleContentLength = errors.New("the request has more than one Content-Length header; send exactly one (RFC 9112 §6.3)")
	// ErrTransferEncodingHTTP10 means an HTTP/1.0 request carried
	// Transfer-Encoding, which Go's server ignores but a proxy may not.
	ErrTransferEncodingHTTP10 = errors.New("the HTTP/1.0 request has Transfer-Encoding; HTTP/1.0 has no transfer codings, send Content-Length instead (RFC 9112 §6.1)")
	// ErrObsFold means a header line started with a space or tab (obsolete
	// line folding), which Go's server silently joins to the previous line.
	ErrObsFold = errors.New("a header line of the request starts with a space or tab (obsolete line folding); put each header field on one line (RFC 9112 §5.2)")
)

// maxPending bounds the verdicts kept for requests not yet checked (those
// a handler never checks, or that Go's server answers itself).
const maxPending = 64

// Listen wraps l so that every accepted connection records the framing of
// the HTTP/1.x requests read from it, for Check. Serve the wrapped listener
// and set http.Server.ConnContext to ConnContext.
//
// Wrap the plain TCP listener. Under TLS the wrapper sees ciphertext, loses
// sync at once and Check returns nil for every request (see Check).
func Listen(l net.Listener) net.Listener { return &listener{l} }

type listener struct{ net.Listener }

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newConn(c), nil
}

// conn sniffs the bytes its Reads return. Writes pass through untouched.
type conn struct {
	net.Conn

	mu      sync.Mutex
	s       sniffer
	pending []verdict
	lastReq *http.Request // the request Check answered last, and its answer
	lastErr error
}

func newConn(c net.Conn) *conn {
	sc := &conn{Conn: c, pending: make([]verdict, 0, 4)}
	sc.s.verdicts = sc.push
	sc.s.reset()
	return sc
}

func (c *conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		c.s.feed(p[:n])
		c.mu.Unlock()
	}
	return n, err
}

// push queues a verdict; c.mu is held (called from feed).
func (c *conn) push(v verdict) {
	if len(c.pending) == maxPending { // drop the oldest half: never checked
		c.pending = c.pending[:copy(c.pending, c.pending[maxPending/2:])]
	}
	c.pending = append(c.pending, v)
}

// ReadFrom lets the server use the underlying connection's sendfile or
// splice path for responses; only reads are sniffed.
func (c *conn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// CloseWrite half-closes the connection when the underlying one can (Go's
// server uses it to deliver an error response before closing); otherwise it
// does nothing.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// NetConn returns the wrapped connection.
func (c *conn) NetConn() net.Conn { return c.Conn }

type connKey struct{}

// ConnContext adds a connection accepted by a Listen listener to ctx, so
// Check can find it. Use it as (or call it from) http.Server.ConnContext.
// Other connections leave ctx unchanged.
func ConnContext(ctx context.Context, c net.Conn) context.Context {
	if sc, ok := c.(*conn); ok {
		return context.WithValue(ctx, connKey{}, sc)
	}
	return ctx
}

// Check returns the framing problem of r's header block as the bytes
// arrived on the wire, or nil: ErrContentLengthAndTransferEncoding,
// ErrMultipleContentLength, ErrTransferEncodingHTTP10 or ErrObsFold (the
// first that applies, in that order). The handler should answer 400 and
// close the connection ("Connection: close"), since the client and any
// proxy in front may disagree with Go about where the next request starts.
//
// Call it first thing for every request, before changing r: the verdict is
// found by r's request line (Method, RequestURI, Proto) among the verdicts
// recorded on r's connection in order, and verdicts of earlier requests
// that were never checked are discarded. Calling it again with the same
// *http.Request returns the same answer.
//
// Check returns nil, meaning "unknown framing: Go's own parser decides",
// when the connection did not come from a Listen listener via ConnContext,
// for HTTP/2, and once the sniffer has lost sync with the byte stream
// (bytes that are not HTTP/1.x, such as TLS or an upgraded connection, or
// framing Go's server refuses and closes the connection over).
func Check(r *http.Request) error {
	c, _ := r.Context().Value(connKey{}).(*conn)
	if c == nil || r.ProtoMajor != 1 {
		return nil
	}
	line := requestLineHash(r)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lastReq == r {
		return c.lastErr
	}
	for i, v := range c.pending {
		if v.line != line {
			continue
		}
		n := copy(c.pending, c.pending[i+1:])
		c.pending = c.pending[:n]
		c.lastReq, c.lastErr = r, v.flags.err()
		return c.lastErr
	}
	return nil
}

func requestLineHash(r *http.Request) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	h.WriteString(r.Method)
	h.WriteByte(' ')
	h.WriteString(r.RequestURI)
	h.WriteByte(' ')
	h.WriteString(r.Proto)
	return h.Sum64()
}

func (f flags) err() error {
	switch {
	case f&flagCLAndTE != 0:
		return ErrContentLengthAndTransferEncoding
	case f&flagMultiCL != 0:
		return ErrMultipleContentLength
	case f&flagTEHTTP10 != 0:
		return ErrTransferEncodingHTTP10
	case f&flagObsFold != 0:
		return ErrObsFold
	}
	return nil
}
