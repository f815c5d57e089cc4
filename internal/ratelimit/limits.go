package ratelimit

import (
	"errors"
	"net/http"
	"sync/atomic"
)

// Limits are one plan's rate and quota, parsed once, for the request path:
// the gateway enforces them on every request with a key of the plan.
// Create them with ParseLimits; they are safe for concurrent use.
type Limits struct {
	// Rate refills the token bucket; the zero Rate means no rate limit.
	Rate Rate
	// Burst is the bucket's size; <= 0 means Rate.N.
	Burst int64
	// Quota is the calendar quota; the zero Quota means none.
	Quota Quota

	// policy is the RateLimit-Policy value WriteIETFHeaders built last,
	// with what it was built from.
	policy atomic.Pointer[policyValue]
}

// policyValue is a RateLimit-Policy header value and the decisions'
// policies it describes.
type policyValue struct {
	rate, quota policyItem
	value       []string // one element, shared by every response: never modified
}

// policyItem is what one decision's RateLimit-Policy item shows; the zero
// policyItem stands for no decision.
type policyItem struct {
	name          string
	limit, window int64 // q and w
}

func itemOf(d *Decision) policyItem {
	if d == nil {
		return policyItem{}
	}
	return policyItem{name: d.Policy, limit: d.Limit, window: max(ceilSeconds(d.Window), 1)}
}

// ParseLimits parses a plan's rate ("" for none, else as ParseRate),
// burst and quota ("" for none, else as ParseQuota). A limit that does
// not parse is left out of the Limits, which are returned all the same,
// with the parse errors joined.
func ParseLimits(rate string, burst int, quota string) (*Limits, error) {
	l := &Limits{Burst: int64(burst)}
	var errs []error
	if rate != "" {
		r, err := ParseRate(rate)
		if err != nil {
			errs = append(errs, err)
		}
		l.Rate = r
	}
	if quota != "" {
		q, err := ParseQuota(quota)
		if err != nil {
			errs = append(errs, err)
		}
		l.Quota = q
	}
	return l, errors.Join(errs...)
}

// WriteIETFHeaders writes exactly what the package's WriteIETFHeaders(h,
// rd, qd) writes, for a rate decision rd and a quota decision qd made under
// l (either may be nil or have Limit 0). When both allow, it is cheaper:
// the RateLimit-Policy value, which changes only with the plan (and a
// monthly quota's window length), is reused from the previous call and
// shared between responses, and only RateLimit's value is built, in one
// buffer, costing two small allocations (its string and its slice).
func (l *Limits) WriteIETFHeaders(h http.Header, rd, qd *Decision) {
	if rd != nil && rd.Limit <= 0 {
		rd = nil
	}
	if qd != nil && qd.Limit <= 0 {
		qd = nil
	}
	switch {
	case rd == nil && qd == nil:
		return
	case rd != nil && !rd.Allowed, qd != nil && !qd.Allowed:
		writeHeaders(h, true, []*Decision{rd, qd})
		return
	}
	ri, qi := itemOf(rd), itemOf(qd)
	p := l.policy.Load()
	if p == nil || p.rate != ri || p.quota != qi {
		var b []byte
		if rd != nil {
			b = appendPolicyItem(b, rd)
		}
		if qd != nil {
			if rd != nil {
				b = append(b, ", "...)
			}
			b = appendPolicyItem(b, qd)
		}
		p = &policyValue{rate: ri, quota: qi, value: []string{string(b)}}
		l.policy.Store(p)
	}
	h[headerNames[0]] = p.value[:1:1]
	var arr [96]byte
	b := arr[:0]
	if rd != nil {
		b = appendStateItem(b, rd)
	}
	if qd != nil {
		if rd != nil {
			b = append(b, ", "...)
		}
		b = appendStateItem(b, qd)
	}
	h[headerNames[1]] = []string{string(b)}
}
