package ratelimit

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"100/s", "6000/min", "10/hour", "1/sec", "5/m", "3/h", " 7/second ", "0/s", "1000000001/s", "-1/s", "1/", "/s", "", "1/s/s", "99999999999999999999/min"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRate(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidRate) || !strings.Contains(err.Error(), `for example "100/s"`) {
				t.Fatalf("ParseRate(%q) error %q lacks the class or the example", s, err)
			}
			if r != (Rate{}) {
				t.Fatalf("ParseRate(%q) returned %+v with an error", s, r)
			}
			return
		}
		if r.N < 1 || r.N > MaxRateN {
			t.Fatalf("ParseRate(%q).N = %d out of range", s, r.N)
		}
		if r.Per != time.Second && r.Per != time.Minute && r.Per != time.Hour {
			t.Fatalf("ParseRate(%q).Per = %v", s, r.Per)
		}
		back, err := ParseRate(r.String())
		if err != nil || back != r {
			t.Fatalf("ParseRate(%q) = %+v; its String %q parses to %+v, %v", s, r, r.String(), back, err)
		}
		// Any valid rate works in a limiter.
		d := NewLimiter().Allow("k", r, 0, t0)
		if !d.Allowed || d.Limit != r.N || d.Remaining != r.N-1 || d.Reset <= 0 {
			t.Fatalf("first request at %v: %+v", r, d)
		}
	})
}

func FuzzParseQuota(f *testing.F) {
	for _, s := range []string{"1000/day", "1000000/month", "1/day", "1000000000000/month", "0/day", "1000000000001/day", "10/week", "10/Day", "day", "/"} {
		f.Add(s, int64(1_795_000_000))
	}
	f.Add("5/month", int64(-62135596800)) // year 1
	f.Add("5/day", int64(253402300799))   // 9999-12-31T23:59:59Z
	f.Fuzz(func(t *testing.T, s string, unix int64) {
		q, err := ParseQuota(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidQuota) || !strings.Contains(err.Error(), `for example "1000/day"`) {
				t.Fatalf("ParseQuota(%q) error %q lacks the class or the example", s, err)
			}
			if q != (Quota{}) {
				t.Fatalf("ParseQuota(%q) returned %+v with an error", s, q)
			}
			return
		}
		if q.N < 1 || q.N > MaxQuotaN || (q.Period != Day && q.Period != Month) {
			t.Fatalf("ParseQuota(%q) = %+v out of range", s, q)
		}
		back, err := ParseQuota(q.String())
		if err != nil || back != q {
			t.Fatalf("ParseQuota(%q) = %+v; its String %q parses to %+v, %v", s, q, q.String(), back, err)
		}
		// The window holds the instant, within years 1..9999.
		at := time.Unix(unix%253402300800, 0)
		if at.Year() < 1 {
			return
		}
		id, end := q.Window(at)
		start, end2 := q.bounds(at)
		if !end.Equal(end2) || at.Before(start) || !at.Before(end) {
			t.Fatalf("%v window at %v is [%v, %v) (end %v)", q, at, start, end2, end)
		}
		layout := "2006-01-02"
		if q.Period == Month {
			layout = "2006-01"
		}
		if parsed, err := time.Parse(layout, id); err != nil || !parsed.Equal(start) {
			t.Fatalf("%v window id %q at %v does not name its start %v (%v)", q, id, at, start, err)
		}
	})
}
