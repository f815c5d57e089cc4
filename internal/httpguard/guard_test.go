package httpguard

import (
	"net/http"
	"net/netip"
	"slices"
	"testing"
)

func TestStripHopByHop(t *testing.T) {
	tests := []struct {
		name string
		in   http.Header
		want []string // header names left
	}{
		{"nothing to strip", http.Header{"Accept": {"*/*"}, "X-A": {"1"}}, []string{"Accept", "X-A"}},
		{"fixed list", http.Header{
			"Connection": {"close"}, "Keep-Alive": {"timeout=5"}, "Proxy-Connection": {"keep-alive"},
			"Proxy-Authenticate": {"Basic"}, "Proxy-Authorization": {"Basic eA=="}, "Te": {"trailers"},
			"Trailer": {"X-Sum"}, "Transfer-Encoding": {"chunked"}, "Upgrade": {"websocket"},
			"Authorization": {"Bearer t"}, "Content-Length": {"3"},
		}, []string{"Authorization", "Content-Length"}},
		{"headers named by Connection", http.Header{
			"Connection": {"X-Secret, x-other ,", "X-Third"}, "X-Secret": {"1"}, "X-Other": {"2"},
			"X-Third": {"3"}, "X-Kept": {"4"},
		}, []string{"X-Kept"}},
		{"Connection naming a wanted header still strips it", http.Header{
			"Connection": {"Authorization"}, "Authorization": {"Bearer t"},
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			StripHopByHop(tt.in)
			if got := names(tt.in); !slices.Equal(got, tt.want) {
				t.Fatalf("left %v, want %v", got, tt.want)
			}
		})
	}
}

func names(h http.Header) []string {
	var ns []string
	for k := range h {
		ns = append(ns, k)
	}
	slices.Sort(ns)
	return ns
}

func TestStripReserved(t *testing.T) {
	tests := []struct {
		name   string
		in     http.Header
		prefix string
		want   []string
	}{
		{"drops forged identity", http.Header{"Mote-App": {"shop"}, "Mote-Key-Id": {"x"}, "Mote-Claim-Sub": {"root"},
			"X-Mote-App": {"kept"}, "Motel": {"kept"}, "Accept": {"*/*"}}, "Mote-", []string{"Accept", "Motel", "X-Mote-App"}},
		{"lower-case prefix", http.Header{"Mote-App": {"shop"}, "Accept": {"*/*"}}, "mote-", []string{"Accept"}},
		{"non-canonical keys", http.Header{"mote-app": {"shop"}, "MOTE-KEY-ID": {"x"}}, "Mote-", nil},
		{"empty prefix", http.Header{"Mote-App": {"shop"}}, "", []string{"Mote-App"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			StripReserved(tt.in, tt.prefix)
			if got := names(tt.in); !slices.Equal(got, tt.want) {
				t.Fatalf("left %v, want %v", got, tt.want)
			}
		})
	}
}

func TestClientIP(t *testing.T) {
	trusted := NewTrusted([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")})
	tests := []struct {
		name   string
		t      *Trusted
		remote string
		xff    []string
		want   string // "" = invalid
	}{
		{"no proxies ignores XFF", nil, "203.0.113.5:4000", []string{"1.1.1.1"}, "203.0.113.5"},
		{"empty Trusted ignores XFF", NewTrusted(nil), "10.0.0.1:4000", []string{"1.1.1.1"}, "10.0.0.1"},
		{"untrusted peer ignores XFF", trusted, "203.0.113.5:4000", []string{"10.1.1.1"}, "203.0.113.5"},
		{"trusted peer without XFF", trusted, "10.0.0.1:4000", nil, "10.0.0.1"},
		{"one hop", trusted, "10.0.0.1:4000", []string{"198.51.100.7"}, "198.51.100.7"},
		{"spoofed left entries ignored", trusted, "10.0.0.1:4000", []string{"6.6.6.6, 198.51.100.7"}, "198.51.100.7"},
		{"trusted hops skipped", trusted, "10.0.0.1:4000", []string{"6.6.6.6, 198.51.100.7, 10.2.2.2,10.3.3.3"}, "198.51.100.7"},
		{"several header lines", trusted, "10.0.0.1:4000", []string{"6.6.6.6", "198.51.100.7, 10.2.2.2", "10.3.3.3"}, "198.51.100.7"},
		{"all trusted gives leftmost", trusted, "10.0.0.1:4000", []string{"10.9.9.9, 10.2.2.2"}, "10.9.9.9"},
		{"invalid entry stops at last valid hop", trusted, "10.0.0.1:4000", []string{"198.51.100.7, garbage, 10.2.2.2"}, "10.2.2.2"},
		{"invalid first entry gives the peer", trusted, "10.0.0.1:4000", []string{"unknown"}, "10.0.0.1"},
		{"empty entries skipped", trusted, "10.0.0.1:4000", []string{"198.51.100.7,, "}, "198.51.100.7"},
		{"ipv6 and ports", trusted, "[fd00::1]:4000", []string{"[2001:db8::7]:1234, 10.2.2.2:80"}, "2001:db8::7"},
		{"mapped addresses unmapped", trusted, "[::ffff:10.0.0.1]:4000", []string{"::ffff:198.51.100.7"}, "198.51.100.7"},
		{"zone dropped", nil, "[fe80::1%eth0]:4000", nil, "fe80::1"},
		{"unix socket", trusted, "@", []string{"1.1.1.1"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := http.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			got := tt.t.ClientIP(r)
			if tt.want == "" {
				if got.IsValid() {
					t.Fatalf("ClientIP = %v, want invalid", got)
				}
				return
			}
			if got != netip.MustParseAddr(tt.want) {
				t.Fatalf("ClientIP = %v, want %s", got, tt.want)
			}
		})
	}
}
