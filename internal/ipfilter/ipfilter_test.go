package ipfilter

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
)

func TestParsePrefix(t *testing.T) {
	tests := []struct {
		in   string
		want string
		err  error
		msg  string // substring of the error message
	}{
		{in: "10.0.0.0/8", want: "10.0.0.0/8"},
		{in: "192.168.1.7", want: "192.168.1.7/32"},
		{in: "::1", want: "::1/128"},
		{in: "2001:db8::/32", want: "2001:db8::/32"},
		{in: "0.0.0.0/0", want: "0.0.0.0/0"},
		{in: "::/0", want: "::/0"},
		{in: "::ffff:10.0.0.0/104", want: "::ffff:10.0.0.0/104"},
		{in: "", err: ErrEmpty},
		{in: "10.0.0.1/8", err: ErrHostBits, msg: "use 10.0.0.0/8"},
		{in: "2001:db8::1/32", err: ErrHostBits, msg: "use 2001:db8::/32"},
		{in: "fe80::1%eth0", err: ErrZone},
		{in: "fe80::%eth0/64", err: ErrZone},
		{in: " 10.0.0.0/8", err: ErrSyntax, msg: "spaces"},
		{in: "10.0.0.0/8 ", err: ErrSyntax},
		{in: "10.0.0.0/33", err: ErrSyntax, msg: `bad prefix length "33"`},
		{in: "10.0.0.0/", err: ErrSyntax},
		{in: "10.0.0.0/-1", err: ErrSyntax},
		{in: "10.0.0.0/08", err: ErrSyntax},
		{in: "10.0.0/8", err: ErrSyntax, msg: `"10.0.0" is not an IP address`},
		{in: "example.com", err: ErrSyntax},
		{in: "1.2.3.4:80", err: ErrSyntax},
		{in: "/8", err: ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			p, err := ParsePrefix(tt.in)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("ParsePrefix(%q) = %v, %v; want error %v", tt.in, p, err, tt.err)
				}
				if tt.msg != "" && !contains(err.Error(), tt.msg) {
					t.Fatalf("error %q does not mention %q", err, tt.msg)
				}
				return
			}
			if err != nil || p.String() != tt.want {
				t.Fatalf("ParsePrefix(%q) = %v, %v; want %s", tt.in, p, err, tt.want)
			}
		})
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func prefixes(t testing.TB, ss ...string) []netip.Prefix {
	t.Helper()
	var ps []netip.Prefix
	for _, s := range ss {
		p, err := ParsePrefix(s)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	return ps
}

func TestAllowed(t *testing.T) {
	tests := []struct {
		name        string
		allow, deny []string
		yes, no     []string
	}{
		{name: "empty allows all", yes: []string{"1.2.3.4", "::1", "::ffff:1.2.3.4"}},
		{name: "allow list only", allow: []string{"10.0.0.0/8", "192.168.1.7"},
			yes: []string{"10.0.0.0", "10.255.255.255", "192.168.1.7", "::ffff:10.1.2.3"},
			no:  []string{"11.0.0.0", "9.255.255.255", "192.168.1.8", "::1", "::a00:1"}},
		{name: "deny wins over allow", allow: []string{"10.0.0.0/8"}, deny: []string{"10.9.0.0/16"},
			yes: []string{"10.8.255.255", "10.10.0.0"},
			no:  []string{"10.9.0.0", "10.9.255.255", "::ffff:10.9.1.1", "8.8.8.8"}},
		{name: "deny list only", deny: []string{"10.9.0.0/16", "2001:db8::/32"},
			yes: []string{"10.8.0.1", "2001:db9::1", "::1"},
			no:  []string{"10.9.3.4", "2001:db8:ffff::1"}},
		{name: "ipv6 everything does not cover ipv4", allow: []string{"::/0"},
			yes: []string{"::1", "2001:db8::1"}, no: []string{"1.2.3.4", "::ffff:1.2.3.4"}},
		{name: "ipv4 everything", allow: []string{"0.0.0.0/0"}, deny: []string{"127.0.0.1"},
			yes: []string{"1.2.3.4", "255.255.255.255", "0.0.0.0"}, no: []string{"127.0.0.1", "::1"}},
		{name: "mapped prefix is unmapped", deny: []string{"::ffff:10.0.0.0/104"},
			yes: []string{"11.0.0.1"}, no: []string{"10.1.1.1", "::ffff:10.1.1.1"}},
		{name: "zones ignored", allow: []string{"fe80::/10"},
			yes: []string{"fe80::1%eth0"}, no: []string{"fe00::1"}},
		{name: "adjacent and overlapping merge", allow: []string{"10.0.0.0/9", "10.128.0.0/9", "10.1.0.0/16", "255.255.255.255"},
			yes: []string{"10.0.0.0", "10.127.255.255", "10.128.0.0", "10.255.255.255", "255.255.255.255"},
			no:  []string{"11.0.0.0", "9.255.255.255", "255.255.255.254"}},
		{name: "ipv6 edges", allow: []string{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127", "::/128", "0:0:0:1::/64"},
			yes: []string{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::", "0:0:0:1::ffff"},
			no:  []string{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffd", "::1", "0:0:0:2::"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New(prefixes(t, tt.allow...), prefixes(t, tt.deny...))
			for _, s := range tt.yes {
				if !r.Allowed(netip.MustParseAddr(s)) {
					t.Errorf("Allowed(%s) = false, want true", s)
				}
			}
			for _, s := range tt.no {
				if r.Allowed(netip.MustParseAddr(s)) {
					t.Errorf("Allowed(%s) = true, want false", s)
				}
			}
		})
	}
}

func TestNilAndInvalid(t *testing.T) {
	var r *Rules
	if !r.Allowed(netip.MustParseAddr("1.2.3.4")) || !r.Allowed(netip.Addr{}) {
		t.Fatal("nil Rules must allow everything")
	}
	if !New(nil, nil).Allowed(netip.Addr{}) {
		t.Fatal("empty Rules must allow everything")
	}
	if New(nil, prefixes(t, "10.0.0.0/8")).Allowed(netip.Addr{}) {
		t.Fatal("an invalid address passed a deny list")
	}
	// Zero prefixes are ignored; unmasked ones are masked.
	r = New([]netip.Prefix{{}, netip.MustParsePrefix("10.1.2.3/8")}, nil)
	if !r.Allowed(netip.MustParseAddr("10.200.0.1")) || r.Allowed(netip.MustParseAddr("11.0.0.1")) {
		t.Fatal("unmasked prefix not masked")
	}
}

// TestAgainstNaive compares Allowed with a linear scan over random rules.
func TestAgainstNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	randAddr := func(v6 bool) netip.Addr {
		if v6 {
			var b [16]byte
			for i := range b {
				b[i] = byte(rng.IntN(4)) // small alphabet so rules overlap
			}
			return netip.AddrFrom16(b)
		}
		return netip.AddrFrom4([4]byte{byte(rng.IntN(4)), byte(rng.IntN(4)), byte(rng.IntN(256)), byte(rng.IntN(256))})
	}
	randPrefixes := func(n int) []netip.Prefix {
		var ps []netip.Prefix
		for range n {
			a := randAddr(rng.IntN(2) == 0)
			ps = append(ps, netip.PrefixFrom(a, rng.IntN(a.BitLen()+1)).Masked())
		}
		return ps
	}
	naive := func(ps []netip.Prefix, a netip.Addr) bool {
		for _, p := range ps {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	for round := range 200 {
		allow, deny := randPrefixes(rng.IntN(8)), randPrefixes(rng.IntN(8))
		r := New(allow, deny)
		for range 200 {
			a := randAddr(rng.IntN(2) == 0)
			want := !naive(deny, a) && (len(allow) == 0 || naive(allow, a))
			if got := r.Allowed(a); got != want {
				t.Fatalf("round %d: Allowed(%s) = %v, want %v\nallow %v\ndeny %v", round, a, got, want, allow, deny)
			}
		}
	}
}

func BenchmarkAllowed(b *testing.B) {
	var allow, deny []netip.Prefix
	for i := range 300 {
		allow = append(allow, netip.MustParsePrefix(fmt.Sprintf("10.%d.%d.0/24", i/256, i%256)))
		allow = append(allow, netip.MustParsePrefix(fmt.Sprintf("2001:db8:%x::/48", i)))
		deny = append(deny, netip.MustParsePrefix(fmt.Sprintf("10.%d.%d.128/25", i/256, i%256)))
	}
	r := New(allow, deny)
	addrs := []netip.Addr{
		netip.MustParseAddr("10.0.77.5"), netip.MustParseAddr("10.1.20.200"),
		netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8:99::1"),
		netip.MustParseAddr("::ffff:10.0.5.1"),
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		r.Allowed(addrs[i%len(addrs)])
	}
}
