package control

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/manifest"
	"github.com/mote-run/mote/internal/store"
)

// MaxSplit caps the versions a traffic split may route.
const MaxSplit = 32

// casAttempts is how many times a change to a service record is tried
// when another writer changed it in between.
const casAttempts = 5

// SetTraffic replaces a service's traffic split and returns the service
// once the gateway serves the new split. Each entry's version must exist;
// weights are 0 to 100 and sum to 100; tags are unique. An entry with
// weight 0 and no tag is dropped: that version stops being routed, as do
// versions not named, and requests they started finish on them. A split
// that gives one version 100% records it in Stable for Rollback. Errors
// are *api.Error values: bad_request naming the problem, not_found for an
// unknown service or version, conflict when the serving version's route
// is another service's.
func (c *Controller) SetTraffic(ctx context.Context, name string, split []api.TrafficSplit) (api.Service, error) {
	return c.SetTrafficGuarded(ctx, name, split, nil)
}

// SetTrafficGuarded is SetTraffic with a canary guard: while the split
// stands, the node rolls the service back (as Rollback does) when a
// version with traffic other than the last one that had 100% answers more
// than guard.MaxErrorRate of its requests with a 5xx over the last minute.
// A nil guard clears any guard; so does every later change of the split.
func (c *Controller) SetTrafficGuarded(ctx context.Context, name string, split []api.TrafficSplit, guard *api.CanaryGuard) (api.Service, error) {
	clean, err := CheckSplit(split)
	if err != nil {
		return api.Service{}, err
	}
	if guard != nil {
		if err := CheckGuard(guard); err != nil {
			return api.Service{}, err
		}
		if c.opts.Analytics == nil {
			return api.Service{}, api.Errorf(api.CodeBadRequest, "guard: this node keeps no analytics, so it cannot watch error rates")
		}
	}
	c.deployMu.Lock()
	defer c.deployMu.Unlock()
	return c.updateLocked(ctx, name, "traffic split", func(svc *api.Service) error {
		if err := c.setSplit(ctx, svc, clean); err != nil {
			return err
		}
		svc.Guard = guard
		return nil
	})
}

// Rollback gives all of a service's traffic to the previous version that
// had all of it and returns the service once the gateway serves it.
// Tagged versions keep their tags (with no share of the requests).
// Rolling back from a version that has 100% forgets it in Stable, so a
// second Rollback goes one further back; rolling back in the middle of a
// split returns to the last version that had 100%. With no such version
// the error is an *api.Error with code conflict.
func (c *Controller) Rollback(ctx context.Context, name string) (api.Service, error) {
	c.deployMu.Lock()
	defer c.deployMu.Unlock()
	return c.updateLocked(ctx, name, "rollback", func(svc *api.Service) error {
		seedStable(svc)
		target, stable, err := rollbackTarget(*svc)
		if err != nil {
			return err
		}
		split := []api.TrafficSplit{{Version: target, Weight: 100, Tag: tagOf(svc.Traffic, target)}}
		for _, t := range svc.Traffic {
			if t.Tag != "" && t.Version != target {
				split = append(split, api.TrafficSplit{Version: t.Version, Tag: t.Tag})
			}
		}
		svc.Stable = stable
		svc.Guard = nil
		return c.setSplit(ctx, svc, split)
	})
}

// rollbackTarget returns the version Rollback gives 100% to, and Stable
// without the version it leaves.
func rollbackTarget(svc api.Service) (int, []int, error) {
	stable := slices.Clone(svc.Stable)
	if sole := soleVersion(svc.Traffic); sole != 0 {
		for len(stable) > 0 && stable[len(stable)-1] == sole {
			stable = stable[:len(stable)-1]
		}
	}
	if len(stable) == 0 {
		return 0, nil, &api.Error{Code: api.CodeConflict, Status: 409,
			Message: fmt.Sprintf("%s has no earlier version that served all of its traffic to roll back to", svc.Name),
			Hint:    fmt.Sprintf("choose a version with: mote traffic %s VERSION=100 (mote versions %s lists them)", svc.Name, svc.Name)}
	}
	return stable[len(stable)-1], stable, nil
}

// soleVersion is the version with all of the traffic, or 0.
func soleVersion(split []api.TrafficSplit) int {
	for _, t := range split {
		if t.Weight == 100 {
			return t.Version
		}
	}
	return 0
}

func tagOf(split []api.TrafficSplit, version int) string {
	for _, t := range split {
		if t.Version == version {
			return t.Tag
		}
	}
	return ""
}

// SetScale sets (or, with nil, clears) a service's scale override and
// returns the service once every routed version applies it, live: a
// runner that can change its bounds does, any other is replaced as its
// requests finish. The override outlives deploys. Errors are *api.Error
// values (bad_request naming the field, not_found).
func (c *Controller) SetScale(ctx context.Context, name string, sc *api.Scale) (api.Service, error) {
	if sc != nil {
		if err := CheckScale(*sc); err != nil {
			return api.Service{}, err
		}
		if sc.Min == nil && sc.Max == nil {
			sc = nil
		}
	}
	c.deployMu.Lock()
	defer c.deployMu.Unlock()
	return c.updateLocked(ctx, name, "scale override", func(svc *api.Service) error {
		svc.Scale = sc
		return nil
	})
}

// CheckScale validates a scale override: min 0 to manifest.MaxScale, max 1
// to manifest.MaxScale, min at most max. Errors are *api.Error values.
func CheckScale(sc api.Scale) error {
	if sc.Min != nil && (*sc.Min < 0 || *sc.Min > manifest.MaxScale) {
		return api.Errorf(api.CodeBadRequest, "min %d is out of range; write 0 (scale to zero when idle) to %d", *sc.Min, manifest.MaxScale)
	}
	if sc.Max != nil && (*sc.Max < 1 || *sc.Max > manifest.MaxScale) {
		return api.Errorf(api.CodeBadRequest, "max %d is out of range; write 1 to %d", *sc.Max, manifest.MaxScale)
	}
	if sc.Min != nil && sc.Max != nil && *sc.Min > *sc.Max {
		return api.Errorf(api.CodeBadRequest, "min %d is above max %d; lower min or raise max", *sc.Min, *sc.Max)
	}
	return nil
}

// scaleFor is a version's instance bounds: its [scale] under the
// service's override. When the override sets one bound and the version's
// other contradicts it, the override wins.
func scaleFor(o *api.Scale, m *manifest.Manifest) (minN, maxN int) {
	minN, maxN = m.Scale.Min, m.Scale.Max
	if o == nil {
		return minN, maxN
	}
	if o.Min != nil {
		minN = *o.Min
	}
	if o.Max != nil {
		maxN = *o.Max
	}
	if minN > maxN {
		if o.Max != nil {
			minN = maxN
		} else {
			maxN = minN
		}
	}
	return minN, maxN
}

// CheckSplit validates a traffic split and returns it clean: entries with
// weight 0 and no tag dropped, sorted by version. Errors are *api.Error
// values with code bad_request that name the entry at fault.
func CheckSplit(split []api.TrafficSplit) ([]api.TrafficSplit, error) {
	bad := func(format string, args ...any) ([]api.TrafficSplit, error) {
		return nil, api.Errorf(api.CodeBadRequest, format, args...)
	}
	if len(split) == 0 {
		return bad("the split names no version; give at least one version 100%%")
	}
	if len(split) > MaxSplit {
		return bad("the split names %d versions; at most %d may be routed", len(split), MaxSplit)
	}
	sum := 0
	versions := map[int]bool{}
	tags := map[string]int{}
	var out []api.TrafficSplit
	for _, t := range split {
		if t.Version < 1 {
			return bad("version %d: versions are numbered from 1", t.Version)
		}
		if versions[t.Version] {
			return bad("version %d is named twice", t.Version)
		}
		versions[t.Version] = true
		if t.Weight < 0 || t.Weight > 100 {
			return bad("version %d: weight %d is not a percentage from 0 to 100", t.Version, t.Weight)
		}
		if t.Tag != "" {
			if err := api.CheckTag(t.Tag); err != nil {
				return bad("version %d: %s", t.Version, err.(*api.Error).Message)
			}
			if other, dup := tags[t.Tag]; dup {
				return bad("tag %s is given to versions %d and %d; a tag names one version", t.Tag, other, t.Version)
			}
			tags[t.Tag] = t.Version
		}
		sum += t.Weight
		if t.Weight > 0 || t.Tag != "" {
			out = append(out, t)
		}
	}
	if sum != 100 {
		return bad("the weights sum to %d; they must sum to 100 (%s)", sum, FormatSplit(split))
	}
	slices.SortFunc(out, func(a, b api.TrafficSplit) int { return cmp.Compare(a.Version, b.Version) })
	return out, nil
}

// setSplit makes split (clean) svc's traffic: the serving version (the
// largest weight, the newest on a tie) gives the service its route, ABI
// and digest, and a version with 100% is pushed onto Stable.
func (c *Controller) setSplit(ctx context.Context, svc *api.Service, split []api.TrafficSplit) error {
	serving := 0
	weight := -1
	for _, t := range split {
		if t.Version > svc.Latest {
			return versionNotFound(svc.Name, t.Version, svc.Latest)
		}
		if t.Weight > weight || t.Weight == weight && t.Version > serving {
			serving, weight = t.Version, t.Weight
		}
	}
	var primary api.Version
	for _, t := range split {
		v, err := c.opts.Store.Version(ctx, svc.Name, t.Version)
		if errors.Is(err, store.ErrNotFound) {
			return versionNotFound(svc.Name, t.Version, svc.Latest)
		}
		if err != nil {
			return internal("read version %d of %s: %v", t.Version, svc.Name, err)
		}
		if t.Version == serving {
			primary = v
		}
	}
	m, err := manifestOf(primary)
	if err != nil {
		return internal("%v", err)
	}
	if m.Route != svc.Route {
		if err := c.checkRoute(svc.Name, m.Route); err != nil {
			return err
		}
	}
	seedStable(svc)
	svc.Traffic = slices.Clone(split)
	svc.Version, svc.Route, svc.ABI, svc.Digest = serving, m.Route, primary.ABI, primary.Digest
	if weight == 100 {
		svc.Stable = pushStable(svc.Stable, serving)
	}
	return nil
}

// seedStable starts the Stable list of a record written before there was
// one, with the version that has all of the traffic, so that the first
// Rollback after a change can go back to it.
func seedStable(svc *api.Service) {
	if len(svc.Stable) == 0 && len(svc.Traffic) > 0 {
		if sole := soleVersion(svc.Traffic); sole != 0 {
			svc.Stable = []int{sole}
		}
	}
}

// pushStable records that version got all of the traffic.
func pushStable(stable []int, version int) []int {
	if n := len(stable); n > 0 && stable[n-1] == version {
		return stable
	}
	stable = append(slices.Clone(stable), version)
	if len(stable) > api.MaxStable {
		stable = stable[len(stable)-api.MaxStable:]
	}
	return stable
}

func versionNotFound(name string, version, latest int) *api.Error {
	return &api.Error{Code: api.CodeNotFound, Status: 404,
		Message: fmt.Sprintf("%s has no version %d (its latest is %d)", name, version, latest),
		Hint:    "list its versions with: mote versions " + name}
}

// updateLocked changes the stored record of service name with change and
// writes it back with compare-and-set, trying again (from a fresh read)
// when another writer got in between, then waits until the gateway serves
// it. what names the change in errors. c.deployMu must be held.
func (c *Controller) updateLocked(ctx context.Context, name, what string, change func(*api.Service) error) (api.Service, error) {
	for attempt := 1; ; attempt++ {
		svc, rev, err := c.opts.Store.Service(ctx, name)
		if err != nil {
			return svc, serviceError(name, err)
		}
		if err := change(&svc); err != nil {
			return svc, err
		}
		svc.Updated = time.Now().UTC()
		nrev, err := c.opts.Store.UpdateService(ctx, svc, rev)
		switch {
		case errors.Is(err, store.ErrConflict) && attempt < casAttempts:
			continue
		case errors.Is(err, store.ErrConflict):
			return svc, &api.Error{Code: api.CodeConflict, Status: 409,
				Message: fmt.Sprintf("service %s kept changing while its %s was being set", name, what), Hint: "run the command again"}
		case err != nil:
			return svc, serviceError(name, err)
		}
		if err := c.waitApplied(ctx, name, nrev); err != nil {
			return svc, internal("the %s is stored but not yet served: %v", what, err)
		}
		svc.URL = c.url(svc.Route)
		return svc, nil
	}
}

// serviceError maps a store error about service name to an API error.
func serviceError(name string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return &api.Error{Code: api.CodeNotFound, Status: 404, Message: fmt.Sprintf("no service named %s", name), Hint: "list services with: mote ls"}
	}
	if errors.Is(err, store.ErrInvalidName) {
		return api.Errorf(api.CodeBadRequest, "%v", err)
	}
	return internal("service %s: %v", name, err)
}

// Versions lists a service's versions, newest first, with their share of
// the traffic, tag and state (api.VersionServing, ...). Errors are
// *api.Error values (not_found for an unknown service).
func (c *Controller) Versions(ctx context.Context, name string) ([]api.VersionStatus, error) {
	svc, _, err := c.opts.Store.Service(ctx, name)
	if err != nil {
		return nil, serviceError(name, err)
	}
	vs, err := c.opts.Store.Versions(ctx, name)
	if err != nil {
		return nil, internal("list versions of %s: %v", name, err)
	}
	vs = Acknowledged(svc, vs)
	c.mu.Lock()
	var runners map[int]*versionRunner
	if cur := c.current[name]; cur != nil {
		runners = cur.runners
	}
	draining := map[int]bool{}
	for vr := range c.draining {
		if vr.version.Service == name {
			draining[vr.version.Number] = true
		}
	}
	c.mu.Unlock()
	out := make([]api.VersionStatus, 0, len(vs))
	for _, v := range vs {
		st := api.VersionStatus{Version: v, State: api.VersionStandby}
		for _, t := range routed(svc) {
			if t.Version == v.Number {
				st.Weight, st.Tag = t.Weight, t.Tag
				st.State = api.VersionTagged
				if t.Weight > 0 {
					st.State = api.VersionServing
				}
			}
		}
		switch {
		case st.State == api.VersionStandby && draining[v.Number]:
			st.State = api.VersionDraining
		case st.State != api.VersionStandby && c.unhealthy(name, v.Number, runners[v.Number]):
			st.State = api.VersionUnhealthy
		}
		out = append(out, st)
	}
	return out, nil
}

// unhealthy reports whether a routed version is unhealthy: its module
// failed to load or its instances keep failing to start, or the health
// tracker (Options.Unhealthy) says so.
func (c *Controller) unhealthy(service string, version int, vr *versionRunner) bool {
	if vr != nil && vr.failing() {
		return true
	}
	return c.opts.Unhealthy != nil && c.opts.Unhealthy(service, version)
}

// FormatSplit renders a split in the form the service logs use: one
// VERSION=WEIGHT per version, then @TAG when tagged ("3=90 4=10@canary").
func FormatSplit(split []api.TrafficSplit) string {
	parts := make([]string, 0, len(split))
	for _, t := range split {
		p := strconv.Itoa(t.Version) + "=" + strconv.Itoa(t.Weight)
		if t.Tag != "" {
			p += "@" + t.Tag
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, " ")
}

// FormatScale renders a scale override: "min 1, max 50"; "none" for nil.
func FormatScale(sc *api.Scale) string {
	if sc == nil || sc.Min == nil && sc.Max == nil {
		return "none"
	}
	var parts []string
	if sc.Min != nil {
		parts = append(parts, "min "+strconv.Itoa(*sc.Min))
	}
	if sc.Max != nil {
		parts = append(parts, "max "+strconv.Itoa(*sc.Max))
	}
	return strings.Join(parts, ", ")
}

// Acknowledged drops the versions a deploy stored but never acknowledged:
// a node killed between storing a version and updating the service record
// leaves a version numbered past svc.Latest. It is never served (the next
// deploy numbers past it) and is not listed.
func Acknowledged(svc api.Service, vs []api.Version) []api.Version {
	return slices.DeleteFunc(vs, func(v api.Version) bool { return v.Number > svc.Latest })
}
