package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"net/textproto"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/mote-run/mote/api"
)

// schema lists the keys each table takes, in the order messages list them.
// The top level's tables are keys of kind table; [env] is free-form.
var schema = map[string][]string{
	"":          {"name", "route", "description", "wasm", "container", "limits", "env", "scale", "auth", "allow", "build", "cors", "ip", "lifecycle", "openapi"},
	"wasm":      {"module", "abi", "files"},
	"container": {"image", "port", "concurrency", "grace"},
	"limits":    {"memory", "timeout", "body", "response", "cpu", "pids"},
	"scale":     {"min", "max", "idle"},
	"auth":      {"require_key", "jwt"},
	"auth.jwt":  {"issuer", "audience", "leeway", "claims"},
	"allow":     {"kv", "config", "http", "call"},
	"build":     {"command", "watch"},
	"cors":      {"origins", "methods", "headers", "expose", "credentials", "max_age"},
	"ip":        {"allow", "deny"},
	"lifecycle": {"state", "deprecated", "sunset", "link"},
	"openapi":   {"spec", "validate"},
}

// decoder turns the TOML parser's generic tree into a Manifest, reporting
// unknown keys, wrong types and unparseable values with their lines.
type decoder struct {
	lines    keyLines
	problems []Problem
	// bad holds the keys whose values could not be decoded; rules about
	// them (or anything under them) are not reported again.
	bad map[string]bool
	// moot holds the tables whose rules about the table as a whole are
	// not reported: a value in them was reported as unusable, so what they
	// hold is not known.
	moot map[string]bool
}

// parse decodes and validates data, returning the manifest or the sorted
// problems.
func parse(data []byte) (*Manifest, []Problem) {
	if len(data) > MaxSize {
		return nil, []Problem{{Message: fmt.Sprintf("file is larger than %s; a manifest is a few lines of TOML", ByteSize(MaxSize))}}
	}
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, []Problem{{Line: syntaxLine(data, pe.Position), Message: "not valid TOML: " + pe.Message}}
		}
		return nil, []Problem{{Message: "not valid TOML: " + err.Error()}}
	}
	d := &decoder{lines: scanLines(string(data)), bad: map[string]bool{}, moot: map[string]bool{}}
	m := d.manifest(raw)
	validate(m, d.rule)
	if len(d.problems) > 0 {
		sortProblems(d.problems)
		return nil, d.problems
	}
	if m.Wasm != nil {
		m.Wasm.Module = path.Clean(m.Wasm.Module)
		cleanAll(m.Wasm.Files)
	}
	if m.Build != nil {
		cleanAll(m.Build.Watch)
	}
	if m.OpenAPI != nil {
		m.OpenAPI.Spec = path.Clean(m.OpenAPI.Spec)
	}
	return m, nil
}

// syntaxLine is the line of a syntax error. The parser counts an error at
// a newline ("got '\n'") on the next line; the byte offset says which line
// the newline ends.
func syntaxLine(data []byte, pos toml.Position) int {
	if pos.Start < 0 || pos.Start > len(data) {
		return pos.Line
	}
	if l := 1 + bytes.Count(data[:pos.Start], []byte("\n")); l == pos.Line-1 {
		return l
	}
	return pos.Line
}

// report records a problem with key path; table says the path names a
// table as a whole ("[wasm]") rather than a key ("wasm").
func (d *decoder) report(path []string, table bool, format string, args ...any) {
	d.problems = append(d.problems, Problem{
		Line:    d.lines.line(path),
		Key:     displayKey(path, table),
		Message: fmt.Sprintf(format, args...),
	})
}

// fail reports a key whose value is unusable and marks it bad.
func (d *decoder) fail(path []string, format string, args ...any) {
	d.bad[pathKey(path)] = true
	d.report(path, false, format, args...)
}

// rule reports a broken rule unless the key (or a table holding it) was
// already reported as unusable.
func (d *decoder) rule(path []string, table bool, msg string) {
	for n := 1; n <= len(path); n++ {
		if d.bad[pathKey(path[:n])] {
			return
		}
	}
	if table && d.moot[pathKey(path)] {
		return
	}
	d.report(path, table, "%s", msg)
}

func (d *decoder) manifest(raw map[string]any) *Manifest {
	m := &Manifest{
		Limits:    Limits{Memory: DefaultMemory, Timeout: DefaultTimeout, Body: DefaultBody, Response: DefaultResponse},
		Scale:     Scale{Min: DefaultScaleMin, Max: DefaultScaleMax, Idle: DefaultIdle},
		Lifecycle: Lifecycle{State: api.LifecyclePublished},
	}
	d.unknown(nil, raw)
	m.Name, _ = d.str(raw, []string{"name"}, `"hello"`)
	m.Route, _ = d.str(raw, []string{"route"}, `"/hello"`)
	m.Description, _ = d.str(raw, []string{"description"}, `"what the service does"`)

	if t, ok := d.table(raw, "wasm"); ok {
		p := []string{"wasm"}
		m.Wasm = &Wasm{ABI: DefaultABI}
		m.Wasm.Module, _ = d.str(t, append(p, "module"), `"hello.wasm"`)
		if abi, ok := d.str(t, append(p, "abi"), `"wagi"`); ok {
			m.Wasm.ABI = abi
		}
		m.Wasm.Files = d.strs(t, append(p, "files"), `["static/*"]`)
	}
	if t, ok := d.table(raw, "container"); ok {
		p := []string{"container"}
		m.Container = &Container{Port: DefaultPort, Concurrency: DefaultConcurrency, Grace: DefaultGrace}
		m.Container.Image, _ = d.str(t, append(p, "image"), `"./image"`)
		d.integer(t, append(p, "port"), &m.Container.Port)
		d.integer(t, append(p, "concurrency"), &m.Container.Concurrency)
		d.duration(t, append(p, "grace"), `"10s"`, &m.Container.Grace)
		m.Limits.Pids = DefaultPids
	}
	if t, ok := d.table(raw, "limits"); ok {
		p := []string{"limits"}
		d.size(t, append(p, "memory"), `"64MiB"`, &m.Limits.Memory)
		d.duration(t, append(p, "timeout"), `"10s"`, &m.Limits.Timeout)
		d.size(t, append(p, "body"), `"10MiB"`, &m.Limits.Body)
		d.size(t, append(p, "response"), `"16MiB"`, &m.Limits.Response)
		d.number(t, append(p, "cpu"), &m.Limits.CPU)
		d.integer(t, append(p, "pids"), &m.Limits.Pids)
	}
	if t, ok := d.table(raw, "env"); ok {
		m.Env = d.env(t)
	}
	if t, ok := d.table(raw, "scale"); ok {
		p := []string{"scale"}
		d.integer(t, append(p, "min"), &m.Scale.Min)
		d.integer(t, append(p, "max"), &m.Scale.Max)
		d.duration(t, append(p, "idle"), `"5m"`, &m.Scale.Idle)
	}
	if t, ok := d.table(raw, "auth"); ok {
		d.boolean(t, []string{"auth", "require_key"}, &m.Auth.RequireKey)
		if jt, ok := d.tableAt(t, []string{"auth", "jwt"}); ok {
			p := []string{"auth", "jwt"}
			j := &JWT{Leeway: DefaultJWTLeeway}
			j.Issuer, _ = d.str(jt, append(p, "issuer"), `"https://auth.example.com"`)
			j.Audience, _ = d.str(jt, append(p, "audience"), `"hello"`)
			d.duration(jt, append(p, "leeway"), `"30s"`, &j.Leeway)
			j.Claims = d.strs(jt, append(p, "claims"), `["sub", "email"]`)
			m.Auth.JWT = j
		}
	}
	if t, ok := d.table(raw, "allow"); ok {
		p := []string{"allow"}
		d.boolean(t, append(p, "kv"), &m.Allow.KV)
		d.boolean(t, append(p, "config"), &m.Allow.Config)
		m.Allow.HTTP = d.strs(t, append(p, "http"), `["api.example.com"]`)
		m.Allow.Call = d.strs(t, append(p, "call"), `["users"]`)
	}
	if t, ok := d.table(raw, "build"); ok {
		m.Build = &Build{}
		m.Build.Command, _ = d.str(t, []string{"build", "command"}, `"make"`)
		m.Build.Watch = d.strs(t, []string{"build", "watch"}, `["src/*.c"]`)
	}
	d.access(raw, m)
	if _, set := raw["route"]; !set {
		// The default route is valid whenever the name is; a bad name is
		// reported once, as a name.
		m.Route = "/" + m.Name
		d.bad[pathKey([]string{"route"})] = true
	}
	return m
}

// access decodes the API management tables: [cors], [ip], [lifecycle] and
// [openapi] ([auth] is decoded with the others).
func (d *decoder) access(raw map[string]any, m *Manifest) {
	if t, ok := d.table(raw, "cors"); ok {
		p := []string{"cors"}
		c := &CORS{Methods: slices.Clone(DefaultCORSMethods), MaxAge: DefaultCORSMaxAge}
		c.Origins = d.strs(t, append(p, "origins"), `["https://shop.example.com"]`)
		for i, o := range c.Origins {
			// Browsers send Origin in lowercase; so does a manifest.
			c.Origins[i] = asciiLower(o)
		}
		if _, set := t["methods"]; set {
			c.Methods = d.strs(t, append(p, "methods"), `["GET", "POST"]`)
		}
		c.Headers = d.headers(t, append(p, "headers"), `["Content-Type"]`)
		c.Expose = d.headers(t, append(p, "expose"), `["X-Request-Id"]`)
		d.boolean(t, append(p, "credentials"), &c.Credentials)
		d.duration(t, append(p, "max_age"), `"10m"`, &c.MaxAge)
		m.CORS = c
	}
	if t, ok := d.table(raw, "ip"); ok {
		m.IP = &IPRules{
			Allow: d.prefixes(t, []string{"ip", "allow"}),
			Deny:  d.prefixes(t, []string{"ip", "deny"}),
		}
	}
	if t, ok := d.table(raw, "lifecycle"); ok {
		p := []string{"lifecycle"}
		if s, ok := d.str(t, append(p, "state"), `"deprecated"`); ok {
			m.Lifecycle.State = s
		}
		m.Lifecycle.Deprecated = d.datetime(t, append(p, "deprecated"))
		m.Lifecycle.Sunset = d.datetime(t, append(p, "sunset"))
		m.Lifecycle.Link, _ = d.str(t, append(p, "link"), `"https://example.com/migrate"`)
	}
	if t, ok := d.table(raw, "openapi"); ok {
		m.OpenAPI = &OpenAPI{}
		m.OpenAPI.Spec, _ = d.str(t, []string{"openapi", "spec"}, `"openapi.json"`)
		d.boolean(t, []string{"openapi", "validate"}, &m.OpenAPI.Validate)
	}
}

// headers returns the array of header names at the last element of p in
// t, canonicalized; an empty array is nil.
func (d *decoder) headers(t map[string]any, p []string, example string) []string {
	list := d.strs(t, p, example)
	for i, h := range list {
		list[i] = textproto.CanonicalMIMEHeaderKey(h)
	}
	return list
}

// prefixes returns the [ip] entries at the last element of p in t;
// an empty array is nil. Each unusable entry is reported, and the table's
// rules as a whole are then moot.
func (d *decoder) prefixes(t map[string]any, p []string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range d.strs(t, p, `["10.0.0.0/8", "192.168.1.7"]`) {
		pr, msg := parsePrefix(s)
		if msg != "" {
			d.report(p, false, "%s", msg)
			d.moot[pathKey(p[:len(p)-1])] = true
			continue
		}
		out = append(out, pr)
	}
	if _, set := t[p[len(p)-1]]; set && d.bad[pathKey(p)] {
		d.moot[pathKey(p[:len(p)-1])] = true
	}
	return out
}

// datetime returns the date and time at the last element of p in t, in
// UTC: a TOML offset date-time or an RFC 3339 string; nil when unset.
func (d *decoder) datetime(t map[string]any, p []string) *time.Time {
	const example = "2026-11-01T00:00:00Z"
	v, ok := t[p[len(p)-1]]
	if !ok {
		return nil
	}
	var at time.Time
	switch v := v.(type) {
	case time.Time:
		switch v.Location().String() {
		case "datetime-local":
			d.fail(p, "%s has no offset from UTC; add one, like %sZ (UTC) or %s+02:00", v.Format("2006-01-02T15:04:05"), v.Format("2006-01-02T15:04:05"), v.Format("2006-01-02T15:04:05"))
			return nil
		case "date-local":
			d.fail(p, "%s is a date without a time; write a date and time with an offset, like %sT00:00:00Z", v.Format("2006-01-02"), v.Format("2006-01-02"))
			return nil
		case "time-local":
			d.fail(p, "%s is a time without a date; write a date and time with an offset, like %s", v.Format("15:04:05"), example)
			return nil
		}
		at = v
	case string:
		var err error
		if at, err = time.Parse(time.RFC3339, v); err != nil {
			d.fail(p, "%q is not an RFC 3339 date and time; write it like %s (unquoted) or %q", truncate(v), example, example)
			return nil
		}
	default:
		d.fail(p, "want a date and time like %s, got %s", example, describe(v))
		return nil
	}
	at = at.UTC()
	return &at
}

// unknown reports the keys of the table at path that the schema lacks, and
// recurses into the known tables.
func (d *decoder) unknown(p []string, t map[string]any) {
	table := strings.Join(p, ".")
	known, ok := schema[table]
	if !ok {
		return
	}
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		kp := append(append([]string(nil), p...), k)
		if !contains(known, k) {
			d.bad[pathKey(kp)] = true
			d.moot[pathKey(p)] = true
			d.report(kp, false, "%s", unknownKey(table, k))
			continue
		}
		if sub, isTable := t[k].(map[string]any); isTable {
			d.unknown(kp, sub)
		}
	}
}

// unknownKey explains an unknown key k in table and suggests what was meant.
func unknownKey(table, k string) string {
	where := "at the top of mote.toml"
	if table != "" {
		where = "in [" + table + "]"
	}
	if c := closest(k, schema[table]); c != "" {
		return fmt.Sprintf("unknown key %s; did you mean %q?", where, c)
	}
	// A key of another table written in the wrong place.
	tables := make([]string, 0, len(schema))
	for name := range schema {
		tables = append(tables, name)
	}
	sort.Strings(tables)
	for _, other := range tables {
		if other == table {
			continue
		}
		if c := closest(k, schema[other]); c != "" {
			if other == "" {
				return fmt.Sprintf("unknown key %s; did you mean %q at the top of mote.toml, before any [table]?", where, c)
			}
			return fmt.Sprintf("unknown key %s; did you mean %q in [%s]?", where, c, other)
		}
	}
	return fmt.Sprintf("unknown key %s; the keys here are %s", where, strings.Join(schema[table], ", "))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// table returns the top-level table raw[name], reporting a value of
// another type.
func (d *decoder) table(raw map[string]any, name string) (map[string]any, bool) {
	return d.tableAt(raw, []string{name})
}

// tableAt returns the table at the last element of p in t, reporting a
// value of another type.
func (d *decoder) tableAt(t map[string]any, p []string) (map[string]any, bool) {
	v, ok := t[p[len(p)-1]]
	if !ok || d.bad[pathKey(p)] {
		return nil, false
	}
	sub, ok := v.(map[string]any)
	if !ok {
		name := strings.Join(p, ".")
		hint := ""
		if name == "allow" {
			if _, list := v.([]any); list {
				hint = "; to allow client addresses, put allow = [...] under [ip]"
			}
		}
		d.fail(p, "want a table, written as a [%s] line followed by its keys; got %s%s", name, describe(v), hint)
	}
	return sub, ok
}

// str returns the string at the last element of p in t.
func (d *decoder) str(t map[string]any, p []string, example string) (string, bool) {
	v, ok := t[p[len(p)-1]]
	if !ok {
		return "", false
	}
	s, ok := v.(string)
	if !ok {
		d.fail(p, "want a string like %s, got %s", example, describe(v))
	}
	return s, ok
}

// strs returns the array of strings at the last element of p in t; an
// empty array is nil.
func (d *decoder) strs(t map[string]any, p []string, example string) []string {
	v, ok := t[p[len(p)-1]]
	if !ok {
		return nil
	}
	arr, ok := v.([]any)
	if !ok {
		d.fail(p, "want an array of strings like %s, got %s", example, describe(v))
		return nil
	}
	var out []string
	for i, e := range arr {
		s, ok := e.(string)
		if !ok {
			d.fail(p, "element %d is %s; want an array of strings like %s", i+1, describe(e), example)
			return nil
		}
		out = append(out, s)
	}
	return out
}

func (d *decoder) boolean(t map[string]any, p []string, dst *bool) {
	v, ok := t[p[len(p)-1]]
	if !ok {
		return
	}
	b, ok := v.(bool)
	if !ok {
		d.fail(p, "want true or false, got %s", describe(v))
		return
	}
	*dst = b
}

func (d *decoder) size(t map[string]any, p []string, example string, dst *ByteSize) {
	s, ok := d.str(t, p, example)
	if !ok {
		return
	}
	v, err := ParseByteSize(s)
	if err != nil {
		d.fail(p, "%v", err)
		return
	}
	*dst = v
}

func (d *decoder) duration(t map[string]any, p []string, example string, dst *Duration) {
	s, ok := d.str(t, p, example)
	if !ok {
		return
	}
	v, err := ParseDuration(s)
	if err != nil {
		d.fail(p, "%v", err)
		return
	}
	*dst = v
}

func (d *decoder) integer(t map[string]any, p []string, dst *int) {
	v, ok := t[p[len(p)-1]]
	if !ok {
		return
	}
	n, ok := v.(int64)
	if !ok {
		d.fail(p, "want a whole number like 5, got %s", describe(v))
		return
	}
	// Clamp so a 32-bit int keeps the sign; validation rejects both ends.
	*dst = int(max(min(n, math.MaxInt32), math.MinInt32))
}

// number decodes a TOML integer or float, like 1 or 0.5.
func (d *decoder) number(t map[string]any, p []string, dst *float64) {
	v, ok := t[p[len(p)-1]]
	if !ok {
		return
	}
	switch n := v.(type) {
	case int64:
		*dst = float64(n)
	case float64:
		*dst = n
	default:
		d.fail(p, "want a number like 0.5 or 2, got %s", describe(v))
	}
}

// env decodes the [env] table; an empty one is nil.
func (d *decoder) env(t map[string]any) map[string]string {
	var env map[string]string
	for k, v := range t {
		s, ok := v.(string)
		if !ok {
			d.fail([]string{"env", k}, "want a string, got %s; quote it: %s = %s", describe(v), displayKey([]string{k}, false), quote(valueText(v)))
			continue
		}
		if env == nil {
			env = make(map[string]string, len(t))
		}
		env[k] = s
	}
	return env
}

// describe names a TOML value's type and shows it briefly: "integer 64".
func describe(v any) string {
	switch v := v.(type) {
	case string:
		return "string " + quote(truncate(v))
	case int64:
		return "integer " + strconv.FormatInt(v, 10)
	case float64:
		return "float " + strconv.FormatFloat(v, 'g', -1, 64)
	case bool:
		return "boolean " + strconv.FormatBool(v)
	case time.Time:
		return "datetime " + v.Format(time.RFC3339)
	case []any:
		return "an array"
	case []map[string]any:
		return "an array of tables"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("%T", v)
}

// valueText is a scalar's text for a suggestion to quote it.
func valueText(v any) string {
	switch v := v.(type) {
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	case time.Time:
		return v.Format(time.RFC3339)
	}
	return "..."
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// displayKey names a key path the way a reader finds it in the file:
// "name", "[limits] memory", or for a table as a whole "[limits]".
func displayKey(p []string, table bool) string {
	if len(p) == 0 {
		return ""
	}
	parts := make([]string, len(p))
	for i, k := range p {
		parts[i] = quoteKey(k)
	}
	if table {
		return "[" + strings.Join(parts, ".") + "]"
	}
	if len(p) == 1 {
		return parts[0]
	}
	return "[" + strings.Join(parts[:len(parts)-1], ".") + "] " + parts[len(parts)-1]
}

// quoteKey writes k bare when TOML allows it, quoted otherwise.
func quoteKey(k string) string {
	if k == "" {
		return `""`
	}
	for i := 0; i < len(k); i++ {
		if !isBareKeyByte(k[i]) {
			return quote(k)
		}
	}
	return k
}

// quote writes s as a TOML basic string.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// cleanAll cleans each slash-separated path in place.
func cleanAll(paths []string) {
	for i, p := range paths {
		paths[i] = path.Clean(p)
	}
}
