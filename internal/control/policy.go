package control

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/cors"
	"github.com/mote-run/mote/internal/gateway"
	"github.com/mote-run/mote/internal/ipfilter"
	"github.com/mote-run/mote/internal/jwt"
	"github.com/mote-run/mote/internal/manifest"
	"github.com/mote-run/mote/internal/openapi"
	"github.com/mote-run/mote/internal/store"
)

// policyFor compiles a version's API management rules from its manifest,
// with the service's lifecycle override (set by `mote lifecycle`) in place
// of the manifest's [lifecycle] when there is one. It returns nil when the
// version has no rules, which keeps the gateway's request path bare.
func (c *Controller) policyFor(ctx context.Context, v api.Version, m *manifest.Manifest, override *api.Lifecycle) (*gateway.Policy, error) {
	lc := api.Lifecycle{State: m.Lifecycle.State, Sunset: m.Lifecycle.Sunset, Link: m.Lifecycle.Link}
	if override != nil {
		lc = *override
	}
	plain := lc.State == "" || lc.State == api.LifecyclePublished
	if !m.Auth.RequireKey && m.Auth.JWT == nil && m.CORS == nil && m.IP == nil && m.OpenAPI == nil && plain && lc.Sunset == nil {
		return nil, nil
	}
	p := &gateway.Policy{RequireKey: m.Auth.RequireKey, Lifecycle: lc, Deprecated: m.Lifecycle.Deprecated}
	if j := m.Auth.JWT; j != nil {
		p.JWT = &gateway.JWTRule{
			Options: jwt.Options{Issuer: j.Issuer, Audience: j.Audience, Leeway: time.Duration(j.Leeway)},
			Claims:  j.Claims,
		}
	}
	if cc := m.CORS; cc != nil {
		pol, err := cors.New(cors.Config{
			Origins: cc.Origins, Methods: cc.Methods, Headers: cc.Headers, Expose: cc.Expose,
			Credentials: cc.Credentials, MaxAge: time.Duration(cc.MaxAge),
		})
		if err != nil {
			return nil, fmt.Errorf("[cors]: %w", err)
		}
		p.CORS = pol
	}
	if ip := m.IP; ip != nil {
		p.IP = ipfilter.New(ip.Allow, ip.Deny)
	}
	if o := m.OpenAPI; o != nil {
		doc, err := c.openAPIDoc(ctx, v, o.Spec)
		if err != nil {
			return nil, err
		}
		p.OpenAPI, p.Validate = doc, o.Validate
	}
	return p.Prepare(), nil
}

// openAPIDoc reads and compiles the API document a version ships.
func (c *Controller) openAPIDoc(ctx context.Context, v api.Version, spec string) (*openapi.Doc, error) {
	digest, ok := v.Files[spec]
	if !ok {
		return nil, fmt.Errorf("[openapi] spec: %s is not in the package", spec)
	}
	b, err := c.opts.Store.Blob(ctx, digest)
	if err != nil {
		return nil, fmt.Errorf("[openapi] spec %s: %w", spec, err)
	}
	doc, err := openapi.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("[openapi] spec %s: %w", spec, err)
	}
	return doc, nil
}

// sameLifecycle reports whether two lifecycle overrides are equal.
func sameLifecycle(a, b *api.Lifecycle) bool {
	return reflect.DeepEqual(a, b)
}

// relabel applies a changed lifecycle override to the version serving svc.
func (c *Controller) relabel(ctx context.Context, vr *versionRunner, svc api.Service) {
	if err := c.rebuildPolicy(ctx, vr, svc.Lifecycle); err != nil {
		c.logger.Error("cannot apply lifecycle", "service", svc.Name, "err", err)
		c.serviceLog(svc.Name, svc.Version, "error", fmt.Sprintf("cannot apply the lifecycle: %v", err))
		return
	}
	c.mu.Lock()
	if c.current[svc.Name] == vr {
		c.publishLocked()
	}
	c.mu.Unlock()
	state := "the manifest's"
	if svc.Lifecycle != nil {
		state = svc.Lifecycle.State
	}
	c.serviceLog(svc.Name, svc.Version, "info", "lifecycle is now "+state)
}

// rebuildPolicy gives vr a new target whose policy has the override
// lifecycle. Requests already routed finish with the old target.
func (c *Controller) rebuildPolicy(ctx context.Context, vr *versionRunner, lifecycle *api.Lifecycle) error {
	policy, err := c.policyFor(ctx, vr.version, vr.manifest, lifecycle)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t := *vr.target
	t.Policy = policy
	vr.target, vr.lifecycle = &t, lifecycle
	return nil
}

// SetLifecycle sets (or, with nil, clears) a service's lifecycle override
// and returns once the gateway applies it. The override outlives deploys:
// it is the service's state, where a manifest's [lifecycle] is a
// version's. Errors are *api.Error values.
func (c *Controller) SetLifecycle(ctx context.Context, name string, lc *api.Lifecycle) (api.Service, error) {
	if lc != nil {
		if err := checkLifecycle(lc); err != nil {
			return api.Service{}, err
		}
	}
	c.deployMu.Lock()
	defer c.deployMu.Unlock()
	svc, rev, err := c.opts.Store.Service(ctx, name)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return svc, &api.Error{Code: api.CodeNotFound, Status: 404, Message: fmt.Sprintf("no service named %s", name), Hint: "list services with: mote ls"}
		}
		return svc, internal("read service %s: %v", name, err)
	}
	svc.Lifecycle = lc
	svc.Updated = time.Now().UTC()
	if _, err := c.opts.Store.UpdateService(ctx, svc, rev); err != nil {
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
			return svc, &api.Error{Code: api.CodeConflict, Status: 409, Message: fmt.Sprintf("service %s changed while its lifecycle was being set", name), Hint: "run the command again"}
		}
		return svc, internal("store service %s: %v", name, err)
	}
	err = c.waitFor(ctx, func() bool {
		cur := c.current[name]
		return cur == nil || sameLifecycle(cur.lifecycle, lc)
	})
	if err != nil {
		return svc, internal("the lifecycle is stored but not yet applied: %v", err)
	}
	svc.URL = c.url(svc.Route)
	return svc, nil
}

// checkLifecycle validates an override from the admin API.
func checkLifecycle(lc *api.Lifecycle) error {
	switch lc.State {
	case api.LifecycleDraft, api.LifecyclePublished, api.LifecycleDeprecated, api.LifecycleRetired:
	default:
		return api.Errorf(api.CodeBadRequest, "lifecycle state %q is not one of draft, published, deprecated, retired", lc.State)
	}
	if lc.Link != "" {
		u, err := url.Parse(lc.Link)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return api.Errorf(api.CodeBadRequest, "lifecycle link %q is not an absolute http(s) URL", lc.Link)
		}
	}
	return nil
}

// APIs lists the services that ship an OpenAPI document: the node's API
// catalog, sorted by service name.
func (c *Controller) APIs() []api.APIDoc {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := []api.APIDoc{}
	for _, vr := range c.current {
		p := vr.target.Policy
		if p == nil || p.OpenAPI == nil {
			continue
		}
		state := p.Lifecycle.State
		if state == "" {
			state = api.LifecyclePublished
		}
		out = append(out, api.APIDoc{
			Service: vr.version.Service, Version: vr.version.Number, Route: vr.target.Route,
			Title: p.OpenAPI.Title, APIVersion: p.OpenAPI.Version, Lifecycle: state, Validate: p.Validate,
		})
	}
	slices.SortFunc(out, func(a, b api.APIDoc) int { return strings.Compare(a.Service, b.Service) })
	return out
}

// APIDocument renders the OpenAPI document of the version serving a
// service, with its servers pointing at the gateway. Errors are *api.Error
// values (404 when the service is unknown or ships no document).
func (c *Controller) APIDocument(name string) ([]byte, error) {
	c.mu.Lock()
	vr := c.current[name]
	c.mu.Unlock()
	if vr == nil {
		return nil, &api.Error{Code: api.CodeNotFound, Status: 404, Message: fmt.Sprintf("no service named %s is serving", name), Hint: "list services with: mote ls"}
	}
	c.mu.Lock()
	p := vr.target.Policy
	c.mu.Unlock()
	if p == nil || p.OpenAPI == nil {
		return nil, &api.Error{Code: api.CodeNotFound, Status: 404, Message: fmt.Sprintf("%s ships no OpenAPI document", name),
			Hint: "add [openapi] spec = \"openapi.json\" to its mote.toml and deploy"}
	}
	base := ""
	if c.opts.GatewayURL != nil {
		base = c.opts.GatewayURL()
	}
	return p.OpenAPI.Render(ServiceURL(base, vr.target.Route))
}
