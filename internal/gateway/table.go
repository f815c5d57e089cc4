package gateway

import (
	"math/rand/v2"
	"strings"

	"github.com/mote-run/mote/internal/metrics"
	"github.com/mote-run/mote/internal/sandbox"
)

// Target is one routable version of a service and its limits.
type Target struct {
	Service string
	// Route is the service's route; every version of a service shares it.
	Route   string
	Version int
	Runner  sandbox.Runner
	// MaxBody caps the request body in bytes ([limits] body).
	MaxBody int64
	// Metrics are the service's cached metric children; nil disables metrics.
	Metrics *metrics.ServiceMetrics
	// Policy is the version's API management; nil applies none.
	Policy *Policy
}

// Backend is one version behind a service's route: its target, its share
// of the route's requests and its tag.
type Backend struct {
	*Target
	// Weight is the backend's share of its service's requests: Weight over
	// the sum of the service's weights. Zero takes no share.
	Weight int
	// Tag, when set, makes the backend reachable at Route+"@"+Tag ("/@"+Tag
	// for the root route) and with the X-Mote-Tag header, whatever its
	// weight.
	Tag string
}

// Table maps route prefixes to services' weighted versions. It is
// immutable once built: the node builds a new one on every change and
// swaps it in atomically, so the request path never takes a lock.
type Table struct {
	byRoute   map[string]routeRef
	byService map[string]*entry
}

// routeRef is what a route prefix leads to: a service, and for a tag
// route the tag.
type routeRef struct {
	e           *entry
	prefix, tag string
}

// entry is a service's weighted and tagged versions.
type entry struct {
	service string
	targets []*Target // weight > 0, in the order given
	cum     []int     // cumulative weights; cum[len-1] is the total
	primary *Target   // the largest weight (the last given on a tie)
	tags    []tagged  // few: a linear scan beats a map
}

type tagged struct {
	tag    string
	target *Target
}

// NewTable builds a table from every service's backends. A service's
// route is its first backend's. A service whose backends all have weight
// zero is reachable only by its tags. Routes should be unique; a later
// service's duplicate wins, and a service's route wins over another's tag
// route ("/a@x" over the tag x of the service at "/a").
func NewTable(backends []Backend) *Table {
	t := &Table{byRoute: map[string]routeRef{}, byService: map[string]*entry{}}
	routes := map[string]string{} // service -> route
	for _, b := range backends {
		e := t.byService[b.Service]
		if e == nil {
			e = &entry{service: b.Service}
			t.byService[b.Service] = e
			routes[b.Service] = b.Route
		}
		if b.Weight > 0 {
			total := b.Weight
			if n := len(e.cum); n > 0 {
				total += e.cum[n-1]
			}
			e.targets = append(e.targets, b.Target)
			e.cum = append(e.cum, total)
			if e.primary == nil || b.Weight >= weightOf(e, e.primary) {
				e.primary = b.Target
			}
		}
		if b.Tag != "" {
			e.tags = append(e.tags, tagged{b.Tag, b.Target})
		}
	}
	for _, b := range backends {
		if e := t.byService[b.Service]; routes[b.Service] == b.Route {
			t.byRoute[b.Route] = routeRef{e: e, prefix: b.Route}
		}
	}
	for name, e := range t.byService {
		if e.primary == nil && len(e.tags) > 0 {
			e.primary = e.tags[0].target
		}
		for _, tt := range e.tags {
			tr := TagRoute(routes[name], tt.tag)
			if _, taken := t.byRoute[tr]; !taken {
				t.byRoute[tr] = routeRef{e: e, prefix: tr, tag: tt.tag}
			}
		}
	}
	return t
}

// weightOf is tg's weight in e.
func weightOf(e *entry, tg *Target) int {
	for i, x := range e.targets {
		if x == tg {
			if i == 0 {
				return e.cum[0]
			}
			return e.cum[i] - e.cum[i-1]
		}
	}
	return 0
}

// TagRoute is the route at which a tagged version of the service at route
// is served: "/hello" and "canary" give "/hello@canary", "/" gives
// "/@canary".
func TagRoute(route, tag string) string {
	if route == "/" {
		return "/@" + tag
	}
	return route + "@" + tag
}

// pick chooses a target for one request: by weight, with a random draw
// over the cumulative weights; nil when no version has a weight. It
// allocates nothing.
func (e *entry) pick() *Target {
	switch len(e.targets) {
	case 0:
		return nil
	case 1:
		return e.targets[0]
	}
	n := rand.IntN(e.cum[len(e.cum)-1])
	for i, c := range e.cum {
		if n < c {
			return e.targets[i]
		}
	}
	return e.targets[len(e.targets)-1]
}

// tagged returns the target with tag.
func (e *entry) tagged(tag string) (*Target, bool) {
	for _, t := range e.tags {
		if t.tag == tag {
			return t.target, true
		}
	}
	return nil, false
}

// Len is the number of services.
func (t *Table) Len() int { return len(t.byService) }

// Service returns a service's serving target: the version with the
// largest weight (the last given on a tie), else a tagged one.
func (t *Table) Service(name string) (*Target, bool) {
	e, ok := t.byService[name]
	if !ok || e.primary == nil {
		return nil, false
	}
	return e.primary, true
}

// Pick returns the target for one request to a service: the version
// tagged tag when tag is not "", else one drawn by weight. ok is false
// when the service is unknown or has no such tag.
func (t *Table) Pick(name, tag string) (*Target, bool) {
	e, ok := t.byService[name]
	if !ok {
		return nil, false
	}
	if tag != "" {
		return e.tagged(tag)
	}
	tg := e.pick()
	return tg, tg != nil
}

// Version returns the target serving a version of a service, if it is
// routed.
func (t *Table) Version(name string, version int) (*Target, bool) {
	e, ok := t.byService[name]
	if !ok {
		return nil, false
	}
	for _, tg := range e.targets {
		if tg.Version == version {
			return tg, true
		}
	}
	for _, tt := range e.tags {
		if tt.target.Version == version {
			return tt.target, true
		}
	}
	return nil, false
}

// Targets returns every routed version's target, in no particular order.
func (t *Table) Targets() []*Target {
	var out []*Target
	for _, e := range t.byService {
		seen := len(out)
		add := func(tg *Target) {
			for _, x := range out[seen:] {
				if x == tg {
					return
				}
			}
			out = append(out, tg)
		}
		for _, tg := range e.targets {
			add(tg)
		}
		for _, tt := range e.tags {
			add(tt.target)
		}
	}
	return out
}

// Match is where a request's path leads.
type Match struct {
	// Service is the service's name.
	Service string
	// Prefix is the route that matched, as the guest sees it (its CGI
	// SCRIPT_NAME): the service's route, or a tag route like "/hello@canary".
	Prefix string
	// Rest is the path after Prefix.
	Rest string
	// Tag is the tag the route named ("" for the service's own route).
	Tag string

	entry *entry
}

// Pick returns the target for the request: the version tagged m.Tag, or
// else tag, when either is set; else one drawn by weight. ok is false when
// no version has the tag.
func (m Match) Pick(tag string) (*Target, bool) {
	if m.Tag != "" {
		tag = m.Tag
	}
	if tag != "" {
		return m.entry.tagged(tag)
	}
	tg := m.entry.pick()
	return tg, tg != nil
}

// Lookup finds the longest route that is a prefix of path on a segment
// boundary ("/hello" matches "/hello" and "/hello/x", not "/helloworld")
// and returns the match with the rest of the path. The route "/" matches
// any path. Lookup costs one map probe per path segment.
func (t *Table) Lookup(path string) (Match, bool) {
	if r, ok := t.byRoute[path]; ok && path != "/" {
		return r.match(""), true
	}
	for i := strings.LastIndexByte(path, '/'); i > 0; i = strings.LastIndexByte(path[:i], '/') {
		if r, ok := t.byRoute[path[:i]]; ok {
			return r.match(path[i:]), true
		}
	}
	if r, ok := t.byRoute["/"]; ok {
		return r.match(path), true
	}
	return Match{}, false
}

func (r routeRef) match(rest string) Match {
	return Match{Service: r.e.service, Prefix: r.prefix, Rest: rest, Tag: r.tag, entry: r.e}
}
