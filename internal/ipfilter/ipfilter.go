// Package ipfilter decides whether a client address may reach a service, from
// CIDR allow and deny lists.
//
// Rules are compiled once into sorted, merged address ranges per family, so
// Allowed is a binary search: a few hundred rules cost well under a
// microsecond and nothing is allocated. IPv4 and IPv6 are separate families;
// IPv4-mapped IPv6 addresses (::ffff:10.1.2.3) and prefixes (::ffff:10.0.0.0/104)
// are unmapped to IPv4 before matching, so ::/0 does not cover IPv4 clients.
package ipfilter

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Errors returned by ParsePrefix (wrapped with the offending text).
var (
	// ErrEmpty means the text was empty.
	ErrEmpty = errors.New("empty address or prefix")
	// ErrHostBits means a prefix had bits set after its length.
	ErrHostBits = errors.New("prefix has host bits set")
	// ErrZone means the address carried an IPv6 zone (fe80::1%eth0).
	ErrZone = errors.New("IPv6 zones are not allowed")
	// ErrSyntax means the text is neither an IP address nor a CIDR prefix.
	ErrSyntax = errors.New("not an IP address or CIDR prefix")
)

// ParsePrefix parses an allow or deny entry: a CIDR prefix ("10.0.0.0/8",
// "2001:db8::/32") or a single address ("192.168.1.7" is 192.168.1.7/32,
// "::1" is ::1/128). It refuses empty text, surrounding spaces, IPv6 zones,
// and prefixes with host bits set ("10.0.0.1/8": the error says to write
// 10.0.0.0/8). Errors wrap one of ErrEmpty, ErrHostBits, ErrZone or ErrSyntax.
func ParsePrefix(s string) (netip.Prefix, error) {
	switch {
	case s == "":
		return netip.Prefix{}, ErrEmpty
	case strings.TrimSpace(s) != s:
		return netip.Prefix{}, fmt.Errorf("%q: %w: remove the surrounding spaces", s, ErrSyntax)
	case strings.Contains(s, "%"):
		return netip.Prefix{}, fmt.Errorf("%q: %w", s, ErrZone)
	}
	addr, bits, hasBits := strings.Cut(s, "/")
	if !hasBits {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q: %w (want an address like 192.168.1.7 or a prefix like 10.0.0.0/8)", s, ErrSyntax)
		}
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	if _, err := netip.ParseAddr(addr); err != nil {
		return netip.Prefix{}, fmt.Errorf("%q: %w: %q is not an IP address", s, ErrSyntax, addr)
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q: %w: bad prefix length %q", s, ErrSyntax, bits)
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, fmt.Errorf("%q: %w: use %s", s, ErrHostBits, m)
	}
	return p, nil
}

// Rules is a compiled allow/deny list. It is immutable and safe for
// concurrent use. A nil *Rules allows every address.
type Rules struct {
	allow, deny ranges
	// restrict is true when the allow list was non-empty: then only its
	// members are admitted.
	restrict bool
}

// New compiles allow and deny lists. Deny wins over allow; a non-empty allow
// list admits only its members; with both lists empty every address is
// allowed. Invalid (zero) prefixes are ignored and prefixes are masked, so
// New never fails; validate user input with ParsePrefix first.
func New(allow, deny []netip.Prefix) *Rules {
	r := &Rules{allow: compile(allow), deny: compile(deny)}
	r.restrict = len(r.allow.v4)+len(r.allow.v6) > 0
	return r
}

// Allowed reports whether a may pass. A nil or empty Rules allows everything.
// An IPv6 zone is ignored; an invalid (zero) address passes only when there
// are no rules at all.
func (r *Rules) Allowed(a netip.Addr) bool {
	if r == nil || (!r.restrict && len(r.deny.v4)+len(r.deny.v6) == 0) {
		return true
	}
	if !a.IsValid() {
		return false
	}
	a = a.Unmap().WithZone("")
	if r.deny.contains(a) {
		return false
	}
	return !r.restrict || r.allow.contains(a)
}

// u128 is an address as a 128-bit number (IPv4 uses only lo).
type u128 struct{ hi, lo uint64 }

func (x u128) cmp(y u128) int {
	if c := cmp.Compare(x.hi, y.hi); c != 0 {
		return c
	}
	return cmp.Compare(x.lo, y.lo)
}

// next returns x+1 and whether it did not overflow.
func (x u128) next() (u128, bool) {
	lo := x.lo + 1
	hi := x.hi
	if lo == 0 {
		hi++
		if hi == 0 {
			return u128{}, false
		}
	}
	return u128{hi, lo}, true
}

// span is an inclusive address range.
type span struct{ first, last u128 }

// ranges holds sorted, disjoint, non-adjacent spans per family.
type ranges struct{ v4, v6 []span }

func compile(ps []netip.Prefix) ranges {
	var rs ranges
	for _, p := range ps {
		if !p.IsValid() {
			continue
		}
		p = unmapPrefix(p.Masked())
		s := toSpan(p)
		if p.Addr().Is4() {
			rs.v4 = append(rs.v4, s)
		} else {
			rs.v6 = append(rs.v6, s)
		}
	}
	rs.v4, rs.v6 = merge(rs.v4), merge(rs.v6)
	return rs
}

// unmapPrefix turns ::ffff:a.b.c.d/n (n >= 96) into a.b.c.d/(n-96). A mapped
// prefix shorter than /96 also covers non-mapped IPv6 and stays IPv6.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p
}

func toSpan(p netip.Prefix) span {
	first := toU128(p.Addr())
	hostBits := uint(p.Addr().BitLen() - p.Bits())
	last := first
	switch {
	case hostBits >= 64:
		last.lo = ^uint64(0)
		last.hi |= (uint64(1) << (hostBits - 64)) - 1 // a shift by 64 gives 0, so /0 sets every bit
	case hostBits > 0:
		last.lo |= (uint64(1) << hostBits) - 1
	}
	return span{first, last}
}

func toU128(a netip.Addr) u128 {
	if a.Is4() {
		b := a.As4()
		return u128{lo: uint64(binary.BigEndian.Uint32(b[:]))}
	}
	b := a.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

func merge(ss []span) []span {
	if len(ss) == 0 {
		return nil
	}
	slices.SortFunc(ss, func(x, y span) int { return x.first.cmp(y.first) })
	out := ss[:1]
	for _, s := range ss[1:] {
		last := &out[len(out)-1]
		after, ok := last.last.next()
		if !ok || s.first.cmp(after) <= 0 { // overlapping or adjacent
			if s.last.cmp(last.last) > 0 {
				last.last = s.last
			}
			continue
		}
		out = append(out, s)
	}
	return slices.Clip(out)
}

func (rs *ranges) contains(a netip.Addr) bool {
	ss := rs.v6
	if a.Is4() {
		ss = rs.v4
	}
	x := toU128(a)
	// The first span whose last address is >= x is the only candidate.
	lo, hi := 0, len(ss)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if ss[m].last.cmp(x) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo < len(ss) && ss[lo].first.cmp(x) <= 0
}
