package gateway

import (
	"strings"

	"github.com/mote-run/mote/internal/metrics"
	"github.com/mote-run/mote/internal/sandbox"
)

// Target is one routable service: the version serving it and its limits.
type Target struct {
	Service string
	Route   string
	Version int
	Runner  sandbox.Runner
	// MaxBody caps the request body in bytes ([limits] body).
	MaxBody int64
	// Metrics are the service's cached metric children; nil disables metrics.
	Metrics *metrics.ServiceMetrics
	// Policy is the service's API management; nil applies none.
	Policy *Policy
}

// Table maps route prefixes to targets. It is immutable once built: the node
// builds a new one on every change and swaps it in atomically, so the request
// path never takes a lock.
type Table struct {
	byRoute   map[string]*Target
	byService map[string]*Target
}

// NewTable builds a table. Routes must be unique; a later duplicate wins.
func NewTable(targets []*Target) *Table {
	t := &Table{byRoute: make(map[string]*Target, len(targets)), byService: make(map[string]*Target, len(targets))}
	for _, tg := range targets {
		t.byRoute[tg.Route] = tg
		t.byService[tg.Service] = tg
	}
	return t
}

// Len is the number of routes.
func (t *Table) Len() int { return len(t.byRoute) }

// Service returns the target of a service by name.
func (t *Table) Service(name string) (*Target, bool) {
	tg, ok := t.byService[name]
	return tg, ok
}

// Targets returns every target, in no particular order.
func (t *Table) Targets() []*Target {
	out := make([]*Target, 0, len(t.byService))
	for _, tg := range t.byService {
		out = append(out, tg)
	}
	return out
}

// Lookup finds the longest route that is a prefix of path on a segment
// boundary ("/hello" matches "/hello" and "/hello/x", not "/helloworld") and
// returns its target and the rest of the path. The route "/" matches any path.
// Lookup costs one map probe per path segment.
func (t *Table) Lookup(path string) (*Target, string, bool) {
	if tg, ok := t.byRoute[path]; ok && path != "/" {
		return tg, "", true
	}
	for i := strings.LastIndexByte(path, '/'); i > 0; i = strings.LastIndexByte(path[:i], '/') {
		if tg, ok := t.byRoute[path[:i]]; ok {
			return tg, path[i:], true
		}
	}
	if tg, ok := t.byRoute["/"]; ok {
		return tg, path, true
	}
	return nil, "", false
}
