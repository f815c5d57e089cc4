package manifest

import (
	"errors"
	"math"
	"path"
	"strings"
	"testing"
	"time"
)

func TestParseByteSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ByteSize
		err  string // part of the error; "" when valid
	}{
		{"0", 0, ""},
		{"1048576", MiB, ""},
		{"1B", 1, ""},
		{"512KiB", 512 * KiB, ""},
		{"64MiB", 64 * MiB, ""},
		{"1GiB", GiB, ""},
		{"2TiB", 2 * TiB, ""},
		{"2kB", 2000, ""},
		{"2KB", 2000, ""},
		{"10MB", 10_000_000, ""},
		{"3GB", 3e9, ""},
		{"1TB", 1e12, ""},
		{"007MiB", 7 * MiB, ""},
		{"18446744073709551615", math.MaxUint64, ""},
		{"18446744073709551616", 0, "too large"},
		{"16777216TiB", 0, "too large"},
		{"16777215TiB", 16777215 * TiB, ""},
		{"", 0, "not a size"},
		{"MiB", 0, "not a size"},
		{"64 MB", 0, `write it like "64MiB"`},
		{"64mib", 0, `write it like "64MiB"`},
		{"64M", 0, `write it like "64MiB"`},
		{"64k", 0, `write it like "64KiB"`},
		{"1.5GiB", 0, "not a size"},
		{"-1", 0, "not a size"},
		{"+1", 0, "not a size"},
		{" 1", 0, "not a size"},
		{"1 ", 0, "not a size"},
		{"1iB", 0, "not a size"},
		{"0x10", 0, "not a size"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseByteSize(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseByteSize(%q) = %v, %v; want error containing %q", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseByteSize(%q) = %v, %v; want %d", tc.in, uint64(got), err, uint64(tc.want))
			}
		})
	}
}

func TestByteSizeString(t *testing.T) {
	for _, tc := range []struct {
		in   ByteSize
		want string
	}{
		{0, "0B"},
		{1, "1B"},
		{1000, "1kB"},
		{1023, "1023B"},
		{1024, "1KiB"},
		{1536, "1536B"},
		{64 * MiB, "64MiB"},
		{1024 * KiB, "1MiB"},
		{10_000_000, "10MB"},
		{1024000, "1000KiB"},
		{GiB, "1GiB"},
		{5 * TiB, "5TiB"},
		{3e12, "3TB"},
		{math.MaxUint64, "18446744073709551615B"},
	} {
		if got := tc.in.String(); got != tc.want {
			t.Errorf("ByteSize(%d).String() = %q, want %q", uint64(tc.in), got, tc.want)
		}
		back, err := ParseByteSize(tc.in.String())
		if err != nil || back != tc.in {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", tc.in.String(), uint64(back), err, uint64(tc.in))
		}
	}
}

func TestByteSizeText(t *testing.T) {
	var b ByteSize
	if err := b.UnmarshalText([]byte("2MiB")); err != nil || b != 2*MiB {
		t.Fatalf("UnmarshalText = %v, %v", b, err)
	}
	if err := b.UnmarshalText([]byte("2 MiB")); err == nil {
		t.Fatal("UnmarshalText accepted a space")
	}
	if text, _ := b.MarshalText(); string(text) != "2MiB" {
		t.Errorf("MarshalText = %q", text)
	}
}

func TestDuration(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      string
	}{
		{in: "10s", want: "10s"},
		{in: "1m30s", want: "1m30s"},
		{in: "90s", want: "1m30s"},
		{in: "250ms", want: "250ms"},
		{in: "5m", want: "5m"},
		{in: "1h", want: "1h"},
		{in: "1h0m1s", want: "1h0m1s"},
		{in: "1h30m", want: "1h30m"},
		{in: "0", want: "0s"},
		{in: "-5m", want: "-5m"},
		{in: "1.5s", want: "1.5s"},
		{in: "30", err: `add a unit, like "30s"`},
		{in: "5 minutes", err: `write it like "30s"`},
		{in: "", err: "not a duration"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			d, err := ParseDuration(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseDuration(%q) = %v, %v; want error containing %q", tc.in, d, err, tc.err)
				}
				return
			}
			if err != nil || d.String() != tc.want {
				t.Fatalf("ParseDuration(%q) = %v, %v; want %s", tc.in, d, err, tc.want)
			}
			back, err := ParseDuration(d.String())
			if err != nil || back != d {
				t.Errorf("round trip of %s = %v, %v", d, back, err)
			}
		})
	}
	var d Duration
	if err := d.UnmarshalText([]byte("2s")); err != nil || time.Duration(d) != 2*time.Second {
		t.Errorf("UnmarshalText = %v, %v", d, err)
	}
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, name string
		want          bool
	}{
		{"main.c", "main.c", true},
		{"main.c", "src/main.c", false},
		{"*.c", "main.c", true},
		{"*.c", "src/main.c", false},
		{"src/*.c", "src/main.c", true},
		{"src", "src/a/b/main.c", true},
		{"src/", "src/main.c", true},
		{"sr", "src/main.c", false},
		{"**/*.c", "main.c", true},
		{"**/*.c", "src/a/main.c", true},
		{"src/**", "src/a/b", true},
		{"src/**/x.go", "src/x.go", true},
		{"src/**/x.go", "src/a/b/x.go", true},
		{"src/**/x.go", "lib/x.go", false},
		{"[a-c]?.txt", "b1.txt", true},
		{"[a-c]?.txt", "d1.txt", false},
		{`\*.txt`, "*.txt", true},
		{`\*.txt`, "a.txt", false},
	} {
		got, err := Match(tc.pattern, tc.name)
		if err != nil || got != tc.want {
			t.Errorf("Match(%q, %q) = %v, %v; want %v", tc.pattern, tc.name, got, err, tc.want)
		}
	}
	if _, err := Match("a[", "a"); !errors.Is(err, path.ErrBadPattern) {
		t.Errorf("Match(bad) error = %v; want ErrBadPattern", err)
	}
}

func TestMatchesUnder(t *testing.T) {
	for _, tc := range []struct {
		pattern, dir string
		want         bool
	}{
		{"src/*.c", ".", true},
		{"src/*.c", "src", true},
		{"src/*.c", "lib", false},
		{"src/*.c", "src/a", false},
		{"src", "src/a/b", true},
		{"*.c", "src", false},
		{"**/*.c", "a/b/c", true},
		{"s*/x/*.go", "src/x", true},
		{"s*/x/*.go", "src/y", false},
		{"a[", "a", false},
	} {
		if got := MatchesUnder(tc.pattern, tc.dir); got != tc.want {
			t.Errorf("MatchesUnder(%q, %q) = %v, want %v", tc.pattern, tc.dir, got, tc.want)
		}
	}
}
