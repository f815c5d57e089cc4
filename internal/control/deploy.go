package control

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/manifest"
	"github.com/mote-run/mote/internal/sandbox"
	"github.com/mote-run/mote/internal/store"
)

// Deploy makes a new version of the service req's manifest names. By
// default the new version takes all of the service's traffic (versions
// that had a share drain; tagged ones keep their tags); with
// req.NoTraffic it takes none and the split stays as it was. req.Tag tags
// the new version. The module is compiled and checked before anything is
// stored, so a bad module changes nothing. When the artifact and manifest
// equal the serving version's (for NoTraffic, also the latest version's),
// no version is made and the result says Unchanged (a requested tag is
// still set on that version). Deploy returns once the gateway serves the
// new state. Errors are *api.Error values with precise messages.
func (c *Controller) Deploy(ctx context.Context, req api.DeployRequest) (res api.DeployResult, err error) {
	defer func() {
		if c.opts.Metrics == nil {
			return
		}
		switch {
		case err != nil:
			c.opts.Metrics.Deploys.WithLabelValues("failed").Inc()
		case res.Unchanged:
			c.opts.Metrics.Deploys.WithLabelValues("unchanged").Inc()
		default:
			c.opts.Metrics.Deploys.WithLabelValues("created").Inc()
		}
	}()

	m, err := manifest.Parse([]byte(req.Manifest))
	if err != nil {
		return res, manifestError(err)
	}
	if m.Container != nil {
		if _, err := c.containerDriver(); err != nil {
			return res, &api.Error{Code: api.CodeInvalidManifest, Status: 400, Message: err.Error(),
				Hint: "deploy it to a node that runs containers (Linux, root, runc installed), or use a [wasm] table"}
		}
	}
	if req.Tag != "" {
		if err := api.CheckTag(req.Tag); err != nil {
			return res, err
		}
	}
	if err := c.checkBlobs(ctx, req); err != nil {
		return res, err
	}
	abi := api.ABIContainer
	if m.Wasm != nil {
		abi = m.Wasm.ABI
	} else if err := c.checkImage(ctx, req.Module); err != nil {
		return res, err
	}
	digest := ArtifactDigest(req.Module, req.Files)

	c.deployMu.Lock()
	defer c.deployMu.Unlock()

	svc, rev, err := c.opts.Store.Service(ctx, m.Name)
	exists := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return res, internal("read service %s: %v", m.Name, err)
	}
	if !exists && req.NoTraffic {
		return res, &api.Error{Code: api.CodeConflict, Status: 409,
			Message: fmt.Sprintf("%s has no serving version yet, so its first version must take the traffic", m.Name),
			Hint:    "deploy without --no-traffic"}
	}
	if exists {
		same := []int{svc.Version}
		if req.NoTraffic {
			same = append(same, svc.Latest)
		}
		for _, n := range same {
			cur, err := c.opts.Store.Version(ctx, m.Name, n)
			if err != nil || cur.Digest != digest || cur.Manifest != req.Manifest {
				continue
			}
			if req.Tag != "" && tagOf(svc.Traffic, n) != req.Tag {
				svc, err = c.tagLocked(ctx, m.Name, n, req.Tag)
				if err != nil {
					return res, err
				}
			}
			svc.URL = c.url(svc.Route)
			return api.DeployResult{Service: svc, Version: cur, Unchanged: true}, nil
		}
	}
	route := m.Route
	if req.NoTraffic {
		route = svc.Route
	}
	if err := c.checkRoute(m.Name, route); err != nil {
		return res, err
	}

	number, err := c.nextVersion(ctx, m.Name, svc.Latest)
	if err != nil {
		return res, err
	}
	now := time.Now().UTC()
	v := api.Version{
		Service:  m.Name,
		Number:   number,
		Digest:   digest,
		Module:   req.Module,
		Files:    maps.Clone(req.Files),
		ABI:      abi,
		Manifest: req.Manifest,
		Size:     c.size(ctx, req),
		Created:  now,
	}
	// Load before storing anything: a module the driver refuses is
	// reported now, with the driver's reasons, and leaves no trace.
	vr, err := c.newVersionRunner(ctx, v, svc.Lifecycle, svc.Scale)
	if err != nil {
		return res, &api.Error{Code: api.CodeInvalidManifest, Status: 400, Message: err.Error()}
	}
	if _, err := vr.get(ctx); err != nil {
		_ = vr.Close(ctx)
		if errors.Is(err, sandbox.ErrInvalidModule) {
			return res, &api.Error{Code: api.CodeInvalidModule, Status: 400, Message: err.Error()}
		}
		return res, internal("load module: %v", err)
	}

	if err := c.opts.Store.PutVersion(ctx, v); err != nil {
		_ = vr.Close(ctx)
		return res, internal("store version: %v", err)
	}
	if !exists {
		svc = api.Service{Name: m.Name, Created: now}
	}
	seedStable(&svc)
	svc.Latest = v.Number
	svc.Updated = now
	routedNew := true
	if req.NoTraffic {
		svc.Traffic = withTag(svc.Traffic, v.Number, 0, req.Tag)
		routedNew = req.Tag != ""
	} else {
		svc.Traffic = withTag(zeroWeights(svc.Traffic), v.Number, 100, req.Tag)
		svc.Guard = nil // a version with all the traffic is no canary
		svc.Route, svc.Version = m.Route, v.Number
		svc.ABI, svc.Digest = v.ABI, v.Digest
		svc.Stable = pushStable(svc.Stable, v.Number)
	}

	key := versionKey{v.Service, v.Number}
	if routedNew {
		c.mu.Lock()
		c.prepared[key] = vr
		c.mu.Unlock()
	} else {
		_ = vr.Close(ctx)
	}
	if exists {
		rev, err = c.opts.Store.UpdateService(ctx, svc, rev)
	} else {
		rev, err = c.opts.Store.CreateService(ctx, svc)
	}
	if err != nil {
		if routedNew {
			c.mu.Lock()
			delete(c.prepared, key)
			c.mu.Unlock()
			_ = vr.Close(ctx)
		}
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrExists) {
			return res, &api.Error{Code: api.CodeConflict, Status: 409,
				Message: fmt.Sprintf("service %s was changed by another deploy at the same time", m.Name),
				Hint:    "run the deploy again"}
		}
		return res, internal("store service: %v", err)
	}
	how := "with all of the traffic"
	if req.NoTraffic {
		how = "with no traffic"
	}
	if req.Tag != "" {
		how += ", tagged " + req.Tag
	}
	c.serviceLog(v.Service, v.Number, "info", fmt.Sprintf("deployed version %d (%s) %s", v.Number, v.Digest, how))

	if err := c.waitApplied(ctx, v.Service, rev); err != nil {
		return res, internal("version %d is stored but not yet served: %v", v.Number, err)
	}
	svc.URL = c.url(svc.Route)
	return api.DeployResult{Service: svc, Version: v}, nil
}

// zeroWeights keeps only the tagged versions of a split, with no weight.
func zeroWeights(split []api.TrafficSplit) []api.TrafficSplit {
	var out []api.TrafficSplit
	for _, t := range split {
		if t.Tag != "" {
			out = append(out, api.TrafficSplit{Version: t.Version, Tag: t.Tag})
		}
	}
	return out
}

// withTag returns split with version at weight, tagged tag (taken from
// any other version that had it); untagged versions without weight are
// left out. The result is sorted by version.
func withTag(split []api.TrafficSplit, version, weight int, tag string) []api.TrafficSplit {
	var out []api.TrafficSplit
	for _, t := range split {
		if t.Version == version {
			continue
		}
		if tag != "" && t.Tag == tag {
			t.Tag = ""
		}
		if t.Weight > 0 || t.Tag != "" {
			out = append(out, t)
		}
	}
	if weight > 0 || tag != "" {
		out = append(out, api.TrafficSplit{Version: version, Weight: weight, Tag: tag})
	}
	slices.SortFunc(out, func(a, b api.TrafficSplit) int { return a.Version - b.Version })
	return out
}

// tagLocked tags an existing version of service name, keeping its weight.
// c.deployMu must be held.
func (c *Controller) tagLocked(ctx context.Context, name string, version int, tag string) (api.Service, error) {
	return c.updateLocked(ctx, name, "tag", func(svc *api.Service) error {
		svc.Traffic = withTag(svc.Traffic, version, weightOf(svc.Traffic, version), tag)
		return nil
	})
}

func weightOf(split []api.TrafficSplit, version int) int {
	for _, t := range split {
		if t.Version == version {
			return t.Weight
		}
	}
	return 0
}

// nextVersion numbers a new version. It is one past the service's latest,
// or past a version a crashed deploy stored without making it current
// (that version was never acknowledged, and versions are never rewritten).
func (c *Controller) nextVersion(ctx context.Context, name string, latest int) (int, error) {
	vs, err := c.opts.Store.Versions(ctx, name)
	if err != nil {
		return 0, internal("list versions of %s: %v", name, err)
	}
	if len(vs) > 0 && vs[0].Number > latest {
		latest = vs[0].Number
	}
	return latest + 1, nil
}

// checkBlobs makes sure every blob the request names is in the store.
func (c *Controller) checkBlobs(ctx context.Context, req api.DeployRequest) error {
	if req.Module == "" {
		return &api.Error{Code: api.CodeBadRequest, Status: 400, Message: "the deploy names no module digest",
			Hint: "upload the module with PUT /v1/blobs/{digest} and put its digest in \"module\""}
	}
	check := func(what, digest string) error {
		_, err := c.opts.Store.BlobInfo(ctx, digest)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, store.ErrNotFound):
			return &api.Error{Code: api.CodeNotFound, Status: 404,
				Message: fmt.Sprintf("%s blob %s is not uploaded", what, digest),
				Hint:    "upload it first with PUT /v1/blobs/" + digest}
		case errors.Is(err, store.ErrInvalidDigest):
			return &api.Error{Code: api.CodeBadRequest, Status: 400,
				Message: fmt.Sprintf("%s digest %q is not \"sha256:\" followed by 64 lowercase hex digits", what, digest)}
		default:
			return internal("check blob %s: %v", digest, err)
		}
	}
	if err := check("module", req.Module); err != nil {
		return err
	}
	for p, d := range req.Files {
		if err := validFilePath(p); err != nil {
			return &api.Error{Code: api.CodeBadRequest, Status: 400, Message: err.Error()}
		}
		if err := check("file "+p, d); err != nil {
			return err
		}
	}
	return nil
}

// checkRoute refuses a route another service already serves. The view in
// c.current is current for every change made through this node: changes are
// serialized by deployMu and each waits until it is applied.
func (c *Controller) checkRoute(service, route string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, s := range c.current {
		if name != service && s.svc.Route == route {
			return &api.Error{Code: api.CodeConflict, Status: 409,
				Message: fmt.Sprintf("route %s is already served by service %s", route, name),
				Hint:    fmt.Sprintf("set another route in mote.toml (route = \"/%s\"), or remove %s with: mote rm %s", service, name, name)}
		}
	}
	return nil
}

// size is the artifact's total size in bytes.
func (c *Controller) size(ctx context.Context, req api.DeployRequest) int64 {
	var n int64
	for _, d := range append([]string{req.Module}, slices.Collect(maps.Values(req.Files))...) {
		if info, err := c.opts.Store.BlobInfo(ctx, d); err == nil {
			n += info.Size
		}
	}
	return n
}

// Remove deletes a service with its versions, configuration, key-value
// namespace and logs (store.DeleteService), and returns once the gateway no
// longer routes it. In-flight requests finish.
func (c *Controller) Remove(ctx context.Context, name string) error {
	c.deployMu.Lock()
	defer c.deployMu.Unlock()
	if err := c.opts.Store.DeleteService(ctx, name); err != nil {
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidName) {
			return &api.Error{Code: api.CodeNotFound, Status: 404, Message: fmt.Sprintf("no service named %s", name),
				Hint: "list services with: mote ls"}
		}
		return internal("delete service %s: %v", name, err)
	}
	if err := c.opts.Store.DeleteLogs(ctx, name); err != nil {
		c.logger.Warn("delete logs", "service", name, "err", err)
	}
	return c.waitFor(ctx, func() bool { return c.current[name] == nil })
}

// manifestError turns a manifest's problems into an API error, one detail
// per problem.
func manifestError(err error) *api.Error {
	e := &api.Error{Code: api.CodeInvalidManifest, Status: 400, Message: "mote.toml is not valid"}
	var me *manifest.Error
	if errors.As(err, &me) {
		for _, p := range me.Problems {
			e.Details = append(e.Details, p.String())
		}
		if len(me.Problems) == 1 {
			e.Message = "mote.toml is not valid: " + me.Problems[0].String()
		}
		return e
	}
	e.Message = err.Error()
	return e
}

func internal(format string, args ...any) *api.Error {
	return &api.Error{Code: api.CodeInternal, Status: 500, Message: fmt.Sprintf(format, args...)}
}
