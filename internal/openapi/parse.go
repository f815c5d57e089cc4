package openapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
)

// methods are the operation keys of a path item, in the order of allowed lists.
var methods = []string{"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"}

func methodIndex(m string) int {
	for i, x := range methods {
		if x == m {
			return i
		}
	}
	return -1
}

// pathItem is one entry of "paths".
type pathItem struct {
	template string
	names    []string // variable names in template order
	ops      [8]*operation
	allowed  string // "GET, PUT"
}

// operation is one method of a path item.
type operation struct {
	params []*param // path, then query, then header
	body   *requestBody
}

// param is a compiled parameter.
type param struct {
	name, in   string
	required   bool
	allowEmpty bool
	schema     *schema // nil: nothing to check beyond presence
	types      typeSet // what a value is coerced to (coerceTypes)
	itemTypes  typeSet // the same for array items
	json       bool    // described by a JSON media type: decode the value as JSON
	style      string
	explode    bool
	header     string // canonical header name, for in=header
	label      string // `query parameter "limit"`
	loc        string // "query.limit"
	pathIndex  int    // for in=path: index into the matched values
}

type requestBody struct {
	required bool
	media    []mediaType // most specific first
	allowed  string
}

type mediaType struct {
	typ, sub string // "*" for a wildcard
	schema   *schema
}

// Parse compiles an OpenAPI 3.0.x or 3.1.x JSON document. Errors are
// ErrTooLarge, ErrYAML, or a *ParseError (matching ErrInvalid) naming the
// place of the problem: "paths./items/{id}.get.parameters[0]: in must be one
// of path, query, header, cookie".
func Parse(data []byte) (*Doc, error) {
	if len(data) > MaxDocSize {
		return nil, ErrTooLarge
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n\ufeff")
	trimmed = bytes.TrimPrefix(trimmed, []byte("\xef\xbb\xbf"))
	if len(trimmed) == 0 {
		return nil, perr("", "the document is empty")
	}
	if trimmed[0] != '{' {
		if looksYAML(trimmed) {
			return nil, ErrYAML
		}
		return nil, perr("", "the document must be a JSON object")
	}
	var root any
	if err := json.Unmarshal(trimmed, &root); err != nil {
		return nil, perr("", "invalid JSON: %v", err)
	}
	top, ok := root.(map[string]any)
	if !ok {
		return nil, perr("", "the document must be a JSON object")
	}
	d := &Doc{raw: bytes.Clone(trimmed), root: &node{}}
	if sw, ok := top["swagger"]; ok {
		return nil, perr("swagger", "Swagger %v is not supported; convert the document to OpenAPI 3", sw)
	}
	ver, ok := top["openapi"].(string)
	if !ok {
		return nil, perr("openapi", "required: the OpenAPI version, such as \"3.1.0\"")
	}
	if !strings.HasPrefix(ver, "3.0") && !strings.HasPrefix(ver, "3.1") {
		return nil, perr("openapi", "version %q is not supported (3.0.x or 3.1.x)", ver)
	}
	d.OpenAPI = ver
	if info, ok := top["info"].(map[string]any); ok {
		d.Title, _ = info["title"].(string)
		d.Version, _ = info["version"].(string)
	} else if _, present := top["info"]; present {
		return nil, perr("info", "must be an object")
	}
	c := &compiler{root: root, v31: strings.HasPrefix(ver, "3.1"), memo: map[string]*schema{}, regex: map[string]*regexp.Regexp{}}

	if comps, ok := top["components"].(map[string]any); ok {
		if schemas, ok := comps["schemas"].(map[string]any); ok {
			for _, name := range sortedKeys(schemas) {
				ref := "#/components/schemas/" + strings.ReplaceAll(strings.ReplaceAll(name, "~", "~0"), "/", "~1")
				if _, err := c.ref(ref, "components.schemas."+name, 0); err != nil {
					return nil, err
				}
			}
		}
	}
	paths, _ := top["paths"].(map[string]any)
	if _, present := top["paths"]; present && paths == nil {
		return nil, perr("paths", "must be an object")
	}
	if len(paths) > MaxPaths {
		return nil, perr("paths", "%d paths; at most %d are supported", len(paths), MaxPaths)
	}
	for _, tmpl := range sortedKeys(paths) {
		if err := c.pathItem(d, tmpl, paths[tmpl]); err != nil {
			return nil, err
		}
	}
	d.paths = len(paths)
	return d, nil
}

func looksYAML(b []byte) bool {
	for _, line := range strings.SplitN(string(b[:min(len(b), 4096)]), "\n", 64) {
		line = strings.TrimSpace(line)
		if line == "---" || strings.HasPrefix(line, "openapi:") || strings.HasPrefix(line, "swagger:") ||
			strings.HasPrefix(line, "info:") || strings.HasPrefix(line, "paths:") {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (c *compiler) pathItem(d *Doc, tmpl string, v any) error {
	loc := child("paths", tmpl)
	if !strings.HasPrefix(tmpl, "/") {
		return perr(loc, "a path must start with \"/\"")
	}
	v, iloc, err := c.deref(v, loc)
	if err != nil {
		return err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return perr(iloc, "a path item must be an object")
	}
	item := &pathItem{template: tmpl}
	segs := strings.Split(tmpl[1:], "/")
	dup, ok := d.root.insert(segs, item)
	if !ok {
		return perr(loc, "malformed path template: a variable is \"{name}\" within one segment")
	}
	if dup != nil {
		return perr(loc, "same path template as %s", dup.template)
	}
	seen := map[string]bool{}
	for _, n := range item.names {
		if seen[n] {
			return perr(loc, "variable %q appears twice", n)
		}
		seen[n] = true
	}
	common, err := c.params(m["parameters"], child(iloc, "parameters"), item, nil)
	if err != nil {
		return err
	}
	var allowed []string
	for i, meth := range methods {
		ov, ok := m[strings.ToLower(meth)]
		if !ok {
			continue
		}
		oloc := child(iloc, strings.ToLower(meth))
		om, ok := ov.(map[string]any)
		if !ok {
			return perr(oloc, "an operation must be an object")
		}
		op := &operation{}
		if op.params, err = c.params(om["parameters"], child(oloc, "parameters"), item, common); err != nil {
			return err
		}
		if rb, ok := om["requestBody"]; ok {
			if op.body, err = c.requestBody(rb, child(oloc, "requestBody")); err != nil {
				return err
			}
		}
		item.ops[i] = op
		allowed = append(allowed, meth)
	}
	item.allowed = strings.Join(allowed, ", ")
	return nil
}

// params compiles a parameters list; inherited are the path item's, which
// the operation's override by name and location.
func (c *compiler) params(v any, loc string, item *pathItem, inherited []*param) ([]*param, error) {
	if v == nil {
		return inherited, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, perr(loc, "must be an array")
	}
	var own []*param
	for i, pv := range list {
		p, err := c.param(pv, index(loc, i), item)
		if err != nil {
			return nil, err
		}
		for _, q := range own {
			if q.in == p.in && (q.name == p.name || p.in == "header" && strings.EqualFold(q.name, p.name)) {
				return nil, perr(index(loc, i), "duplicate parameter %q in %s", p.name, p.in)
			}
		}
		own = append(own, p)
	}
	out := append([]*param(nil), own...)
	for _, p := range inherited {
		overridden := false
		for _, q := range own {
			if q.in == p.in && q.name == p.name {
				overridden = true
			}
		}
		if !overridden {
			out = append(out, p)
		}
	}
	order := map[string]int{"path": 0, "query": 1, "header": 2}
	sort.SliceStable(out, func(i, j int) bool { return order[out[i].in] < order[out[j].in] })
	return out, nil
}

func (c *compiler) param(v any, loc string, item *pathItem) (*param, error) {
	v, ploc, err := c.deref(v, loc)
	if err != nil {
		return nil, err
	}
	if ploc != loc {
		loc = ploc
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, perr(loc, "a parameter must be an object")
	}
	p := &param{}
	if p.name, ok = m["name"].(string); !ok || p.name == "" {
		return nil, perr(loc, "name is required")
	}
	p.in, _ = m["in"].(string)
	switch p.in {
	case "path", "query", "header", "cookie":
	default:
		return nil, perr(loc, "in must be one of path, query, header, cookie")
	}
	if r, ok := m["required"]; ok {
		if p.required, ok = r.(bool); !ok {
			return nil, perr(child(loc, "required"), "must be a boolean")
		}
	}
	p.allowEmpty, _ = m["allowEmptyValue"].(bool)
	p.header = http.CanonicalHeaderKey(p.name)
	p.label = fmt.Sprintf("%s parameter %q", p.in, p.name)
	p.loc = p.in + "." + p.name
	switch p.in {
	case "path":
		p.style, p.explode = "simple", false
		p.pathIndex = -1
		for i, n := range item.names {
			if n == p.name {
				p.pathIndex = i
			}
		}
		if p.pathIndex < 0 {
			return nil, perr(loc, "path parameter %q does not appear in the path template %s", p.name, item.template)
		}
	case "query":
		p.style, p.explode = "form", true
	case "header":
		p.style, p.explode = "simple", false
	case "cookie":
		p.style, p.explode = "form", true
	}
	if s, ok := m["style"]; ok {
		if p.style, ok = s.(string); !ok {
			return nil, perr(child(loc, "style"), "must be a string")
		}
		if p.style != "form" {
			p.explode = false
		}
	}
	if e, ok := m["explode"]; ok {
		if p.explode, ok = e.(bool); !ok {
			return nil, perr(child(loc, "explode"), "must be a boolean")
		}
	}
	if sv, ok := m["schema"]; ok {
		if p.schema, err = c.schema(sv, child(loc, "schema"), 0); err != nil {
			return nil, err
		}
	} else if cv, ok := m["content"]; ok {
		cm, ok := cv.(map[string]any)
		if !ok || len(cm) != 1 {
			return nil, perr(child(loc, "content"), "must be an object with exactly one media type")
		}
		for mt, mv := range cm {
			mloc := child(child(loc, "content"), mt)
			mm, ok := mv.(map[string]any)
			if !ok {
				return nil, perr(mloc, "a media type must be an object")
			}
			if sv, ok := mm["schema"]; ok && isJSONType(mt) {
				if p.schema, err = c.schema(sv, child(mloc, "schema"), 0); err != nil {
					return nil, err
				}
				p.json = true
			}
		}
	}
	if p.in == "cookie" || p.in == "header" && ignoredHeader(p.name) {
		p.schema, p.required = nil, false
	}
	if p.schema != nil {
		p.types = coerceTypes(p.schema)
		if items := itemsOf(p.schema); items != nil {
			p.itemTypes = coerceTypes(items)
		}
	}
	return p, nil
}

func ignoredHeader(name string) bool {
	switch http.CanonicalHeaderKey(name) {
	case "Accept", "Content-Type", "Authorization":
		return true
	}
	return false
}

func (c *compiler) requestBody(v any, loc string) (*requestBody, error) {
	v, bloc, err := c.deref(v, loc)
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, perr(bloc, "a request body must be an object")
	}
	rb := &requestBody{}
	if r, ok := m["required"]; ok {
		if rb.required, ok = r.(bool); !ok {
			return nil, perr(child(bloc, "required"), "must be a boolean")
		}
	}
	content, ok := m["content"].(map[string]any)
	if !ok {
		return nil, perr(child(bloc, "content"), "required: an object of media types")
	}
	var names []string
	for _, key := range sortedKeys(content) {
		mloc := child(child(bloc, "content"), key)
		typ, sub, ok := splitMediaType(key)
		if !ok {
			return nil, perr(mloc, "malformed media type %q", key)
		}
		mt := mediaType{typ: typ, sub: sub}
		mm, ok := content[key].(map[string]any)
		if !ok {
			return nil, perr(mloc, "a media type must be an object")
		}
		if sv, ok := mm["schema"]; ok {
			if mt.schema, err = c.schema(sv, child(mloc, "schema"), 0); err != nil {
				return nil, err
			}
		}
		rb.media = append(rb.media, mt)
		names = append(names, typ+"/"+sub)
	}
	sort.SliceStable(rb.media, func(i, j int) bool { return specificity(rb.media[i]) > specificity(rb.media[j]) })
	rb.allowed = strings.Join(names, ", ")
	return rb, nil
}

func specificity(m mediaType) int {
	switch {
	case m.typ == "*":
		return 0
	case m.sub == "*":
		return 1
	}
	return 2
}

// splitMediaType lowercases "Type/Sub; charset=x" into "type", "sub".
func splitMediaType(s string) (typ, sub string, ok bool) {
	s, _, _ = strings.Cut(s, ";")
	typ, sub, ok = strings.Cut(strings.ToLower(strings.TrimSpace(s)), "/")
	typ, sub = strings.TrimSpace(typ), strings.TrimSpace(sub)
	if !ok || typ == "" || sub == "" || typ == "*" && sub != "*" {
		return "", "", false
	}
	return typ, sub, true
}

func isJSONType(s string) bool {
	typ, sub, ok := splitMediaType(s)
	return ok && typ == "application" && (sub == "json" || strings.HasSuffix(sub, "+json"))
}
