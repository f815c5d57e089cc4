package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/mote-run/mote/api"
)

// Health returns nil when the node's admin listener answers GET /healthz
// with 2xx: the node is up. It sends no token. A node that is not running
// gives an error matching ErrUnreachable.
//
//	if err := c.Health(ctx); errors.Is(err, client.ErrUnreachable) { ... }
func (c *Client) Health(ctx context.Context) error {
	_, err := c.readAll(ctx, request{method: http.MethodGet, path: "/healthz", noAuth: true})
	return err
}

// Ready returns nil when the node is ready to serve (GET /readyz answers
// 2xx), and an *api.Error with Code api.CodeNotReady while it is starting.
// It sends no token.
//
//	err := c.Ready(ctx) // nil, or not_ready: ...
func (c *Client) Ready(ctx context.Context) error {
	_, err := c.readAll(ctx, request{method: http.MethodGet, path: "/readyz", noAuth: true})
	return err
}

// Info describes the node: its version, gateway and admin URLs, data dir.
//
//	info, err := c.Info(ctx)
//	fmt.Println("gateway at", info.GatewayURL)
func (c *Client) Info(ctx context.Context) (api.NodeInfo, error) {
	var info api.NodeInfo
	err := c.callJSON(ctx, request{method: http.MethodGet, path: "/v1/info"}, &info)
	return info, err
}

// Metrics returns the node's metrics in the Prometheus text format.
//
//	text, err := c.Metrics(ctx)
func (c *Client) Metrics(ctx context.Context) (string, error) {
	b, err := c.readAll(ctx, request{method: http.MethodGet, path: "/metrics", accept: "text/plain"})
	return string(b), err
}

// OpenAPI returns the OpenAPI 3.1 document describing the admin API, as
// JSON.
//
//	doc, err := c.OpenAPI(ctx)
//	os.WriteFile("mote-openapi.json", doc, 0o644)
func (c *Client) OpenAPI(ctx context.Context) ([]byte, error) {
	return c.readAll(ctx, request{method: http.MethodGet, path: "/v1/openapi.json", accept: "application/json"})
}

// Services lists the node's services, sorted by name; empty when none.
//
//	svcs, err := c.Services(ctx)
//	for _, s := range svcs {
//		fmt.Println(s.Name, s.Route, s.Version)
//	}
func (c *Client) Services(ctx context.Context) ([]api.Service, error) {
	var svcs []api.Service
	err := c.callJSON(ctx, request{method: http.MethodGet, path: "/v1/services"}, &svcs)
	return svcs, err
}

// Service returns one service with its versions (newest first) and live
// instances. An unknown name is an *api.Error with Code api.CodeNotFound; a
// malformed one is ErrInvalidName, without asking the node.
//
//	d, err := c.Service(ctx, "hello")
//	fmt.Println(d.Route, len(d.Versions), "versions")
func (c *Client) Service(ctx context.Context, name string) (api.ServiceDetail, error) {
	var d api.ServiceDetail
	p, err := servicePath(name, "")
	if err != nil {
		return d, err
	}
	err = c.callJSON(ctx, request{method: http.MethodGet, path: p}, &d)
	return d, err
}

// DeleteService removes a service, its versions and its route. An unknown
// name is an *api.Error with Code api.CodeNotFound.
//
//	err := c.DeleteService(ctx, "hello")
func (c *Client) DeleteService(ctx context.Context, name string) error {
	p, err := servicePath(name, "")
	if err != nil {
		return err
	}
	return c.callJSON(ctx, request{method: http.MethodDelete, path: p}, nil)
}

// Versions lists a service's versions, newest first, each with its share
// of the traffic, its tag and its state (api.VersionServing, ...).
//
//	vs, err := c.Versions(ctx, "hello")
//	fmt.Println("latest:", vs[0].Number, vs[0].Digest, vs[0].Weight, vs[0].State)
func (c *Client) Versions(ctx context.Context, name string) ([]api.VersionStatus, error) {
	p, err := servicePath(name, "/versions")
	if err != nil {
		return nil, err
	}
	var vs []api.VersionStatus
	err = c.callJSON(ctx, request{method: http.MethodGet, path: p}, &vs)
	return vs, err
}

// Instances lists the running instances of service, or of every service
// when service is "".
//
//	all, err := c.Instances(ctx, "")
//	mine, err := c.Instances(ctx, "hello")
func (c *Client) Instances(ctx context.Context, service string) ([]api.Instance, error) {
	r := request{method: http.MethodGet, path: "/v1/instances"}
	if service != "" {
		if err := checkName(service); err != nil {
			return nil, err
		}
		r.query = url.Values{"service": {service}}
	}
	var is []api.Instance
	err := c.callJSON(ctx, r, &is)
	return is, err
}

// servicePath returns the escaped path of a service's resource: rest is ""
// or starts with "/".
func servicePath(name, rest string) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	return "/v1/services/" + url.PathEscape(name) + rest, nil
}

// checkName validates a service name: [a-z0-9-]{1,63}. Checking here gives
// a clear error for "Hello" and keeps names like ".." out of URLs.
func checkName(name string) error {
	if len(name) < 1 || len(name) > 63 {
		return fmt.Errorf("%w %q: names are 1-63 characters of a-z, 0-9 and -", ErrInvalidName, name)
	}
	for i := 0; i < len(name); i++ {
		if b := name[i]; !(b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '-') {
			return fmt.Errorf("%w %q: names are 1-63 characters of a-z, 0-9 and -", ErrInvalidName, name)
		}
	}
	return nil
}
