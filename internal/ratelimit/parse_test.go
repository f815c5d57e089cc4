package ratelimit

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	tests := []struct {
		in   string
		want Rate
		str  string // canonical String(); "" means in is canonical
	}{
		{"100/s", Rate{100, time.Second}, ""},
		{"1/sec", Rate{1, time.Second}, "1/s"},
		{"7/second", Rate{7, time.Second}, "7/s"},
		{"6000/min", Rate{6000, time.Minute}, ""},
		{"5/m", Rate{5, time.Minute}, "5/min"},
		{"5/minute", Rate{5, time.Minute}, "5/min"},
		{"10/hour", Rate{10, time.Hour}, ""},
		{"10/h", Rate{10, time.Hour}, "10/hour"},
		{" 3/s\t", Rate{3, time.Second}, "3/s"},
		{"007/s", Rate{7, time.Second}, "7/s"},
		{"1000000000/s", Rate{MaxRateN, time.Second}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRate(tt.in)
			if err != nil {
				t.Fatalf("ParseRate(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParseRate(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			str := tt.str
			if str == "" {
				str = tt.in
			}
			if got.String() != str {
				t.Errorf("String() = %q, want %q", got.String(), str)
			}
		})
	}
}

func TestParseRateErrors(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", `invalid rate "": empty; for example "100/s" or "6000/min"`},
		{"100", `invalid rate "100": missing "/" between count and unit; for example "100/s" or "6000/min"`},
		{"/s", `invalid rate "/s": missing count before "/"; for example "100/s" or "6000/min"`},
		{"100/", `invalid rate "100/": missing unit after "/"; for example "100/s" or "6000/min"`},
		{"0/s", `invalid rate "0/s": count must be at least 1; for example "100/s" or "6000/min"`},
		{"-1/s", `invalid rate "-1/s": count "-1" is not a whole number; for example "100/s" or "6000/min"`},
		{"+1/s", `invalid rate "+1/s": count "+1" is not a whole number; for example "100/s" or "6000/min"`},
		{"1.5/s", `invalid rate "1.5/s": count "1.5" is not a whole number; for example "100/s" or "6000/min"`},
		{"1e3/s", `invalid rate "1e3/s": count "1e3" is not a whole number; for example "100/s" or "6000/min"`},
		{"1 000/s", `invalid rate "1 000/s": count "1 000" is not a whole number; for example "100/s" or "6000/min"`},
		{"1000000001/s", `invalid rate "1000000001/s": count 1000000001 is more than the maximum 1000000000; for example "100/s" or "6000/min"`},
		{"99999999999999999999/s", `invalid rate "99999999999999999999/s": count 99999999999999999999 is more than the maximum 1000000000; for example "100/s" or "6000/min"`},
		{"100/day", `invalid rate "100/day": unknown unit "day" (want s, min or hour); for example "100/s" or "6000/min"`},
		{"100/S", `invalid rate "100/S": unknown unit "S" (want s, min or hour); for example "100/s" or "6000/min"`},
		{"100/ s", `invalid rate "100/ s": unknown unit " s" (want s, min or hour); for example "100/s" or "6000/min"`},
		{"100/s/s", `invalid rate "100/s/s": unknown unit "s/s" (want s, min or hour); for example "100/s" or "6000/min"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ParseRate(tt.in)
			if err == nil {
				t.Fatalf("ParseRate(%q) = %+v, want an error", tt.in, r)
			}
			if !errors.Is(err, ErrInvalidRate) {
				t.Errorf("error %v does not wrap ErrInvalidRate", err)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}

func TestParseQuota(t *testing.T) {
	tests := []struct {
		in   string
		want Quota
	}{
		{"1000/day", Quota{1000, Day}},
		{"1000000/month", Quota{1000000, Month}},
		{"1/day", Quota{1, Day}},
		{"1000000000000/month", Quota{MaxQuotaN, Month}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseQuota(tt.in)
			if err != nil {
				t.Fatalf("ParseQuota(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParseQuota(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			if got.String() != strings.TrimSpace(tt.in) {
				t.Errorf("String() = %q, want %q", got.String(), tt.in)
			}
		})
	}
}

func TestParseQuotaErrors(t *testing.T) {
	const ex = `; for example "1000/day" or "1000000/month"`
	tests := []struct {
		in, want string
	}{
		{"", `invalid quota "": empty` + ex},
		{"1000", `invalid quota "1000": missing "/" between count and unit` + ex},
		{"0/day", `invalid quota "0/day": count must be at least 1` + ex},
		{"1000000000001/day", `invalid quota "1000000000001/day": count 1000000000001 is more than the maximum 1000000000000` + ex},
		{"10/week", `invalid quota "10/week": unknown period "week" (want day or month)` + ex},
		{"10/s", `invalid quota "10/s": unknown period "s" (want day or month)` + ex},
		{"ten/day", `invalid quota "ten/day": count "ten" is not a whole number` + ex},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			q, err := ParseQuota(tt.in)
			if err == nil {
				t.Fatalf("ParseQuota(%q) = %+v, want an error", tt.in, q)
			}
			if !errors.Is(err, ErrInvalidQuota) {
				t.Errorf("error %v does not wrap ErrInvalidQuota", err)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}

func TestRateStringOdd(t *testing.T) {
	tests := []struct {
		r    Rate
		want string
	}{
		{Rate{}, ""},
		{Rate{5, 90 * time.Second}, "5/1m30s"},
	}
	for _, tt := range tests {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.r, got, tt.want)
		}
	}
	if got := (Quota{}).String(); got != "" {
		t.Errorf("zero Quota String() = %q, want \"\"", got)
	}
}

func TestQuotaWindow(t *testing.T) {
	utc := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		name   string
		q      Quota
		at     string
		id     string
		end    string
		window time.Duration
	}{
		{"day middle", Quota{1, Day}, "2026-11-27T12:00:00Z", "2026-11-27", "2026-11-28T00:00:00Z", 24 * time.Hour},
		{"day first instant", Quota{1, Day}, "2026-11-27T00:00:00Z", "2026-11-27", "2026-11-28T00:00:00Z", 24 * time.Hour},
		{"day last instant", Quota{1, Day}, "2026-11-27T23:59:59.999999999Z", "2026-11-27", "2026-11-28T00:00:00Z", 24 * time.Hour},
		{"day end of month", Quota{1, Day}, "2026-11-30T23:00:00Z", "2026-11-30", "2026-12-01T00:00:00Z", 24 * time.Hour},
		{"day new year's eve", Quota{1, Day}, "2026-12-31T23:59:59Z", "2026-12-31", "2027-01-01T00:00:00Z", 24 * time.Hour},
		{"day leap", Quota{1, Day}, "2028-02-29T10:00:00Z", "2028-02-29", "2028-03-01T00:00:00Z", 24 * time.Hour},
		{"day non-UTC input", Quota{1, Day}, "2026-11-27T23:30:00-05:00", "2026-11-28", "2026-11-29T00:00:00Z", 24 * time.Hour},
		{"month", Quota{1, Month}, "2026-11-27T12:00:00Z", "2026-11", "2026-12-01T00:00:00Z", 30 * 24 * time.Hour},
		{"month first instant", Quota{1, Month}, "2026-11-01T00:00:00Z", "2026-11", "2026-12-01T00:00:00Z", 30 * 24 * time.Hour},
		{"month Dec to Jan", Quota{1, Month}, "2026-12-31T23:59:59.999Z", "2026-12", "2027-01-01T00:00:00Z", 31 * 24 * time.Hour},
		{"month Jan", Quota{1, Month}, "2027-01-01T00:00:00Z", "2027-01", "2027-02-01T00:00:00Z", 31 * 24 * time.Hour},
		{"month leap Feb", Quota{1, Month}, "2028-02-29T23:59:59Z", "2028-02", "2028-03-01T00:00:00Z", 29 * 24 * time.Hour},
		{"month plain Feb", Quota{1, Month}, "2027-02-28T23:59:59Z", "2027-02", "2027-03-01T00:00:00Z", 28 * 24 * time.Hour},
		{"month non-UTC input", Quota{1, Month}, "2026-11-30T20:00:00-08:00", "2026-12", "2027-01-01T00:00:00Z", 31 * 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, end := tt.q.Window(utc(tt.at))
			if id != tt.id {
				t.Errorf("id = %q, want %q", id, tt.id)
			}
			if !end.Equal(utc(tt.end)) {
				t.Errorf("end = %v, want %s", end, tt.end)
			}
			if end.Location() != time.UTC {
				t.Errorf("end is in %v, want UTC", end.Location())
			}
			start, end2 := tt.q.bounds(utc(tt.at))
			if got := end2.Sub(start); got != tt.window {
				t.Errorf("window length = %v, want %v", got, tt.window)
			}
		})
	}
}
