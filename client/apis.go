package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"

	"github.com/mote-run/mote/api"
)

// Stats summarizes a service's traffic over the last window (1s to 24h;
// zero means one hour), split by by: "" (one group), "app", "version",
// "route" or "status". An unknown service is an *api.Error with Code
// api.CodeNotFound; a bad window or dimension one with Code
// api.CodeBadRequest.
//
//	st, err := c.Stats(ctx, "hello", time.Hour, "app")
//	for _, g := range st.Groups {
//		fmt.Println(g.Key, g.Requests, g.P99)
//	}
func (c *Client) Stats(ctx context.Context, service string, window time.Duration, by string) (api.Stats, error) {
	p, err := servicePath(service, "/stats")
	if err != nil {
		return api.Stats{}, err
	}
	q := url.Values{}
	if window > 0 {
		q.Set("since", window.String())
	}
	if by != "" {
		q.Set("by", by)
	}
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	var st api.Stats
	err = c.callJSON(ctx, request{method: http.MethodGet, path: p}, &st)
	return st, err
}

// SetLifecycle sets a service's lifecycle (draft, published, deprecated
// or retired, with an optional sunset time and link), overriding the
// [lifecycle] of the version it serves; the override outlives deploys.
// It returns once the gateway applies it.
//
//	sunset := time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC)
//	svc, err := c.SetLifecycle(ctx, "hello", api.Lifecycle{State: api.LifecycleDeprecated, Sunset: &sunset})
func (c *Client) SetLifecycle(ctx context.Context, service string, lc api.Lifecycle) (api.Service, error) {
	p, err := servicePath(service, "/lifecycle")
	if err != nil {
		return api.Service{}, err
	}
	var svc api.Service
	err = c.postJSON(ctx, http.MethodPut, p, lc, &svc)
	return svc, err
}

// ClearLifecycle removes a service's lifecycle override: the [lifecycle]
// of the version it serves applies again.
func (c *Client) ClearLifecycle(ctx context.Context, service string) (api.Service, error) {
	p, err := servicePath(service, "/lifecycle")
	if err != nil {
		return api.Service{}, err
	}
	var svc api.Service
	err = c.callJSON(ctx, request{method: http.MethodDelete, path: p}, &svc)
	return svc, err
}

// APIs lists the node's API catalog: every service that ships an OpenAPI
// document ([openapi] in its mote.toml), sorted by name.
func (c *Client) APIs(ctx context.Context) ([]api.APIDoc, error) {
	var out []api.APIDoc
	err := c.callJSON(ctx, request{method: http.MethodGet, path: "/v1/apis"}, &out)
	return out, err
}

// APIDocument returns a service's OpenAPI document (JSON) with its servers
// set to the service's URL on the gateway. A service without a document is
// an *api.Error with Code api.CodeNotFound.
func (c *Client) APIDocument(ctx context.Context, service string) (json.RawMessage, error) {
	p, err := servicePath(service, "/openapi")
	if err != nil {
		return nil, err
	}
	var doc json.RawMessage
	err = c.callJSON(ctx, request{method: http.MethodGet, path: p}, &doc)
	return doc, err
}
