package crashtest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/client"
)

// trafficService is the service whose traffic split and scale one worker
// changes; nothing else deploys it.
const trafficService = "crash-traffic"

// trafficTags are the tags the traffic worker moves between versions.
var trafficTags = []string{"canary", "blue"}

// trafficLedger is what the node acknowledged of trafficService's split and
// scale. Only the traffic worker and, between cycles, the test goroutine
// use it.
type trafficLedger struct {
	// traffic and scale are disabled when the node has no such API.
	traffic, scale bool
	// versions are the acknowledged versions, oldest first.
	versions []int
	// split is the acknowledged traffic split; pendingSplit the one asked
	// for when the node was killed, if any; anySplit is set when the call
	// in flight had an outcome the test cannot predict (a deploy, a
	// rollback).
	split, pendingSplit []api.TrafficSplit
	anySplit            bool
	// scaleAck is the acknowledged scale override; pendingScale the one
	// asked for when the node was killed.
	scaleAck, pendingScale *api.Scale
	// acked counts the changes the node acknowledged.
	acked int
}

// normalSplit is a split as the node keeps it: versions with a weight or a
// tag, by version.
func normalSplit(in []api.TrafficSplit) []api.TrafficSplit {
	out := make([]api.TrafficSplit, 0, len(in))
	for _, s := range in {
		if s.Weight > 0 || s.Tag != "" {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b api.TrafficSplit) int { return cmp.Compare(a.Version, b.Version) })
	return out
}

func scaleString(s *api.Scale) string {
	if s == nil {
		return "none"
	}
	f := func(p *int) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprint(*p)
	}
	return "min " + f(s.Min) + " max " + f(s.Max)
}

func sameScale(a, b *api.Scale) bool { return scaleString(a) == scaleString(b) }

// unsupported reports whether err says the node has no such endpoint.
func unsupported(err error) bool {
	var ae *api.Error
	return errors.As(err, &ae) && (ae.Status == http.StatusNotFound || ae.Status == http.StatusMethodNotAllowed || ae.Status == http.StatusNotImplemented)
}

// setupTraffic deploys trafficService with two versions and finds out
// whether the node can change traffic and scale.
func (r *run) setupTraffic(ctx context.Context, t *testing.T) {
	c, tl := r.node.admin, &r.traffic
	for rev := range 2 {
		res, err := c.Deploy(ctx, exampleFor(r.examples[0], trafficService, fmt.Sprintf("setup %d", rev), false))
		if err != nil {
			t.Fatalf("deploy %s: %v\n%s", trafficService, err, r.node.output())
		}
		tl.versions = append(tl.versions, res.Version.Number)
		tl.split = normalSplit(res.Service.Traffic)
		r.l.services[trafficService] = res.Version.Number
	}
	svc, err := c.SetTraffic(ctx, trafficService, []api.TrafficSplit{{Version: tl.versions[0], Weight: 50}, {Version: tl.versions[1], Weight: 50}})
	switch {
	case unsupported(err):
		t.Logf("the node has no traffic API (%v): traffic changes are not tested", err)
	case err != nil:
		t.Fatalf("set traffic of %s: %v\n%s", trafficService, err, r.node.output())
	default:
		tl.traffic, tl.split = true, normalSplit(svc.Traffic)
	}
	lo, hi := 0, 3
	svc, err = c.SetScale(ctx, trafficService, api.Scale{Min: &lo, Max: &hi})
	switch {
	case unsupported(err):
		t.Logf("the node has no scale API (%v): scale changes are not tested", err)
	case err != nil:
		t.Fatalf("set scale of %s: %v\n%s", trafficService, err, r.node.output())
	default:
		tl.scale, tl.scaleAck = true, svc.Scale
	}
}

// trafficer deploys trafficService's versions without traffic, and
// changes its split (weights and tags), rolls it back and sets its scale.
func (w *workers) trafficer(ctx context.Context) {
	tl := &w.r.traffic
	if !tl.traffic && !tl.scale {
		return
	}
	rng := w.rng
	for seq := 0; ctx.Err() == nil; seq++ {
		var err error
		switch op := seq % 6; {
		case op == 0 && tl.traffic:
			tag := trafficTags[rng.IntN(len(trafficTags))]
			pkg := exampleFor(w.r.examples[0], trafficService, fmt.Sprintf("traffic cycle %d seq %d", w.cycle, seq), false)
			tl.anySplit = true
			var res api.DeployResult
			err = w.call(func() (err error) {
				res, err = w.n.admin.Deploy(ctx, pkg, client.NoTraffic(), client.Tag(tag))
				return err
			})
			if err == nil {
				tl.versions = append(tl.versions, res.Version.Number)
				tl.split, tl.anySplit = normalSplit(res.Service.Traffic), false
				w.r.l.mu.Lock()
				w.r.l.services[trafficService] = res.Version.Number
				w.r.l.mu.Unlock()
			}
		case op == 3 && tl.traffic:
			tl.anySplit = true
			var svc api.Service
			err = w.call(func() (err error) {
				svc, err = w.n.admin.Rollback(ctx, trafficService)
				return err
			})
			var ae *api.Error
			if errors.As(err, &ae) && ae.Code == api.CodeConflict {
				err, tl.anySplit = nil, false // nothing to roll back to: nothing changed
			} else if err == nil {
				tl.split, tl.anySplit = normalSplit(svc.Traffic), false
			}
		case op == 5 && tl.scale:
			lo, hi := rng.IntN(2), 1+rng.IntN(4)
			want := &api.Scale{Min: &lo, Max: &hi}
			tl.pendingScale = want
			var svc api.Service
			err = w.call(func() (err error) {
				svc, err = w.n.admin.SetScale(ctx, trafficService, *want)
				return err
			})
			if err == nil {
				tl.pendingScale = nil
				if !sameScale(svc.Scale, want) {
					w.t.Errorf("cycle %d: set scale of %s to %s: the node answered %s", w.cycle, trafficService, scaleString(want), scaleString(svc.Scale))
				}
				tl.scaleAck = svc.Scale
			}
		case tl.traffic:
			want := randomSplit(rng, tl.versions)
			tl.pendingSplit = normalSplit(want)
			var svc api.Service
			err = w.call(func() (err error) {
				svc, err = w.n.admin.SetTraffic(ctx, trafficService, want)
				return err
			})
			if err == nil {
				tl.pendingSplit = nil
				got := normalSplit(svc.Traffic)
				if !slices.Equal(got, normalSplit(want)) {
					w.t.Errorf("cycle %d: set traffic of %s to %v: the node answered %v", w.cycle, trafficService, normalSplit(want), got)
				}
				tl.split = got
			}
		default:
			continue
		}
		if w.failed(ctx, fmt.Sprintf("change %s (step %d)", trafficService, seq), err) {
			return
		}
		tl.acked++
		if !pause(ctx, 2*workerPause) {
			return
		}
	}
}

// randomSplit spreads 100% over one to three of the newest versions, and
// tags some of them.
func randomSplit(rng interface {
	IntN(int) int
	Perm(int) []int
}, versions []int) []api.TrafficSplit {
	recent := versions[max(0, len(versions)-4):]
	k := 1 + rng.IntN(min(3, len(recent)))
	out := make([]api.TrafficSplit, 0, k+1)
	left := 100
	for i, j := range rng.Perm(len(recent))[:k] {
		w := left
		if i < k-1 {
			w = rng.IntN(left + 1)
		}
		left -= w
		out = append(out, api.TrafficSplit{Version: recent[j], Weight: w})
	}
	for ti, tag := range trafficTags {
		if rng.IntN(2) == 0 {
			continue
		}
		i := (ti + rng.IntN(len(out))) % len(out)
		if out[i].Tag == "" {
			out[i].Tag = tag
		}
	}
	return out
}

// verifyTraffic checks trafficService's split and scale after a restart:
// the acknowledged ones, or the ones asked for when the node was killed,
// and that every tagged version answers at its tagged route.
func (r *run) verifyTraffic(ctx context.Context, t *testing.T, i int) {
	tl := &r.traffic
	if !tl.traffic && !tl.scale {
		return
	}
	d, err := r.node.admin.Service(ctx, trafficService)
	if err != nil {
		t.Errorf("cycle %d, after the restart: inspect %s: %v", i, trafficService, err)
		return
	}
	got := normalSplit(d.Traffic)
	switch {
	case slices.Equal(got, tl.split):
	case tl.pendingSplit != nil && slices.Equal(got, tl.pendingSplit):
		t.Logf("cycle %d: %s has the split asked for when the node was killed", i, trafficService)
	case tl.anySplit:
		t.Logf("cycle %d: %s has split %v (a deploy or rollback was in flight at the kill)", i, trafficService, got)
	default:
		t.Errorf("cycle %d, after the restart: %s has traffic split %v; %v was acknowledged (in flight at the kill: %v)", i, trafficService, got, tl.split, tl.pendingSplit)
	}
	switch {
	case !tl.scale:
	case sameScale(d.Scale, tl.scaleAck):
	case tl.pendingScale != nil && sameScale(d.Scale, tl.pendingScale):
	default:
		t.Errorf("cycle %d, after the restart: %s has scale %s; %s was acknowledged (in flight at the kill: %s)", i, trafficService, scaleString(d.Scale), scaleString(tl.scaleAck), scaleString(tl.pendingScale))
	}
	total := 0
	for _, s := range got {
		total += s.Weight
		if s.Tag == "" {
			continue
		}
		status, _, err := r.node.get(ctx, "/"+trafficService+"@"+s.Tag+"/x", "")
		if err != nil || status != http.StatusOK {
			t.Errorf("cycle %d, after the restart: %s's version %d tagged %s answers %d %v at its tagged route", i, trafficService, s.Version, s.Tag, status, err)
		}
	}
	if total != 100 {
		t.Errorf("cycle %d, after the restart: %s's weights sum to %d: %v", i, trafficService, total, got)
	}
	// What the node has now is what the next cycle builds on.
	tl.split, tl.pendingSplit, tl.anySplit = got, nil, false
	tl.scaleAck, tl.pendingScale = d.Scale, nil
	for _, v := range d.Versions {
		if !slices.Contains(tl.versions, v.Number) && v.Number <= d.Latest {
			tl.versions = append(tl.versions, v.Number)
		}
	}
	slices.Sort(tl.versions)
}
