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

// Deploy makes a new version of the service req's manifest names and routes
// all of the service's traffic to it. The module is compiled and checked
// before anything is stored, so a bad module changes nothing. When the
// artifact and manifest equal the serving version's, no version is made and
// the result says Unchanged. Deploy returns once the gateway serves the new
// version. Errors are *api.Error values with precise messages.
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
		return res, &api.Error{Code: api.CodeInvalidManifest, Status: 400,
			Message: "[container] services are not supported by this node yet",
			Hint:    "use a [wasm] table with module = \"NAME.wasm\""}
	}
	if err := c.checkBlobs(ctx, req); err != nil {
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
	if exists {
		cur, err := c.opts.Store.Version(ctx, m.Name, svc.Version)
		if err == nil && cur.Digest == digest && cur.Manifest == req.Manifest {
			svc.URL = c.url(svc.Route)
			return api.DeployResult{Service: svc, Version: cur, Unchanged: true}, nil
		}
	}
	if err := c.checkRoute(m); err != nil {
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
		ABI:      m.Wasm.ABI,
		Manifest: req.Manifest,
		Size:     c.size(ctx, req),
		Created:  now,
	}
	// Load before storing anything: a module the driver refuses is
	// reported now, with the driver's reasons, and leaves no trace.
	vr, err := c.newVersionRunner(ctx, v, svc.Lifecycle)
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
	svc.Route, svc.Version, svc.Latest = m.Route, v.Number, v.Number
	svc.Traffic = []api.TrafficSplit{{Version: v.Number, Weight: 100}}
	svc.ABI, svc.Digest, svc.Updated = v.ABI, v.Digest, now

	c.mu.Lock()
	c.prepared[versionKey{v.Service, v.Number}] = vr
	c.mu.Unlock()
	if exists {
		_, err = c.opts.Store.UpdateService(ctx, svc, rev)
	} else {
		_, err = c.opts.Store.CreateService(ctx, svc)
	}
	if err != nil {
		c.mu.Lock()
		delete(c.prepared, versionKey{v.Service, v.Number})
		c.mu.Unlock()
		_ = vr.Close(ctx)
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrExists) {
			return res, &api.Error{Code: api.CodeConflict, Status: 409,
				Message: fmt.Sprintf("service %s was changed by another deploy at the same time", m.Name),
				Hint:    "run the deploy again"}
		}
		return res, internal("store service: %v", err)
	}
	c.serviceLog(v.Service, v.Number, "info", fmt.Sprintf("deployed version %d (%s)", v.Number, v.Digest))

	if err := c.waitFor(ctx, func() bool {
		cur := c.current[v.Service]
		return cur != nil && cur.version.Number >= v.Number
	}); err != nil {
		return res, internal("version %d is stored but not yet served: %v", v.Number, err)
	}
	svc.URL = c.url(svc.Route)
	return api.DeployResult{Service: svc, Version: v}, nil
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
func (c *Controller) checkRoute(m *manifest.Manifest) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, vr := range c.current {
		if name != m.Name && vr.target.Route == m.Route {
			return &api.Error{Code: api.CodeConflict, Status: 409,
				Message: fmt.Sprintf("route %s is already served by service %s", m.Route, name),
				Hint:    fmt.Sprintf("set another route in mote.toml (route = \"/%s\"), or remove %s with: mote rm %s", m.Name, name, name)}
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
		if errors.Is(err, store.ErrNotFound) {
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
