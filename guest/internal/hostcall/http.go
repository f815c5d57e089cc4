package hostcall

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"

	"github.com/mote-run/mote/guest/abi"
)

// OutboundRequest converts r, a request a guest sends (http_fetch or call),
// into an ABI Request with url as its url. It reads r.Body whole and closes
// it, as an http.RoundTripper must. Headers go in sorted order, each value
// on its own; r.Host, when set, is the Host. An empty method is GET.
func OutboundRequest(r *http.Request, url string) (*abi.Request, error) {
	out := &abi.Request{Method: r.Method, URL: url, Host: r.Host}
	if out.Method == "" {
		out.Method = http.MethodGet
	}
	if r.Body != nil && r.Body != http.NoBody {
		body, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("reading the request body: %w", err)
		}
		out.Body = body
	}
	out.Header = Headers(r.Header)
	return out, nil
}

// Headers flattens h into ABI headers: names sorted, one entry per value,
// in order. Names whose value list is empty are left out.
func Headers(h http.Header) []abi.Header {
	n := 0
	for _, vs := range h {
		n += len(vs)
	}
	if n == 0 {
		return nil
	}
	names := make([]string, 0, len(h))
	for name := range h {
		names = append(names, name)
	}
	slices.Sort(names)
	out := make([]abi.Header, 0, n)
	for _, name := range names {
		for _, v := range h[name] {
			out = append(out, abi.Header{Name: name, Value: v})
		}
	}
	return out
}

// HTTPHeader builds an http.Header from ABI headers, canonicalizing names
// and keeping repeated values in order.
func HTTPHeader(hs []abi.Header) http.Header {
	h := make(http.Header, len(hs))
	for _, kv := range hs {
		h.Add(kv.Name, kv.Value)
	}
	return h
}

// HTTPResponse converts resp, the host's answer to req, into the
// *http.Response an http.Client expects: protocol HTTP/1.1, Status as
// "200 OK", ContentLength the body's length, Body readable once.
func HTTPResponse(req *http.Request, resp *abi.Response) *http.Response {
	var body io.ReadCloser = http.NoBody
	if len(resp.Body) > 0 {
		body = io.NopCloser(bytes.NewReader(resp.Body))
	}
	return &http.Response{
		Status:        StatusLine(resp.Status),
		StatusCode:    resp.Status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        HTTPHeader(resp.Header),
		Body:          body,
		ContentLength: int64(len(resp.Body)),
		Request:       req,
	}
}

// StatusLine is code with its reason phrase, as http.Response.Status has
// it: "404 Not Found"; just the number for a code without one.
func StatusLine(code int) string {
	s := strconv.Itoa(code)
	if text := http.StatusText(code); text != "" {
		s += " " + text
	}
	return s
}
