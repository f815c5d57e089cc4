// Package httpguard is request hygiene at the gateway's edge: it finds
// request-framing ambiguities that Go's HTTP/1.x server hides from handlers
// (Listen, ConnContext, Check), strips hop-by-hop and reserved headers, and
// works out the client's address without trusting X-Forwarded-For from
// untrusted peers (Trusted).
//
// Go's server already refuses, before any handler runs, an invalid or
// differing Content-Length, a Transfer-Encoding other than a single
// "chunked", and malformed header lines. What it accepts silently, and Check
// reports, is Content-Length together with Transfer-Encoding (it drops
// Content-Length), identical duplicate Content-Length lines, Transfer-Encoding
// in HTTP/1.0 (ignored) and obsolete line folding (joined).
package httpguard

import (
	"net/http"
	"net/textproto"
	"strings"
)

// hopByHop are the hop-by-hop headers of RFC 9110 §7.6.1, plus the
// non-standard Proxy-Connection and the proxy authentication pair.
var hopByHop = []string{
	"Connection",
	"Keep-Alive",
	"Proxy-Connection",
	"Proxy-Authenticate",
	"Proxy-Authorization",
	"Te",
	"Trailer",
	"Transfer-Encoding",
	"Upgrade",
}

// StripHopByHop removes the hop-by-hop headers from h: every header named in
// Connection, then Connection, Keep-Alive, Proxy-Connection,
// Proxy-Authenticate, Proxy-Authorization, TE, Trailer, Transfer-Encoding
// and Upgrade.
func StripHopByHop(h http.Header) {
	for _, v := range h["Connection"] {
		for name := range strings.SplitSeq(v, ",") {
			if name = textproto.TrimString(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopByHop {
		delete(h, name)
	}
}

// StripReserved deletes every header whose canonical name starts with
// prefix (itself canonicalized, so "mote-" and "Mote-" are the same), so
// clients cannot forge headers the gateway sets, such as Mote-App. An empty
// prefix does nothing.
func StripReserved(h http.Header, prefix string) {
	if prefix == "" {
		return
	}
	prefix = http.CanonicalHeaderKey(prefix)
	for name := range h {
		if strings.HasPrefix(name, prefix) || strings.HasPrefix(http.CanonicalHeaderKey(name), prefix) {
			delete(h, name)
		}
	}
}
