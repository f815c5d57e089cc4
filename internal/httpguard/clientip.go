package httpguard

import (
	"net/http"
	"net/netip"
	"strings"

	"github.com/mote-run/mote/internal/ipfilter"
)

// Trusted is the set of proxies whose X-Forwarded-For the gateway believes.
// It is immutable and safe for concurrent use; a nil or empty Trusted
// trusts nobody.
type Trusted struct {
	rules *ipfilter.Rules // nil when nobody is trusted
}

// NewTrusted trusts the proxies in prefixes (IPv4-mapped IPv6 is unmapped).
func NewTrusted(prefixes []netip.Prefix) *Trusted {
	var valid []netip.Prefix
	for _, p := range prefixes {
		if p.IsValid() {
			valid = append(valid, p)
		}
	}
	if len(valid) == 0 {
		return &Trusted{}
	}
	return &Trusted{rules: ipfilter.New(valid, nil)}
}

func (t *Trusted) trusts(a netip.Addr) bool {
	return t != nil && t.rules != nil && a.IsValid() && t.rules.Allowed(a)
}

// ClientIP returns the address of the client that sent r. It is the
// address in r.RemoteAddr unless that peer is a trusted proxy; then
// X-Forwarded-For (all its lines, in order) is walked from the right,
// skipping trusted hops, and the first untrusted address is returned. An
// entry that is not an IP address stops the walk and the last valid hop
// (a trusted proxy) is returned; so is the leftmost entry when every hop is
// trusted. Without trusted proxies X-Forwarded-* is ignored entirely.
// Addresses come back unmapped and without a zone; the zero Addr means
// RemoteAddr held no IP address (a Unix socket, say).
func (t *Trusted) ClientIP(r *http.Request) netip.Addr {
	peer := parseHop(r.RemoteAddr)
	if !t.trusts(peer) {
		return peer
	}
	hop := peer
	values := r.Header.Values("X-Forwarded-For")
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for v != "" {
			var entry string
			if j := strings.LastIndexByte(v, ','); j >= 0 {
				v, entry = v[:j], v[j+1:]
			} else {
				v, entry = "", v
			}
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue
			}
			a := parseHop(entry)
			if !a.IsValid() {
				return hop
			}
			hop = a
			if !t.trusts(a) {
				return a
			}
		}
	}
	return hop
}

// parseHop parses "addr", "addr:port" or "[addr]:port".
func parseHop(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone("")
	}
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil {
		return a.Unmap().WithZone("")
	}
	return netip.Addr{}
}
