package openapi

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// typeSet is a set of JSON Schema types.
type typeSet uint8

const (
	tNull typeSet = 1 << iota
	tBoolean
	tObject
	tArray
	tNumber
	tInteger
	tString
)

var typeNames = []struct {
	t    typeSet
	name string
}{
	{tString, "string"}, {tInteger, "integer"}, {tNumber, "number"}, {tBoolean, "boolean"},
	{tObject, "object"}, {tArray, "array"}, {tNull, "null"},
}

func (ts typeSet) String() string {
	var names []string
	for _, tn := range typeNames {
		if ts&tn.t != 0 {
			names = append(names, tn.name)
		}
	}
	return strings.Join(names, " or ")
}

// schema is a compiled schema. Schemas form a graph: a $ref is the
// referenced *schema itself, so cycles are possible.
type schema struct {
	never    bool // the false schema
	types    typeSet
	nullable bool // 3.0 nullable: null is valid whatever the other keywords say
	readOnly bool

	enum     []any
	hasConst bool
	constVal any

	min, max, exclMin, exclMax *float64
	multipleOf                 float64

	minLength, maxLength int // -1 when absent
	pattern              *regexp.Regexp

	minItems, maxItems int // -1 when absent
	uniqueItems        bool
	prefixItems        []*schema
	items              *schema

	properties        map[string]*schema
	patternProps      []patternProp
	additional        *schema // nil: anything goes
	required          []string
	minProps, maxProp int // -1 when absent

	allOf, anyOf, oneOf []*schema
	not                 *schema
}

type patternProp struct {
	re *regexp.Regexp
	s  *schema
}

// compiler turns the decoded document into compiled schemas and operations.
type compiler struct {
	root  any
	v31   bool
	memo  map[string]*schema // by the reference resolved to a non-reference
	regex map[string]*regexp.Regexp
}

func perr(loc, format string, args ...any) *ParseError {
	return &ParseError{Location: loc, Message: fmt.Sprintf(format, args...)}
}

func child(loc, key string) string {
	if loc == "" {
		return key
	}
	return loc + "." + key
}

func index(loc string, i int) string { return fmt.Sprintf("%s[%d]", loc, i) }

// refLoc turns "#/components/schemas/Item" into "components.schemas.Item".
func refLoc(ref string) string {
	parts := strings.Split(strings.TrimPrefix(ref, "#/"), "/")
	for i, p := range parts {
		parts[i] = unescapePointer(p)
	}
	return strings.Join(parts, ".")
}

func unescapePointer(p string) string {
	if strings.Contains(p, "%") {
		if u, err := pathUnescape(p); err == nil {
			p = u
		}
	}
	return strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")
}

// lookup resolves a local reference in the document.
func (c *compiler) lookup(ref, loc string) (any, error) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, perr(loc, "$ref %q: only local references (\"#/components/...\") are supported", ref)
	}
	cur := c.root
	for _, p := range strings.Split(ref[2:], "/") {
		p = unescapePointer(p)
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[p]
			if !ok {
				return nil, perr(loc, "$ref %q: %q not found", ref, p)
			}
			cur = next
		case []any:
			var i int
			if _, err := fmt.Sscanf(p, "%d", &i); err != nil || i < 0 || i >= len(v) || fmt.Sprint(i) != p {
				return nil, perr(loc, "$ref %q: %q not found", ref, p)
			}
			cur = v[i]
		default:
			return nil, perr(loc, "$ref %q: %q not found", ref, p)
		}
	}
	return cur, nil
}

// isAlias reports whether an object is only a reference: in 3.0 every
// object with $ref (siblings are ignored), in 3.1 one whose other keys are
// only annotations.
func (c *compiler) isAlias(m map[string]any) (string, bool) {
	ref, ok := m["$ref"].(string)
	if !ok {
		return "", false
	}
	if !c.v31 {
		return ref, true
	}
	for k := range m {
		switch k {
		case "$ref", "description", "summary", "title", "$comment", "example", "examples", "deprecated":
		default:
			return ref, false
		}
	}
	return ref, true
}

// follow resolves ref through a chain of plain references and returns the
// final reference and the value it names.
func (c *compiler) follow(ref, loc string) (string, any, error) {
	seen := []string{ref}
	for {
		v, err := c.lookup(ref, loc)
		if err != nil {
			return "", nil, err
		}
		m, ok := v.(map[string]any)
		if !ok {
			return ref, v, nil
		}
		next, alias := c.isAlias(m)
		if !alias {
			return ref, v, nil
		}
		if slices.Contains(seen, next) || len(seen) > maxRefHops {
			return "", nil, perr(loc, "$ref cycle: %s -> %s", strings.Join(seen, " -> "), next)
		}
		seen = append(seen, next)
		ref = next
	}
}

// deref resolves v when it is a reference object (parameters, request
// bodies, path items) and returns the value and its location.
func (c *compiler) deref(v any, loc string) (any, string, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return v, loc, nil
	}
	ref, ok := m["$ref"].(string)
	if !ok {
		return v, loc, nil
	}
	ref, target, err := c.follow(ref, child(loc, "$ref"))
	if err != nil {
		return nil, "", err
	}
	return target, refLoc(ref), nil
}

func (c *compiler) ref(ref, loc string, depth int) (*schema, error) {
	final, target, err := c.follow(ref, loc)
	if err != nil {
		return nil, err
	}
	if s, ok := c.memo[final]; ok {
		return s, nil
	}
	s := new(schema)
	c.memo[final] = s
	if err := c.fill(s, target, refLoc(final), depth); err != nil {
		return nil, err
	}
	return s, nil
}

// schema compiles the schema v found at loc.
func (c *compiler) schema(v any, loc string, depth int) (*schema, error) {
	if depth > MaxDepth {
		return nil, perr(loc, "schemas nested deeper than %d levels", MaxDepth)
	}
	if m, ok := v.(map[string]any); ok {
		if ref, alias := c.isAlias(m); alias {
			return c.ref(ref, child(loc, "$ref"), depth+1)
		}
	}
	s := new(schema)
	if err := c.fill(s, v, loc, depth); err != nil {
		return nil, err
	}
	return s, nil
}

func (c *compiler) schemaList(v any, loc string, depth int) ([]*schema, error) {
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return nil, perr(loc, "must be a non-empty array of schemas")
	}
	out := make([]*schema, len(list))
	for i, e := range list {
		s, err := c.schema(e, index(loc, i), depth+1)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

func (c *compiler) compileRegexp(p, loc string) (*regexp.Regexp, error) {
	if re, ok := c.regex[p]; ok {
		return re, nil
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, perr(loc, "pattern %q is not a Go regular expression: %v", p, err)
	}
	c.regex[p] = re
	return re, nil
}

func number(v any, loc string) (*float64, error) {
	f, ok := v.(float64)
	if !ok {
		return nil, perr(loc, "must be a number")
	}
	return &f, nil
}

func count(v any, loc string) (int, error) {
	f, ok := v.(float64)
	if !ok || f < 0 || f != math.Trunc(f) || f > math.MaxInt32 {
		return 0, perr(loc, "must be a non-negative integer")
	}
	return int(f), nil
}

// fill compiles the schema object (or boolean) v into s.
func (c *compiler) fill(s *schema, v any, loc string, depth int) error {
	if depth > MaxDepth {
		return perr(loc, "schemas nested deeper than %d levels", MaxDepth)
	}
	s.minLength, s.maxLength, s.minItems, s.maxItems, s.minProps, s.maxProp = -1, -1, -1, -1, -1, -1
	switch v := v.(type) {
	case bool:
		s.never = !v
		return nil
	case map[string]any:
		return c.fillObject(s, v, loc, depth)
	default:
		return perr(loc, "a schema must be an object")
	}
}

func (c *compiler) fillObject(s *schema, m map[string]any, loc string, depth int) error {
	// Compile keywords in a fixed order so that the first error is stable.
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var exclMinBool, exclMaxBool bool
	for _, k := range keys {
		v, kl := m[k], child(loc, k)
		var err error
		switch k {
		case "$ref": // 3.1 reference with sibling keywords: both apply
			ref, ok := v.(string)
			if !ok {
				return perr(kl, "must be a string")
			}
			var t *schema
			if t, err = c.ref(ref, kl, depth+1); err == nil {
				s.allOf = append(s.allOf, t)
			}
		case "type":
			err = s.setType(v, kl)
		case "nullable":
			b, ok := v.(bool)
			if !ok {
				return perr(kl, "must be a boolean")
			}
			s.nullable = b && !c.v31
		case "readOnly":
			s.readOnly, _ = v.(bool)
		case "enum":
			list, ok := v.([]any)
			if !ok {
				return perr(kl, "must be an array")
			}
			s.enum = list
		case "const":
			s.hasConst, s.constVal = true, v
		case "minimum":
			s.min, err = number(v, kl)
		case "maximum":
			s.max, err = number(v, kl)
		case "exclusiveMinimum":
			if b, ok := v.(bool); ok {
				exclMinBool = b
			} else {
				s.exclMin, err = number(v, kl)
			}
		case "exclusiveMaximum":
			if b, ok := v.(bool); ok {
				exclMaxBool = b
			} else {
				s.exclMax, err = number(v, kl)
			}
		case "multipleOf":
			f, ok := v.(float64)
			if !ok || f <= 0 {
				return perr(kl, "must be a number greater than 0")
			}
			s.multipleOf = f
		case "minLength":
			s.minLength, err = count(v, kl)
		case "maxLength":
			s.maxLength, err = count(v, kl)
		case "minItems":
			s.minItems, err = count(v, kl)
		case "maxItems":
			s.maxItems, err = count(v, kl)
		case "minProperties":
			s.minProps, err = count(v, kl)
		case "maxProperties":
			s.maxProp, err = count(v, kl)
		case "pattern":
			p, ok := v.(string)
			if !ok {
				return perr(kl, "must be a string")
			}
			s.pattern, err = c.compileRegexp(p, kl)
		case "uniqueItems":
			b, ok := v.(bool)
			if !ok {
				return perr(kl, "must be a boolean")
			}
			s.uniqueItems = b
		case "items":
			if _, ok := v.([]any); ok {
				return perr(kl, "must be a schema, not an array (use prefixItems)")
			}
			s.items, err = c.schema(v, kl, depth+1)
		case "prefixItems":
			s.prefixItems, err = c.schemaList(v, kl, depth)
		case "properties":
			props, ok := v.(map[string]any)
			if !ok {
				return perr(kl, "must be an object")
			}
			s.properties = make(map[string]*schema, len(props))
			names := make([]string, 0, len(props))
			for name := range props {
				names = append(names, name)
			}
			sort.Strings(names)
			for _, name := range names {
				ps, err := c.schema(props[name], child(kl, name), depth+1)
				if err != nil {
					return err
				}
				s.properties[name] = ps
			}
		case "patternProperties":
			props, ok := v.(map[string]any)
			if !ok {
				return perr(kl, "must be an object")
			}
			names := make([]string, 0, len(props))
			for name := range props {
				names = append(names, name)
			}
			sort.Strings(names)
			for _, name := range names {
				re, err := c.compileRegexp(name, child(kl, name))
				if err != nil {
					return err
				}
				ps, err := c.schema(props[name], child(kl, name), depth+1)
				if err != nil {
					return err
				}
				s.patternProps = append(s.patternProps, patternProp{re, ps})
			}
		case "additionalProperties":
			s.additional, err = c.schema(v, kl, depth+1)
		case "required":
			list, ok := v.([]any)
			if !ok {
				return perr(kl, "must be an array of property names")
			}
			for i, e := range list {
				name, ok := e.(string)
				if !ok {
					return perr(index(kl, i), "must be a string")
				}
				s.required = append(s.required, name)
			}
		case "allOf":
			var list []*schema
			if list, err = c.schemaList(v, kl, depth); err == nil {
				s.allOf = append(s.allOf, list...)
			}
		case "anyOf":
			s.anyOf, err = c.schemaList(v, kl, depth)
		case "oneOf":
			s.oneOf, err = c.schemaList(v, kl, depth)
		case "not":
			s.not, err = c.schema(v, kl, depth+1)
		}
		if err != nil {
			return err
		}
	}
	if exclMinBool {
		if s.min == nil {
			return perr(child(loc, "exclusiveMinimum"), "true needs minimum")
		}
		s.exclMin, s.min = s.min, nil
	}
	if exclMaxBool {
		if s.max == nil {
			return perr(child(loc, "exclusiveMaximum"), "true needs maximum")
		}
		s.exclMax, s.max = s.max, nil
	}
	if s.nullable && s.types != 0 {
		s.types |= tNull
	}
	return nil
}

func (s *schema) setType(v any, loc string) error {
	add := func(name any, loc string) error {
		n, _ := name.(string)
		for _, tn := range typeNames {
			if tn.name == n {
				s.types |= tn.t
				return nil
			}
		}
		return perr(loc, "type must be one of string, integer, number, boolean, object, array, null")
	}
	switch v := v.(type) {
	case []any:
		if len(v) == 0 {
			return perr(loc, "must not be empty")
		}
		for i, e := range v {
			if err := add(e, index(loc, i)); err != nil {
				return err
			}
		}
		return nil
	default:
		return add(v, loc)
	}
}
