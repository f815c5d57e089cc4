package client

import (
	"context"
	"net/http"

	"github.com/mote-run/mote/api"
)

// SetTraffic replaces a service's traffic split and returns the service
// once the node serves the new split. Every version named must exist, the
// weights (0 to 100) must sum to 100, and tags (1 to 32 of a-z, 0-9, -)
// must be unique; versions not named stop taking requests, and finish the
// ones they started. Bad splits are an *api.Error with Code
// api.CodeBadRequest whose message names the problem; an unknown service
// or version one with api.CodeNotFound.
//
//	svc, err := c.SetTraffic(ctx, "hello", []api.TrafficSplit{
//		{Version: 3, Weight: 90},
//		{Version: 4, Weight: 10, Tag: "canary"},
//	})
func (c *Client) SetTraffic(ctx context.Context, service string, split []api.TrafficSplit) (api.Service, error) {
	return c.SetTrafficGuarded(ctx, service, split, nil)
}

// SetTrafficGuarded is SetTraffic with a canary guard: while the split
// stands, the node rolls the service back to the last version that had
// all of the traffic as soon as another version in the split answers more
// than guard.MaxErrorRate of its requests (at least guard.MinRequests, 20
// by default) with a 5xx over the last minute. A nil guard clears it.
//
//	svc, err := c.SetTrafficGuarded(ctx, "hello", split, &api.CanaryGuard{MaxErrorRate: 0.05})
func (c *Client) SetTrafficGuarded(ctx context.Context, service string, split []api.TrafficSplit, guard *api.CanaryGuard) (api.Service, error) {
	p, err := servicePath(service, "/traffic")
	if err != nil {
		return api.Service{}, err
	}
	var svc api.Service
	err = c.postJSON(ctx, http.MethodPut, p, api.TrafficRequest{Traffic: split, Guard: guard}, &svc)
	return svc, err
}

// Rollback gives all of a service's traffic back to the previous version
// that had all of it (api.Service.Stable) and returns the service once the
// node serves it. Tagged versions keep their tags. Rolling back again goes
// one version further back. With no earlier version to go back to, the
// error is an *api.Error with Code api.CodeConflict.
//
//	svc, err := c.Rollback(ctx, "hello")
//	fmt.Println("serving version", svc.Version)
func (c *Client) Rollback(ctx context.Context, service string) (api.Service, error) {
	p, err := servicePath(service, "/rollback")
	if err != nil {
		return api.Service{}, err
	}
	var svc api.Service
	err = c.callJSON(ctx, request{method: http.MethodPost, path: p}, &svc)
	return svc, err
}

// SetScale overrides the [scale] min and max of every version of a
// service (a nil field keeps each version's own) and returns the service
// once the node applies it, without a new version. The override outlives
// deploys; ClearScale removes it. Out-of-range values are an *api.Error
// with Code api.CodeBadRequest.
//
//	lo, hi := 1, 50
//	svc, err := c.SetScale(ctx, "hello", api.Scale{Min: &lo, Max: &hi})
func (c *Client) SetScale(ctx context.Context, service string, s api.Scale) (api.Service, error) {
	p, err := servicePath(service, "/scale")
	if err != nil {
		return api.Service{}, err
	}
	var svc api.Service
	err = c.postJSON(ctx, http.MethodPut, p, s, &svc)
	return svc, err
}

// ClearScale removes a service's scale override: each version's [scale]
// applies again.
func (c *Client) ClearScale(ctx context.Context, service string) (api.Service, error) {
	p, err := servicePath(service, "/scale")
	if err != nil {
		return api.Service{}, err
	}
	var svc api.Service
	err = c.callJSON(ctx, request{method: http.MethodDelete, path: p}, &svc)
	return svc, err
}
