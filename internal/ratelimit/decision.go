package ratelimit

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Policy names used in Decision.Policy and so in the IETF headers.
const (
	PolicyRate  = "rate"
	PolicyQuota = "quota"
)

// Decision is one limit's verdict on a request and what to tell the client.
type Decision struct {
	Allowed bool
	// Policy names the limit: "rate" or "quota". It is the policy's name in
	// the RateLimit-Policy and RateLimit headers.
	Policy string
	// Limit is the bucket size (rate) or N (quota). A Decision with Limit 0
	// limits nothing and WriteHeaders skips it.
	Limit int64
	// Remaining is what is left after this request, never negative.
	Remaining int64
	// Window is the policy's window, written as RateLimit-Policy w=: the
	// rate's Per, or the quota's day (24h) or month (its length).
	Window time.Duration
	// Reset is the time until the limit is fully available again: the
	// bucket full again, or the quota window's end.
	Reset time.Duration
	// RetryAfter, when !Allowed, is the time until one request would be
	// allowed; zero when Allowed.
	RetryAfter time.Duration
	// Err is non-nil when the quota store could not be consulted (see
	// QuotaOptions.FailClosed) or ctx ended while waiting for it. With
	// Allowed true the request was served on local counts: serve it (the
	// failure is already logged). With Allowed false the store, not the
	// client, is at fault: answer 503 rather than 429.
	Err error
}

// WriteHeaders sets the rate-limit response headers for the decisions that
// apply; nil decisions and those with Limit 0 are skipped, and with none
// left WriteHeaders sets nothing. It sets:
//
//   - RateLimit-Policy: `"rate";q=100;w=1, "quota";q=1000;w=86400`
//     (q = Limit, w = Window in seconds rounded up), and
//     RateLimit: `"rate";r=42;t=1, "quota";r=999;t=3600` (r = Remaining,
//     t = Reset in seconds rounded up), per
//     draft-ietf-httpapi-ratelimit-headers-07 and later;
//   - X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset
//     (seconds from now, rounded up) of the most constraining decision: the
//     denial with the longest RetryAfter if any denies, otherwise the one
//     with the fewest Remaining (then the longest Reset);
//   - Retry-After, in whole seconds and at least 1, when any decision
//     denies: the longest RetryAfter among the denials.
//
// Header names are set in Go's canonical form (Ratelimit-Policy), which is
// the same header to HTTP.
func WriteHeaders(h http.Header, ds ...*Decision) { writeHeaders(h, false, ds) }

// WriteIETFHeaders sets only the IETF pair, RateLimit-Policy and
// RateLimit, as WriteHeaders writes them, plus Retry-After when a decision
// denies. The gateway sends these on the requests a limit lets through,
// and the full set (WriteHeaders) on a 429: three headers fewer on the hot
// path, and the draft standard's fields are the ones that carry every
// policy.
func WriteIETFHeaders(h http.Header, ds ...*Decision) { writeHeaders(h, true, ds) }

func writeHeaders(h http.Header, ietfOnly bool, ds []*Decision) {
	// Every value goes into one buffer and one string, and every header's
	// value slice into one array: two allocations however many headers.
	var arr [192]byte
	buf := arr[:0]
	var most *Decision
	for _, d := range ds {
		if d == nil || d.Limit <= 0 {
			continue
		}
		if most != nil {
			buf = append(buf, ", "...)
		}
		buf = appendPolicyItem(buf, d)
		if most == nil || moreConstraining(d, most) {
			most = d
		}
	}
	if most == nil {
		return
	}
	var ends [6]int
	ends[0] = len(buf)
	first := true
	for _, d := range ds {
		if d == nil || d.Limit <= 0 {
			continue
		}
		if !first {
			buf = append(buf, ", "...)
		}
		first = false
		buf = appendStateItem(buf, d)
	}
	ends[1] = len(buf)
	buf = strconv.AppendInt(buf, most.Limit, 10)
	ends[2] = len(buf)
	buf = strconv.AppendInt(buf, max(most.Remaining, 0), 10)
	ends[3] = len(buf)
	buf = strconv.AppendInt(buf, ceilSeconds(most.Reset), 10)
	ends[4] = len(buf)
	n := 5
	if !most.Allowed {
		buf = strconv.AppendInt(buf, max(ceilSeconds(most.RetryAfter), 1), 10)
		ends[5] = len(buf)
		n = 6
	}
	all := string(buf)
	vals := make([]string, n)
	start := 0
	for i := range n {
		vals[i] = all[start:ends[i]]
		start = ends[i]
	}
	for i, name := range headerNames[:n] {
		if ietfOnly && i >= 2 && i < 5 {
			continue // the X-RateLimit-* trio
		}
		h[name] = vals[i : i+1 : i+1]
	}
}

// appendPolicyItem appends d's item of RateLimit-Policy: `"rate";q=100;w=1`.
func appendPolicyItem(b []byte, d *Decision) []byte {
	b = appendItem(b, d.Policy)
	b = append(b, ";q="...)
	b = strconv.AppendInt(b, d.Limit, 10)
	b = append(b, ";w="...)
	return strconv.AppendInt(b, max(ceilSeconds(d.Window), 1), 10)
}

// appendStateItem appends d's item of RateLimit: `"rate";r=42;t=1`.
func appendStateItem(b []byte, d *Decision) []byte {
	b = appendItem(b, d.Policy)
	b = append(b, ";r="...)
	b = strconv.AppendInt(b, max(d.Remaining, 0), 10)
	b = append(b, ";t="...)
	return strconv.AppendInt(b, ceilSeconds(d.Reset), 10)
}

// headerNames are the headers WriteHeaders sets, canonical, in the order
// of its values.
var headerNames = [...]string{"Ratelimit-Policy", "Ratelimit", "X-Ratelimit-Limit", "X-Ratelimit-Remaining", "X-Ratelimit-Reset", "Retry-After"}

// moreConstraining reports whether d constrains the client more than e.
func moreConstraining(d, e *Decision) bool {
	switch {
	case d.Allowed != e.Allowed:
		return !d.Allowed
	case !d.Allowed:
		return d.RetryAfter > e.RetryAfter
	case d.Remaining != e.Remaining:
		return d.Remaining < e.Remaining
	}
	return d.Reset > e.Reset
}

// appendItem appends name as a structured-field string (RFC 9651): quoted,
// with '"' and '\' escaped and anything outside printable ASCII dropped.
func appendItem(b []byte, name string) []byte {
	b = append(b, '"')
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c >= 0x20 && c < 0x7f:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// ceilSeconds returns d in whole seconds, rounded up; 0 for d <= 0.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	s := int64(d / time.Second)
	if d%time.Second != 0 {
		s++
	}
	return s
}

// String describes the decision for logs: "rate allowed 42/100" or
// "quota denied 0/1000 retry in 3600s".
func (d Decision) String() string {
	var b strings.Builder
	b.WriteString(d.Policy)
	if d.Allowed {
		b.WriteString(" allowed ")
	} else {
		b.WriteString(" denied ")
	}
	b.WriteString(strconv.FormatInt(d.Remaining, 10))
	b.WriteByte('/')
	b.WriteString(strconv.FormatInt(d.Limit, 10))
	if !d.Allowed {
		b.WriteString(" retry in ")
		b.WriteString(strconv.FormatInt(max(ceilSeconds(d.RetryAfter), 1), 10))
		b.WriteByte('s')
	}
	if d.Err != nil {
		b.WriteString(" (")
		b.WriteString(d.Err.Error())
		b.WriteByte(')')
	}
	return b.String()
}
