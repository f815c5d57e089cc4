package guest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"

	"github.com/mote-run/mote/guest/abi"
	"github.com/mote-run/mote/guest/internal/hostcall"
)

// Handle serves one request with h (nil: http.DefaultServeMux) and returns
// the response, as the guest's mote_v1_handle export does for each request
// it gets; tests and other runtimes can call it directly.
//
// A request whose URL does not parse is answered 400 without calling h. A
// panic in h is logged (except http.ErrAbortHandler) and answered 500 with
// whatever h had written thrown away.
func Handle(h http.Handler, req *abi.Request) *abi.Response {
	if h == nil {
		h = http.DefaultServeMux
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // as net/http does when the handler returns
	r, err := newRequest(ctx, req)
	if err != nil {
		hostcall.Log(abi.LevelWarn, "guest: "+err.Error())
		return errorResponse(http.StatusBadRequest)
	}
	return serveHTTP(h, r)
}

// serve decodes an encoded Request, serves it with h and appends the
// encoded Response to out. It fails only on a request that does not decode.
func serve(h http.Handler, raw, out []byte) ([]byte, error) {
	req, err := abi.DecodeRequest(raw)
	if err != nil {
		return nil, fmt.Errorf("the host sent a bad request: %w", err)
	}
	return abi.AppendResponse(out, Handle(h, req)), nil
}

// newRequest builds the *http.Request a handler sees from the ABI's, the
// way net/http's server would have: the URL parsed from the request URI,
// header names canonical, Host moved out of the header, Proto HTTP/1.1.
func newRequest(ctx context.Context, in *abi.Request) (*http.Request, error) {
	u, err := url.ParseRequestURI(in.URL)
	if err != nil {
		return nil, fmt.Errorf("bad request URL: %w", err)
	}
	header := make(http.Header, len(in.Header))
	for _, kv := range in.Header {
		header.Add(kv.Name, kv.Value)
	}
	host := in.Host
	if hs, ok := header["Host"]; ok {
		if host == "" && len(hs) > 0 {
			host = hs[0]
		}
		delete(header, "Host")
	}
	method := in.Method
	if method == "" {
		method = http.MethodGet
	}
	var body io.ReadCloser = http.NoBody
	if len(in.Body) > 0 {
		body = io.NopCloser(bytes.NewReader(in.Body))
	}
	r := &http.Request{
		Method:        method,
		URL:           u,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        header,
		Body:          body,
		ContentLength: int64(len(in.Body)),
		Host:          host,
		RemoteAddr:    in.RemoteAddr,
		RequestURI:    in.URL,
	}
	return r.WithContext(withInfo(ctx, in.RequestID, in.Route)), nil
}

// serveHTTP runs h on r with a buffered writer and returns what it wrote,
// or a 500 if it panicked.
func serveHTTP(h http.Handler, r *http.Request) (resp *abi.Response) {
	w := &responseWriter{header: make(http.Header)}
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				hostcall.Log(abi.LevelError, fmt.Sprintf("guest: panic serving %s %s: %v\n%s", r.Method, r.RequestURI, v, debug.Stack()))
			}
			resp = errorResponse(http.StatusInternalServerError)
		}
	}()
	h.ServeHTTP(w, r)
	return w.response()
}

// errorResponse is the plain-text answer http.Error gives for code.
func errorResponse(code int) *abi.Response {
	return &abi.Response{
		Status: code,
		Header: []abi.Header{
			{Name: "Content-Type", Value: "text/plain; charset=utf-8"},
			{Name: "X-Content-Type-Options", Value: "nosniff"},
		},
		Body: []byte(http.StatusText(code) + "\n"),
	}
}

// responseWriter buffers a handler's response. Its semantics are
// net/http's: the first WriteHeader (or Write, as 200) fixes the status and
// the header; later changes to the header are ignored; a missing
// Content-Type is sniffed from the body.
type responseWriter struct {
	header http.Header
	// status is 0 until the header is written.
	status int
	// sent is the header as it was when written.
	sent []abi.Header
	// typed: the handler set Content-Type (perhaps to nil, which sends none)
	// or Content-Encoding, so the body is not sniffed.
	typed bool
	body  []byte
}

var (
	_ http.ResponseWriter = (*responseWriter)(nil)
	_ http.Flusher        = (*responseWriter)(nil)
	_ io.StringWriter     = (*responseWriter)(nil)
)

// Header returns the header to be sent; see http.ResponseWriter.
func (w *responseWriter) Header() http.Header { return w.header }

// WriteHeader fixes the status and the header. Like net/http it panics on a
// code outside 100..999, ignores informational codes (1xx other than 101:
// mote sends one response) and logs a warning on a second call.
func (w *responseWriter) WriteHeader(code int) {
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if w.status != 0 {
		hostcall.Log(abi.LevelWarn, fmt.Sprintf("guest: superfluous WriteHeader(%d): the status is already %d", code, w.status))
		return
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		return
	}
	w.status = code
	_, w.typed = w.header["Content-Type"]
	if w.header.Get("Content-Encoding") != "" {
		w.typed = true
	}
	for _, h := range hostcall.Headers(w.header) {
		if !strings.HasPrefix(h.Name, http.TrailerPrefix) {
			w.sent = append(w.sent, h)
		}
	}
}

// Write appends p to the body, writing the header with status 200 first if
// it was not. Like net/http it fails with http.ErrBodyNotAllowed when the
// status has no body (1xx, 204, 304).
func (w *responseWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	w.body = append(w.body, p...)
	return len(p), nil
}

// WriteString is Write for a string, without converting it.
func (w *responseWriter) WriteString(s string) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	w.body = append(w.body, s...)
	return len(s), nil
}

// Flush writes the header (status 200 if none was set) but sends nothing
// early: the whole response goes out when the handler returns.
func (w *responseWriter) Flush() {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
}

// response returns what the handler wrote; 200 with an empty body if it
// wrote nothing.
func (w *responseWriter) response() *abi.Response {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	h := w.sent
	if !w.typed && len(w.body) > 0 && bodyAllowed(w.status) {
		h = append(h, abi.Header{Name: "Content-Type", Value: http.DetectContentType(w.body)})
	}
	return &abi.Response{Status: w.status, Header: h, Body: w.body}
}

// bodyAllowed reports whether a response with status may have a body.
func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}
