package ratelimit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Errors returned by the parsers, wrapped with the offending text and an
// example of valid syntax.
var (
	// ErrInvalidRate reports a rate that is not "N/s", "N/min" or "N/hour".
	ErrInvalidRate = errors.New("invalid rate")
	// ErrInvalidQuota reports a quota that is not "N/day" or "N/month".
	ErrInvalidQuota = errors.New("invalid quota")
)

// Bounds on N, chosen so that every arithmetic step stays exact in int64 and
// float64, and generous beyond any real plan.
const (
	// MaxRateN is the largest N a Rate may have.
	MaxRateN = 1_000_000_000
	// MaxQuotaN is the largest N a Quota may have.
	MaxQuotaN = 1_000_000_000_000
)

// Rate is N requests per Per. The zero Rate limits nothing.
type Rate struct {
	N   int64
	Per time.Duration
}

// rateUnits maps every accepted unit spelling to its period.
var rateUnits = map[string]time.Duration{
	"s": time.Second, "sec": time.Second, "second": time.Second,
	"m": time.Minute, "min": time.Minute, "minute": time.Minute,
	"h": time.Hour, "hour": time.Hour,
}

// ParseRate parses "N/unit": N is 1..1e9 in decimal digits, unit is s, sec,
// second, m, min, minute, h or hour. Surrounding spaces are ignored. Errors
// wrap ErrInvalidRate, name what is wrong and show a valid example.
func ParseRate(s string) (Rate, error) {
	n, unit, err := splitLimit(s, MaxRateN)
	if err == nil {
		per, ok := rateUnits[unit]
		if ok {
			return Rate{N: n, Per: per}, nil
		}
		err = fmt.Errorf("unknown unit %q (want s, min or hour)", unit)
	}
	return Rate{}, fmt.Errorf("%w %q: %v; for example \"100/s\" or \"6000/min\"", ErrInvalidRate, s, err)
}

// String returns the canonical form, which ParseRate accepts: "100/s",
// "6000/min", "10/hour". The zero Rate is ""; a Per that is not a second,
// minute or hour is written as a Go duration ("5/1m30s"), which ParseRate
// rejects.
func (r Rate) String() string {
	if r == (Rate{}) {
		return ""
	}
	var unit string
	switch r.Per {
	case time.Second:
		unit = "s"
	case time.Minute:
		unit = "min"
	case time.Hour:
		unit = "hour"
	default:
		unit = r.Per.String()
	}
	return strconv.FormatInt(r.N, 10) + "/" + unit
}

// Period is the calendar period of a Quota.
type Period int

// The calendar periods, counted in UTC.
const (
	Day Period = iota + 1
	Month
)

// String returns "day" or "month" ("" for anything else).
func (p Period) String() string {
	switch p {
	case Day:
		return "day"
	case Month:
		return "month"
	}
	return ""
}

// Quota is N requests per calendar day or month in UTC. The zero Quota
// limits nothing.
type Quota struct {
	N      int64
	Period Period
}

// ParseQuota parses "N/day" or "N/month": N is 1..1e12 in decimal digits.
// Surrounding spaces are ignored. Errors wrap ErrInvalidQuota, name what is
// wrong and show a valid example.
func ParseQuota(s string) (Quota, error) {
	n, unit, err := splitLimit(s, MaxQuotaN)
	if err == nil {
		switch unit {
		case "day":
			return Quota{N: n, Period: Day}, nil
		case "month":
			return Quota{N: n, Period: Month}, nil
		}
		err = fmt.Errorf("unknown period %q (want day or month)", unit)
	}
	return Quota{}, fmt.Errorf("%w %q: %v; for example \"1000/day\" or \"1000000/month\"", ErrInvalidQuota, s, err)
}

// String returns the canonical form, which ParseQuota accepts: "1000/day",
// "1000000/month". The zero Quota is "".
func (q Quota) String() string {
	if q == (Quota{}) {
		return ""
	}
	return strconv.FormatInt(q.N, 10) + "/" + q.Period.String()
}

// Window returns the calendar window containing t, in UTC: its id
// ("2026-11-27" for a day, "2026-11" for a month) and the instant it ends
// (the next window's start). A Quota with no valid Period is treated as Day.
func (q Quota) Window(t time.Time) (id string, end time.Time) {
	b, _, end := q.span(nil, t)
	return string(b), end
}

// bounds returns the start and end of the window containing t.
func (q Quota) bounds(t time.Time) (start, end time.Time) {
	_, start, end = q.span(nil, t)
	return start, end
}

// span appends the id of the window containing t to b and returns it with
// the window's start and end. It does not allocate when b has room.
func (q Quota) span(b []byte, t time.Time) (id []byte, start, end time.Time) {
	y, m, d := t.UTC().Date()
	if 0 <= y && y <= 9999 {
		b = append(b, byte('0'+y/1000), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10))
	} else {
		b = strconv.AppendInt(b, int64(y), 10)
	}
	b = append(b, '-', byte('0'+m/10), byte('0'+m%10))
	if q.Period == Month {
		start = time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
		return b, start, time.Date(y, m+1, 1, 0, 0, 0, 0, time.UTC)
	}
	b = append(b, '-', byte('0'+d/10), byte('0'+d%10))
	start = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	return b, start, start.Add(24 * time.Hour) // UTC days are all 24 hours
}

// splitLimit splits "N/unit" and checks N is 1..max. The unit is returned
// unchecked.
func splitLimit(s string, max int64) (n int64, unit string, err error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, "", errors.New("empty")
	}
	num, unit, ok := strings.Cut(s, "/")
	if !ok {
		return 0, "", errors.New(`missing "/" between count and unit`)
	}
	if num == "" {
		return 0, "", errors.New("missing count before \"/\"")
	}
	for i := 0; i < len(num); i++ {
		if num[i] < '0' || num[i] > '9' {
			return 0, "", fmt.Errorf("count %q is not a whole number", num)
		}
	}
	n, err = strconv.ParseInt(num, 10, 64)
	if err != nil || n > max {
		return 0, "", fmt.Errorf("count %s is more than the maximum %d", num, max)
	}
	if n < 1 {
		return 0, "", errors.New("count must be at least 1")
	}
	if unit == "" {
		return 0, "", errors.New("missing unit after \"/\"")
	}
	return n, unit, nil
}
