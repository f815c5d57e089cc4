package ipfilter

import (
	"net/netip"
	"testing"
)

// FuzzParsePrefix checks that ParsePrefix never panics, that what it accepts
// is a valid masked prefix that round-trips, and that it agrees with
// net/netip on which texts are addresses or prefixes.
func FuzzParsePrefix(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "192.168.1.7", "::1", "2001:db8::/32", "10.0.0.1/8",
		"fe80::1%eth0", "", " 1.2.3.4", "::ffff:1.2.3.4/128", "1.2.3.4/0", "1.2.3.4/32"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePrefix(s)
		if err != nil {
			if p.IsValid() {
				t.Fatalf("error %v with a valid prefix %v", err, p)
			}
			return
		}
		if !p.IsValid() || p.Masked() != p || p.Addr().Zone() != "" {
			t.Fatalf("ParsePrefix(%q) = %v: not a valid masked prefix", s, p)
		}
		q, err := ParsePrefix(p.String())
		if err != nil || q != p {
			t.Fatalf("round trip of %q: %v -> %v, %v", s, p, q, err)
		}
		if a, err := netip.ParseAddr(s); err == nil && netip.PrefixFrom(a, a.BitLen()) != p {
			t.Fatalf("address %q parsed as %v", s, p)
		}
		if np, err := netip.ParsePrefix(s); err == nil && np != p {
			t.Fatalf("prefix %q parsed as %v, netip says %v", s, p, np)
		}
		New([]netip.Prefix{p}, []netip.Prefix{p}).Allowed(p.Addr())
	})
}
