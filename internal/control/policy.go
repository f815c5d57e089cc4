package control

import (
	"context"
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
	return c.updateLocked(ctx, name, "lifecycle", func(svc *api.Service) error {
		svc.Lifecycle = lc
		return nil
	})
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
	for _, s := range c.current {
		vr := s.primary()
		if vr == nil {
			continue
		}
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
	var vr *versionRunner
	if s := c.current[name]; s != nil {
		vr = s.primary()
	}
	var p *gateway.Policy
	var route string
	if vr != nil {
		p, route = vr.target.Policy, vr.target.Route
	}
	c.mu.Unlock()
	if vr == nil {
		return nil, &api.Error{Code: api.CodeNotFound, Status: 404, Message: fmt.Sprintf("no service named %s is serving", name), Hint: "list services with: mote ls"}
	}
	if p == nil || p.OpenAPI == nil {
		return nil, &api.Error{Code: api.CodeNotFound, Status: 404, Message: fmt.Sprintf("%s ships no OpenAPI document", name),
			Hint: "add [openapi] spec = \"openapi.json\" to its mote.toml and deploy"}
	}
	base := ""
	if c.opts.GatewayURL != nil {
		base = c.opts.GatewayURL()
	}
	return p.OpenAPI.Render(ServiceURL(base, route))
}
