package manifest

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ByteSize is a number of bytes. In a manifest it is a string: a whole
// number followed by an optional unit, with no space: "64MiB", "512KiB",
// "1GiB", "1048576", "10MB" (10*1000*1000), "2kB". Units are B, KiB, MiB,
// GiB, TiB (powers of 1024) and kB (or KB), MB, GB, TB (powers of 1000).
type ByteSize uint64

// Common sizes.
const (
	KiB ByteSize = 1 << 10
	MiB ByteSize = 1 << 20
	GiB ByteSize = 1 << 30
	TiB ByteSize = 1 << 40
)

// sizeUnits lists units in the order String prefers them.
var sizeUnits = []struct {
	name string
	size ByteSize
}{
	{"TiB", TiB}, {"GiB", GiB}, {"MiB", MiB}, {"KiB", KiB},
	{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"kB", 1e3},
}

// sizeAliases are units ParseByteSize accepts besides sizeUnits.
var sizeAliases = map[string]ByteSize{"": 1, "B": 1, "KB": 1e3}

// ParseByteSize parses a size like "64MiB" (see ByteSize). The error says
// how to write the size instead.
func ParseByteSize(s string) (ByteSize, error) {
	digits := 0
	for digits < len(s) && s[digits] >= '0' && s[digits] <= '9' {
		digits++
	}
	num, unit := s[:digits], s[digits:]
	mult, ok := sizeAliases[unit]
	if !ok {
		for _, u := range sizeUnits {
			if u.name == unit {
				mult, ok = u.size, true
				break
			}
		}
	}
	if num == "" || !ok {
		return 0, fmt.Errorf("%q is not a size; %s", s, sizeHint(s))
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil || n > uint64(^ByteSize(0)/mult) {
		return 0, fmt.Errorf("%q is too large a size", s)
	}
	return ByteSize(n) * mult, nil
}

// sizeHint suggests how to write what the user probably meant by s.
func sizeHint(s string) string {
	t := strings.ReplaceAll(strings.TrimSpace(s), " ", "")
	digits := 0
	for digits < len(t) && t[digits] >= '0' && t[digits] <= '9' {
		digits++
	}
	if digits > 0 && digits < len(t) {
		num, unit := t[:digits], t[digits:]
		for _, u := range sizeUnits {
			if strings.EqualFold(u.name, unit) || strings.EqualFold(u.name[:1], unit) {
				return fmt.Sprintf("write it like %q (whole number, no space; KiB, MiB, GiB are powers of 1024)", num+strings.ToUpper(u.name[:1])+"iB")
			}
		}
	}
	return `write it like "64MiB" (whole number, no space; units B, KiB, MiB, GiB, or kB, MB, GB)`
}

// String prints the size with the unit that divides it exactly into the
// smallest number, preferring powers of 1024 on a tie: "64MiB", "10MB",
// "1000KiB", "1023B", "0B". ParseByteSize
// reads it back to the same value.
func (b ByteSize) String() string {
	n, unit := b, "B"
	for _, u := range sizeUnits {
		if b != 0 && b%u.size == 0 && b/u.size < n {
			n, unit = b/u.size, u.name
		}
	}
	return strconv.FormatUint(uint64(n), 10) + unit
}

// MarshalText writes the size as String does.
func (b ByteSize) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// UnmarshalText reads a size as ParseByteSize does.
func (b *ByteSize) UnmarshalText(text []byte) error {
	v, err := ParseByteSize(string(text))
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// Duration is a span of time. In a manifest it is a string in Go's
// duration syntax: "10s", "1m30s", "250ms", "5m".
type Duration time.Duration

// ParseDuration parses a duration like "10s" (see Duration). The error says
// how to write the duration instead.
func ParseDuration(s string) (Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		hint := `write it like "30s", "1m30s" or "250ms"`
		if _, numErr := strconv.ParseUint(s, 10, 64); numErr == nil {
			hint = fmt.Sprintf("add a unit, like %q", s+"s")
		}
		return 0, fmt.Errorf("%q is not a duration; %s", s, hint)
	}
	return Duration(d), nil
}

// String prints the duration in Go's syntax without zero trailing units:
// "5m", "1h30m", "1m30s", "250ms". ParseDuration reads it back.
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// MarshalText writes the duration as String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a duration as ParseDuration does.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := ParseDuration(string(text))
	if err != nil {
		return err
	}
	*d = v
	return nil
}
