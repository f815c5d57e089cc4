package openapi

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Match finds the operation for a request path below the service's route
// ("/items/42"; "" means "/") and a method. template is the matched path
// template ("/items/{id}"), "" when no path matches; ok is true when the
// template has an operation for the method (HEAD falls back to GET).
func (d *Doc) Match(method, path string) (template string, ok bool) {
	item, _, _ := d.find(path)
	if item == nil {
		return "", false
	}
	return item.template, item.op(method) != nil
}

func (d *Doc) find(path string) (*pathItem, []string, bool) {
	if path == "" {
		path = "/"
	}
	if path[0] != '/' {
		return nil, nil, true
	}
	segs, ok := splitPath(path)
	if !ok {
		return nil, nil, false
	}
	var buf [8]string
	item, vals := d.root.match(segs, buf[:0])
	return item, vals, true
}

func (it *pathItem) op(method string) *operation {
	m := strings.ToUpper(method)
	i := methodIndex(m)
	if i < 0 {
		return nil
	}
	if op := it.ops[i]; op != nil {
		return op
	}
	if m == "HEAD" {
		return it.ops[methodIndex("GET")]
	}
	return nil
}

// Validate checks a request against the document (see the package doc for
// what is checked) and returns nil or the first violation as a
// *ValidationError.
func (d *Doc) Validate(r *Request) error {
	if err := d.validate(r); err != nil {
		return err
	}
	return nil
}

func (d *Doc) validate(r *Request) *ValidationError {
	path := r.Path
	if path == "" {
		path = "/"
	}
	item, vals, ok := d.find(path)
	if !ok {
		return &ValidationError{Rule: "path", Location: "path", Message: "path " + path + " has an invalid percent-encoding"}
	}
	if item == nil {
		return &ValidationError{Rule: "path", Location: "path", Message: "path " + path + " matches no path in the API document"}
	}
	op := item.op(r.Method)
	if op == nil {
		return &ValidationError{Rule: "method", Location: "method",
			Message: "no operation for " + strings.ToUpper(r.Method) + " " + item.template + " (allowed: " + item.allowed + ")"}
	}
	c := &checker{budget: 100_000 + 16*len(r.Body)}
	for _, p := range op.params {
		if err := c.param(p, r, vals); err != nil {
			return err
		}
	}
	if op.body != nil {
		return c.body(op.body, r)
	}
	return nil
}

func (c *checker) param(p *param, r *Request, pathVals []string) *ValidationError {
	c.label, c.loc, c.path = p.label, p.loc, c.path[:0]
	var raw []string
	switch p.in {
	case "path":
		if p.pathIndex < len(pathVals) {
			raw = pathVals[p.pathIndex : p.pathIndex+1]
		}
	case "query":
		raw = r.Query[p.name]
	case "header":
		raw = r.Header[p.header]
	default:
		return nil
	}
	if raw == nil {
		if p.required {
			return c.fail("required", "required parameter is missing")
		}
		return nil
	}
	if p.schema == nil || p.allowEmpty && len(raw) == 1 && raw[0] == "" {
		return nil
	}
	if p.json {
		var v any
		if err := json.Unmarshal([]byte(raw[0]), &v); err != nil {
			return c.fail("json", "invalid JSON: "+err.Error())
		}
		return c.check(p.schema, v, 0)
	}
	if p.types&tObject != 0 {
		return nil // object styles are checked for presence only
	}
	if p.types&tArray != 0 {
		parts, ok := p.split(raw)
		if !ok {
			return nil
		}
		arr := make([]any, len(parts))
		for i, s := range parts {
			arr[i] = coerce(s, p.itemTypes)
		}
		return c.check(p.schema, arr, 0)
	}
	return c.check(p.schema, coerce(raw[0], p.types), 0)
}

// split turns the raw values of an array parameter into its items; ok is
// false for a style that is not checked.
func (p *param) split(raw []string) ([]string, bool) {
	switch p.in {
	case "path", "header":
		if p.style != "simple" {
			return nil, false
		}
		joined := strings.Join(raw, ",")
		if joined == "" {
			return []string{}, true
		}
		parts := strings.Split(joined, ",")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		return parts, true
	}
	sep := ""
	switch p.style {
	case "form":
		sep = ","
	case "spaceDelimited":
		sep = " "
	case "pipeDelimited":
		sep = "|"
	default:
		return nil, false
	}
	if p.explode {
		return raw, true
	}
	if raw[0] == "" {
		return []string{}, true
	}
	return strings.Split(raw[0], sep), true
}

// coerceTypes is the types a parameter's string is converted to: the
// schema's own, else the first found through allOf/anyOf/oneOf (looking at
// no more than 32 schemas), else those of its enum values.
func coerceTypes(s *schema) typeSet {
	seen := 0
	var walk func(s *schema) typeSet
	walk = func(s *schema) typeSet {
		if seen++; s.types != 0 || seen > 32 {
			return s.types
		}
		for _, list := range [][]*schema{s.allOf, s.anyOf, s.oneOf} {
			for _, sub := range list {
				if t := walk(sub); t != 0 {
					return t
				}
			}
		}
		var t typeSet
		for _, e := range s.enum {
			t |= typeOf(e)
		}
		if s.hasConst {
			t |= typeOf(s.constVal)
		}
		return t
	}
	return walk(s)
}

// itemsOf finds the items schema of s or of its allOf (no more than 32 schemas).
func itemsOf(s *schema) *schema {
	seen := 0
	var walk func(s *schema) *schema
	walk = func(s *schema) *schema {
		if seen++; s.items != nil || seen > 32 {
			return s.items
		}
		for _, sub := range s.allOf {
			if it := walk(sub); it != nil {
				return it
			}
		}
		return nil
	}
	return walk(s)
}

// coerce converts a parameter string to the first of types it fits:
// number, then boolean, then null (""), else it stays a string.
func coerce(s string, types typeSet) any {
	if types&(tNumber|tInteger) != 0 && isJSONNumber(s) {
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f
		}
	}
	if types&tBoolean != 0 {
		switch s {
		case "true":
			return true
		case "false":
			return false
		}
	}
	if types&tNull != 0 && s == "" && types&tString == 0 {
		return nil
	}
	return s
}

// isJSONNumber reports whether s is a number in JSON syntax (no "NaN",
// "Inf", hex or leading "+").
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(s) && s[i] == '0' {
		i++
	} else if digits() == 0 {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

func (c *checker) body(rb *requestBody, r *Request) *ValidationError {
	c.label, c.loc, c.path = "body", "body", c.path[:0]
	if len(r.Body) == 0 {
		if rb.required {
			return c.fail("required", "request body is required")
		}
		return nil
	}
	var ct string
	if r.Header != nil {
		ct = r.Header.Get("Content-Type")
	}
	c.label, c.loc = "header Content-Type", "header.Content-Type"
	if ct == "" {
		return c.fail("contentType", "content type is missing (allowed: "+rb.allowed+")")
	}
	typ, sub, ok := splitMediaType(ct)
	if !ok {
		return c.fail("contentType", "malformed content type "+strconv.Quote(ct)+" (allowed: "+rb.allowed+")")
	}
	var mt *mediaType
	for i := range rb.media {
		m := &rb.media[i]
		if (m.typ == "*" || m.typ == typ) && (m.sub == "*" || m.sub == sub) {
			mt = m
			break
		}
	}
	if mt == nil {
		return c.fail("contentType", "content type "+strconv.Quote(typ+"/"+sub)+" is not allowed (allowed: "+rb.allowed+")")
	}
	c.label, c.loc = "body", "body"
	if mt.schema == nil || typ != "application" || sub != "json" && !strings.HasSuffix(sub, "+json") {
		return nil
	}
	var v any
	if err := json.Unmarshal(r.Body, &v); err != nil {
		return c.fail("json", "invalid JSON: "+err.Error())
	}
	return c.check(mt.schema, v, 0)
}
