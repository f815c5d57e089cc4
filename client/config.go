package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/mote-run/mote/api"
)

// SetConfig sets configuration values of a service, which the service
// reads through the config capability (`[allow] config = true` in its
// mote.toml). Every key in values is set, replacing any value it had; keys
// not named keep theirs. With secret true the values are secrets: the node
// never shows them again (Config returns them as ""), only the service
// reads them.
//
// The service must exist (an *api.Error with Code api.CodeNotFound
// otherwise). A key the node does not accept is an *api.Error with Code
// api.CodeBadRequest naming the key and the rule. An empty values is
// ErrInvalidConfig, without asking the node. No error ever holds a value.
//
//	err := c.SetConfig(ctx, "api", map[string]string{"DB_PASSWORD": pw}, true)
func (c *Client) SetConfig(ctx context.Context, service string, values map[string]string, secret bool) error {
	p, err := servicePath(service, "/config")
	if err != nil {
		return err
	}
	if len(values) == 0 {
		return fmt.Errorf("%w: no values to set for %s", ErrInvalidConfig, service)
	}
	for k := range values {
		if k == "" {
			return fmt.Errorf("%w: a key is empty", ErrInvalidConfig)
		}
	}
	return c.postJSON(ctx, http.MethodPut, p, api.ConfigRequest{Values: values, Secret: secret}, nil)
}

// Config lists a service's configuration, sorted by key; empty when it has
// none. A secret's Value is always "" (its Secret is true): secrets are
// written, never read back. An unknown service is an *api.Error with Code
// api.CodeNotFound.
//
//	entries, err := c.Config(ctx, "api")
//	for _, e := range entries {
//		fmt.Println(e.Key, e.Value, e.Secret)
//	}
func (c *Client) Config(ctx context.Context, service string) ([]api.ConfigEntry, error) {
	p, err := servicePath(service, "/config")
	if err != nil {
		return nil, err
	}
	var entries []api.ConfigEntry
	err = c.callJSON(ctx, request{method: http.MethodGet, path: p}, &entries)
	return entries, err
}

// DeleteConfig removes one configuration value of a service. An unknown
// service or key is an *api.Error with Code api.CodeNotFound; an empty key
// is ErrInvalidConfig.
//
//	err := c.DeleteConfig(ctx, "api", "DB_PASSWORD")
func (c *Client) DeleteConfig(ctx context.Context, service, key string) error {
	if key == "" {
		return fmt.Errorf("%w: the key is empty", ErrInvalidConfig)
	}
	p, err := servicePath(service, "/config/"+url.PathEscape(key))
	if err != nil {
		return err
	}
	return c.callJSON(ctx, request{method: http.MethodDelete, path: p}, nil)
}
