package openapi

import (
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// node is one level of the path template trie.
type node struct {
	literal map[string]*node
	vars    []*varEdge // most specific first
	item    *pathItem  // a template ends here
}

// varEdge is a templated segment: "{id}", "{id}.json" or "{a}-{b}".
type varEdge struct {
	raw            string
	full           bool // the whole segment is one variable
	prefix, suffix string
	re             *regexp.Regexp // more than one variable
	nvars          int
	child          *node
}

// literalLen orders edges: more literal characters is more specific.
func (e *varEdge) literalLen() int {
	if e.full {
		return -1
	}
	return len(e.prefix) + len(e.suffix) + len(e.raw) // raw also counts the braces; only the order matters
}

// pathUnescape decodes one percent-encoded path segment.
func pathUnescape(s string) (string, error) { return url.PathUnescape(s) }

// splitPath splits an escaped path into decoded segments ("" is "/").
// It reports false when a segment has a bad percent-escape.
func splitPath(p string) ([]string, bool) {
	p = strings.TrimPrefix(p, "/")
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if strings.IndexByte(s, '%') >= 0 {
			d, err := url.PathUnescape(s)
			if err != nil {
				return nil, false
			}
			segs[i] = d
		}
	}
	return segs, true
}

// parseSegment splits a template segment into its variables; names is nil
// for a literal segment.
func parseSegment(seg string) (names []string, edge *varEdge, ok bool) {
	if !strings.Contains(seg, "{") && !strings.Contains(seg, "}") {
		return nil, nil, true
	}
	edge = &varEdge{raw: seg}
	var lits []string
	rest := seg
	for {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			if strings.IndexByte(rest, '}') >= 0 {
				return nil, nil, false
			}
			lits = append(lits, rest)
			break
		}
		lit := rest[:open]
		if strings.IndexByte(lit, '}') >= 0 {
			return nil, nil, false
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return nil, nil, false
		}
		name := rest[open+1 : open+end]
		if name == "" || strings.ContainsAny(name, "{") {
			return nil, nil, false
		}
		if len(lits) > 0 && lit == "" {
			return nil, nil, false // "{a}{b}" cannot be split
		}
		lits = append(lits, lit)
		names = append(names, name)
		rest = rest[open+end+1:]
	}
	edge.nvars = len(names)
	switch {
	case len(names) == 1 && lits[0] == "" && lits[1] == "":
		edge.full = true
	case len(names) == 1:
		edge.prefix, edge.suffix = unescapeLit(lits[0]), unescapeLit(lits[1])
	default:
		var b strings.Builder
		b.WriteString("^")
		for i, lit := range lits {
			b.WriteString(regexp.QuoteMeta(unescapeLit(lit)))
			if i < len(names) {
				if i == len(names)-1 {
					b.WriteString("(.+)")
				} else {
					b.WriteString("(.+?)")
				}
			}
		}
		b.WriteString("$")
		edge.re = regexp.MustCompile(b.String())
	}
	return names, edge, true
}

func unescapeLit(s string) string {
	if d, err := url.PathUnescape(s); err == nil {
		return d
	}
	return s
}

// insert adds a template to the trie. It returns the existing item when an
// equivalent template (same shape, other variable names) is already there.
func (n *node) insert(segs []string, item *pathItem) (*pathItem, bool) {
	for _, seg := range segs {
		names, edge, ok := parseSegment(seg)
		if !ok {
			return nil, false
		}
		if names == nil {
			lit := unescapeLit(seg)
			next := n.literal[lit]
			if next == nil {
				if n.literal == nil {
					n.literal = map[string]*node{}
				}
				next = &node{}
				n.literal[lit] = next
			}
			n = next
			continue
		}
		item.names = append(item.names, names...)
		shape := shapeOf(seg)
		var next *node
		for _, e := range n.vars {
			if shapeOf(e.raw) == shape {
				next = e.child
				break
			}
		}
		if next == nil {
			edge.child = &node{}
			n.vars = append(n.vars, edge)
			sort.SliceStable(n.vars, func(i, j int) bool { return n.vars[i].literalLen() > n.vars[j].literalLen() })
			next = edge.child
		}
		n = next
	}
	if n.item != nil {
		return n.item, true
	}
	n.item = item
	return nil, true
}

// shapeOf replaces variable names with "{}".
func shapeOf(seg string) string {
	var b strings.Builder
	in := false
	for _, r := range seg {
		switch {
		case r == '{':
			in = true
			b.WriteString("{}")
		case r == '}':
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// match finds the most specific template for segs, appending variable
// values to vals in template order.
func (n *node) match(segs []string, vals []string) (*pathItem, []string) {
	if len(segs) == 0 {
		return n.item, vals
	}
	seg, rest := segs[0], segs[1:]
	if next := n.literal[seg]; next != nil {
		if item, v := next.match(rest, vals); item != nil {
			return item, v
		}
	}
	if seg == "" {
		return nil, vals
	}
	for _, e := range n.vars {
		mark := len(vals)
		switch {
		case e.full:
			vals = append(vals, seg)
		case e.re == nil:
			if len(seg) <= len(e.prefix)+len(e.suffix) || !strings.HasPrefix(seg, e.prefix) || !strings.HasSuffix(seg, e.suffix) {
				continue
			}
			vals = append(vals, seg[len(e.prefix):len(seg)-len(e.suffix)])
		default:
			m := e.re.FindStringSubmatch(seg)
			if m == nil {
				continue
			}
			vals = append(vals, m[1:]...)
		}
		if item, v := e.child.match(rest, vals); item != nil {
			return item, v
		}
		vals = vals[:mark]
	}
	return nil, vals
}
