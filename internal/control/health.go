package control

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/mote-run/mote/api"
)

// Health tracking from the gateway's analytics.
const (
	// healthWindow is how far back the 5xx ratios look.
	healthWindow = time.Minute
	// healthEvery is how often guarded splits are checked.
	healthEvery = 2 * time.Second
	// unhealthyMinRequests and unhealthyErrorRate: a routed version that
	// answered at least this many requests in the window, at least this
	// fraction of them with a 5xx, is unhealthy.
	unhealthyMinRequests = 20
	unhealthyErrorRate   = 0.5
	// defaultGuardMinRequests is a CanaryGuard's MinRequests when 0.
	defaultGuardMinRequests = 20
)

// versionErrors returns each version's requests and 5xx answers over the
// last healthWindow, from the analytics; nil without analytics.
func (c *Controller) versionErrors(service string) map[int][2]int64 {
	if c.opts.Analytics == nil {
		return nil
	}
	st, err := c.opts.Analytics.Query(service, time.Now().Add(-healthWindow), "version")
	if err != nil {
		return nil
	}
	out := make(map[int][2]int64, len(st.Groups))
	for _, g := range st.Groups {
		if v, err := strconv.Atoi(g.Key); err == nil {
			out[v] = [2]int64{g.Requests, g.Errors}
		}
	}
	return out
}

// failingRequests is the default health tracker (Options.Unhealthy): a
// version is unhealthy when most of its recent answers were 5xx.
func (c *Controller) failingRequests(service string, version int) bool {
	n := c.versionErrors(service)[version]
	return n[0] >= unhealthyMinRequests && float64(n[1]) >= unhealthyErrorRate*float64(n[0])
}

// CheckGuard validates a canary guard from the admin API.
func CheckGuard(g *api.CanaryGuard) error {
	if g.MaxErrorRate <= 0 || g.MaxErrorRate > 1 {
		return api.Errorf(api.CodeBadRequest, "guard: max_error_rate %g is not a fraction above 0 and at most 1 (0.05 is 5%%)", g.MaxErrorRate)
	}
	if g.MinRequests < 0 || g.MinRequests > 1_000_000 {
		return api.Errorf(api.CodeBadRequest, "guard: min_requests %d is not from 0 to 1000000", g.MinRequests)
	}
	return nil
}

// guardLoop checks every guarded split every healthEvery until ctx ends.
func (c *Controller) guardLoop(ctx context.Context) {
	t := time.NewTicker(healthEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c.mu.Lock()
		var guarded []api.Service
		for _, s := range c.current {
			if s.svc.Guard != nil {
				guarded = append(guarded, s.svc)
			}
		}
		c.mu.Unlock()
		for _, svc := range guarded {
			c.checkGuard(ctx, svc)
		}
	}
}

// checkGuard rolls svc back when a guarded version fails too often. The
// guarded versions are those with traffic other than the one Rollback
// would return to.
func (c *Controller) checkGuard(ctx context.Context, svc api.Service) {
	g := svc.Guard
	target, _, err := rollbackTarget(svc)
	if err != nil {
		return // nothing to roll back to
	}
	minReq := int64(g.MinRequests)
	if minReq == 0 {
		minReq = defaultGuardMinRequests
	}
	errs := c.versionErrors(svc.Name)
	for _, t := range svc.Traffic {
		if t.Weight == 0 || t.Version == target {
			continue
		}
		n := errs[t.Version]
		if n[0] < minReq || float64(n[1]) <= g.MaxErrorRate*float64(n[0]) {
			continue
		}
		rate := 100 * float64(n[1]) / float64(n[0])
		if _, err := c.Rollback(ctx, svc.Name); err != nil {
			c.logger.Error("canary rollback", "service", svc.Name, "version", t.Version, "err", err)
			return
		}
		msg := fmt.Sprintf("version %d answered %d of its %d requests in the last %s with a 5xx (%.1f%%), over the canary limit of %.1f%%: rolled back to version %d",
			t.Version, n[1], n[0], healthWindow, rate, 100*g.MaxErrorRate, target)
		c.logger.Warn("canary rolled back", "service", svc.Name, "version", t.Version, "error_rate", rate, "to", target)
		c.serviceLog(svc.Name, t.Version, "warn", msg)
		return
	}
}
