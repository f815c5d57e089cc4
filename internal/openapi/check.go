package openapi

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// checker validates one request's values; it is not shared.
type checker struct {
	budget int
	label  string // message prefix: "body", `query parameter "limit"`
	loc    string // location prefix: "body", "query.limit"
	path   []step // position below the prefix
}

// step is one step into a value: a property name or an array index.
type step struct {
	key string
	idx int // -1 for a key
}

func (c *checker) suffix() string {
	if len(c.path) == 0 {
		return ""
	}
	var b strings.Builder
	for _, s := range c.path {
		if s.idx >= 0 {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.idx))
			b.WriteByte(']')
		} else if isIdent(s.key) {
			b.WriteByte('.')
			b.WriteString(s.key)
		} else {
			b.WriteByte('[')
			b.WriteString(strconv.Quote(s.key))
			b.WriteByte(']')
		}
	}
	return b.String()
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c == '-' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func (c *checker) fail(rule, detail string) *ValidationError {
	suf := c.suffix()
	return &ValidationError{Rule: rule, Location: c.loc + suf, Message: c.label + suf + ": " + detail}
}

// fatal reports whether err stops validation even inside anyOf/oneOf/not.
func fatal(err *ValidationError) bool { return err.Rule == "limit" || err.Rule == "depth" }

func typeOf(v any) typeSet {
	switch v := v.(type) {
	case nil:
		return tNull
	case bool:
		return tBoolean
	case float64:
		if v == math.Trunc(v) && !math.IsInf(v, 0) {
			return tNumber | tInteger
		}
		return tNumber
	case string:
		return tString
	case []any:
		return tArray
	case map[string]any:
		return tObject
	}
	return 0
}

// show renders a value for a message.
func show(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return strconv.FormatBool(v)
	case float64:
		return num(v)
	case string:
		if len(v) > 64 {
			cut := 61
			for cut > 0 && !utf8.RuneStart(v[cut]) {
				cut--
			}
			return strconv.Quote(v[:cut] + "...")
		}
		return strconv.Quote(v)
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return "a value"
}

func num(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// check validates v against s.
func (c *checker) check(s *schema, v any, depth int) *ValidationError {
	c.budget--
	if c.budget < 0 {
		return c.fail("limit", "validation exceeded its work budget (schema too complex for this value)")
	}
	if depth > MaxDepth {
		return c.fail("depth", "schemas nested deeper than "+strconv.Itoa(MaxDepth)+" levels")
	}
	if s.never {
		return c.fail("false", "no value is allowed here")
	}
	if v == nil && s.nullable {
		return nil
	}
	t := typeOf(v)
	if s.types != 0 && s.types&t == 0 {
		return c.fail("type", show(v)+" is not of type "+s.types.String())
	}
	if s.enum != nil {
		found := false
		for _, e := range s.enum {
			if equal(e, v) {
				found = true
				break
			}
		}
		if !found {
			return c.fail("enum", show(v)+" is not one of "+showList(s.enum))
		}
	}
	if s.hasConst && !equal(s.constVal, v) {
		return c.fail("const", show(v)+" is not equal to const "+show(s.constVal))
	}
	switch v := v.(type) {
	case string:
		if err := c.checkString(s, v); err != nil {
			return err
		}
	case float64:
		if err := c.checkNumber(s, v); err != nil {
			return err
		}
	case []any:
		if err := c.checkArray(s, v, depth); err != nil {
			return err
		}
	case map[string]any:
		if err := c.checkObject(s, v, depth); err != nil {
			return err
		}
	}
	for _, sub := range s.allOf {
		if err := c.check(sub, v, depth+1); err != nil {
			return err
		}
	}
	if s.anyOf != nil {
		var best *ValidationError
		matched := false
		for _, sub := range s.anyOf {
			err := c.check(sub, v, depth+1)
			if err == nil {
				matched = true
				break
			}
			if fatal(err) {
				return err
			}
			best = deeper(best, err)
		}
		if !matched {
			return c.fail("anyOf", "matches none of the anyOf schemas (closest: "+best.Message+")")
		}
	}
	if s.oneOf != nil {
		var best *ValidationError
		var hits []string
		for i, sub := range s.oneOf {
			err := c.check(sub, v, depth+1)
			if err == nil {
				hits = append(hits, strconv.Itoa(i))
				continue
			}
			if fatal(err) {
				return err
			}
			best = deeper(best, err)
		}
		switch {
		case len(hits) == 0:
			return c.fail("oneOf", "matches none of the oneOf schemas (closest: "+best.Message+")")
		case len(hits) > 1:
			return c.fail("oneOf", "matches oneOf schemas "+strings.Join(hits, " and ")+"; exactly one must match")
		}
	}
	if s.not != nil {
		err := c.check(s.not, v, depth+1)
		if err == nil {
			return c.fail("not", show(v)+" matches a schema it must not (not)")
		}
		if fatal(err) {
			return err
		}
	}
	return nil
}

// deeper picks the error further into the value: usually the branch the
// client meant.
// On a tie, a branch that got past the type check wins.
func deeper(a, b *ValidationError) *ValidationError {
	if a == nil || len(b.Location) > len(a.Location) ||
		len(b.Location) == len(a.Location) && a.Rule == "type" && b.Rule != "type" {
		return b
	}
	return a
}

func showList(list []any) string {
	var parts []string
	for i, e := range list {
		if i == 10 {
			parts = append(parts, "...")
			break
		}
		parts = append(parts, show(e))
	}
	return strings.Join(parts, ", ")
}

func (c *checker) checkString(s *schema, v string) *ValidationError {
	if s.minLength >= 0 || s.maxLength >= 0 {
		n := utf8.RuneCountInString(v)
		if s.minLength >= 0 && n < s.minLength {
			return c.fail("minLength", "length "+strconv.Itoa(n)+" is less than minLength "+strconv.Itoa(s.minLength))
		}
		if s.maxLength >= 0 && n > s.maxLength {
			return c.fail("maxLength", "length "+strconv.Itoa(n)+" is greater than maxLength "+strconv.Itoa(s.maxLength))
		}
	}
	if s.pattern != nil && !s.pattern.MatchString(v) {
		return c.fail("pattern", show(v)+" does not match pattern "+strconv.Quote(s.pattern.String()))
	}
	return nil
}

func (c *checker) checkNumber(s *schema, v float64) *ValidationError {
	switch {
	case s.min != nil && v < *s.min:
		return c.fail("minimum", num(v)+" is less than minimum "+num(*s.min))
	case s.max != nil && v > *s.max:
		return c.fail("maximum", num(v)+" is greater than maximum "+num(*s.max))
	case s.exclMin != nil && v <= *s.exclMin:
		return c.fail("exclusiveMinimum", num(v)+" is not greater than exclusiveMinimum "+num(*s.exclMin))
	case s.exclMax != nil && v >= *s.exclMax:
		return c.fail("exclusiveMaximum", num(v)+" is not less than exclusiveMaximum "+num(*s.exclMax))
	}
	if s.multipleOf != 0 {
		q := v / s.multipleOf
		if math.IsInf(q, 0) || math.Abs(q-math.Round(q)) > 1e-9*math.Max(1, math.Abs(q)) {
			return c.fail("multipleOf", num(v)+" is not a multiple of "+num(s.multipleOf))
		}
	}
	return nil
}

func (c *checker) checkArray(s *schema, v []any, depth int) *ValidationError {
	if s.minItems >= 0 && len(v) < s.minItems {
		return c.fail("minItems", "array has "+strconv.Itoa(len(v))+" items, fewer than minItems "+strconv.Itoa(s.minItems))
	}
	if s.maxItems >= 0 && len(v) > s.maxItems {
		return c.fail("maxItems", "array has "+strconv.Itoa(len(v))+" items, more than maxItems "+strconv.Itoa(s.maxItems))
	}
	if s.uniqueItems && len(v) > 1 {
		seen := make(map[string]int, len(v))
		var b []byte
		for i, e := range v {
			c.budget--
			b = canonical(b[:0], e)
			if j, dup := seen[string(b)]; dup {
				return c.fail("uniqueItems", "items "+strconv.Itoa(j)+" and "+strconv.Itoa(i)+" are equal (uniqueItems)")
			}
			seen[string(b)] = i
		}
	}
	for i, e := range v {
		sub := s.items
		if i < len(s.prefixItems) {
			sub = s.prefixItems[i]
		}
		if sub == nil {
			continue
		}
		c.path = append(c.path, step{idx: i})
		err := c.check(sub, e, depth+1)
		c.path = c.path[:len(c.path)-1]
		if err != nil {
			return err
		}
	}
	return nil
}

func (c *checker) checkObject(s *schema, v map[string]any, depth int) *ValidationError {
	for _, name := range s.required {
		if _, ok := v[name]; ok {
			continue
		}
		if ps := s.properties[name]; ps != nil && ps.readOnly {
			continue // readOnly: required in responses only
		}
		c.path = append(c.path, step{key: name, idx: -1})
		err := c.fail("required", "required property is missing")
		c.path = c.path[:len(c.path)-1]
		return err
	}
	if s.minProps >= 0 && len(v) < s.minProps {
		return c.fail("minProperties", "object has "+strconv.Itoa(len(v))+" properties, fewer than minProperties "+strconv.Itoa(s.minProps))
	}
	if s.maxProp >= 0 && len(v) > s.maxProp {
		return c.fail("maxProperties", "object has "+strconv.Itoa(len(v))+" properties, more than maxProperties "+strconv.Itoa(s.maxProp))
	}
	if s.properties == nil && s.patternProps == nil && s.additional == nil {
		return nil
	}
	// Visit properties in sorted order so the reported error is stable.
	var names []string
	if len(v) > 1 {
		names = make([]string, 0, len(v))
		for k := range v {
			names = append(names, k)
		}
		sort.Strings(names)
	} else {
		for k := range v {
			names = append(names, k)
		}
	}
	for _, name := range names {
		val := v[name]
		c.path = append(c.path, step{key: name, idx: -1})
		err := c.checkProperty(s, name, val, depth)
		c.path = c.path[:len(c.path)-1]
		if err != nil {
			return err
		}
	}
	return nil
}

func (c *checker) checkProperty(s *schema, name string, val any, depth int) *ValidationError {
	known := false
	if ps, ok := s.properties[name]; ok {
		known = true
		if err := c.check(ps, val, depth+1); err != nil {
			return err
		}
	}
	for _, pp := range s.patternProps {
		if pp.re.MatchString(name) {
			known = true
			if err := c.check(pp.s, val, depth+1); err != nil {
				return err
			}
		}
	}
	if known || s.additional == nil {
		return nil
	}
	if s.additional.never {
		return c.fail("additionalProperties", "property is not allowed (additionalProperties)")
	}
	return c.check(s.additional, val, depth+1)
}

// equal compares two decoded JSON values.
func equal(a, b any) bool {
	switch a := a.(type) {
	case nil:
		return b == nil
	case bool:
		bb, ok := b.(bool)
		return ok && a == bb
	case float64:
		bb, ok := b.(float64)
		return ok && a == bb
	case string:
		bb, ok := b.(string)
		return ok && a == bb
	case []any:
		bb, ok := b.([]any)
		if !ok || len(a) != len(bb) {
			return false
		}
		for i := range a {
			if !equal(a[i], bb[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		bb, ok := b.(map[string]any)
		if !ok || len(a) != len(bb) {
			return false
		}
		for k, av := range a {
			bv, ok := bb[k]
			if !ok || !equal(av, bv) {
				return false
			}
		}
		return true
	}
	return false
}

// canonical appends a key for v such that equal values have equal keys.
func canonical(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, 'n')
	case bool:
		if v {
			return append(b, 't')
		}
		return append(b, 'f')
	case float64:
		if v == 0 {
			v = 0 // -0 equals 0
		}
		b = append(b, 'd')
		return strconv.AppendFloat(b, v, 'g', -1, 64)
	case string:
		b = append(b, 's')
		return strconv.AppendQuote(b, v)
	case []any:
		b = append(b, '[')
		for _, e := range v {
			b = canonical(b, e)
			b = append(b, ',')
		}
		return append(b, ']')
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = append(b, '{')
		for _, k := range keys {
			b = strconv.AppendQuote(b, k)
			b = append(b, ':')
			b = canonical(b, v[k])
			b = append(b, ',')
		}
		return append(b, '}')
	}
	return b
}
