package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// schema lists the keys each table takes, in the order messages list them.
// The top level's tables are keys of kind table; [env] is free-form.
var schema = map[string][]string{
	"":          {"name", "route", "description", "wasm", "container", "limits", "env", "scale", "auth", "allow", "build"},
	"wasm":      {"module", "abi", "files"},
	"container": {"image"},
	"limits":    {"memory", "timeout", "body", "response"},
	"scale":     {"min", "max", "idle"},
	"auth":      {"require_key"},
	"allow":     {"kv", "config", "http", "call"},
	"build":     {"command", "watch"},
}

// decoder turns the TOML parser's generic tree into a Manifest, reporting
// unknown keys, wrong types and unparseable values with their lines.
type decoder struct {
	lines    keyLines
	problems []Problem
	// bad holds the keys whose values could not be decoded; rules about
	// them (or anything under them) are not reported again.
	bad map[string]bool
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
	d := &decoder{lines: scanLines(string(data)), bad: map[string]bool{}}
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
	d.report(path, table, "%s", msg)
}

func (d *decoder) manifest(raw map[string]any) *Manifest {
	m := &Manifest{
		Limits: Limits{Memory: DefaultMemory, Timeout: DefaultTimeout, Body: DefaultBody, Response: DefaultResponse},
		Scale:  Scale{Min: DefaultScaleMin, Max: DefaultScaleMax, Idle: DefaultIdle},
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
		m.Container = &Container{}
		m.Container.Image, _ = d.str(t, []string{"container", "image"}, `"./image"`)
	}
	if t, ok := d.table(raw, "limits"); ok {
		p := []string{"limits"}
		d.size(t, append(p, "memory"), `"64MiB"`, &m.Limits.Memory)
		d.duration(t, append(p, "timeout"), `"10s"`, &m.Limits.Timeout)
		d.size(t, append(p, "body"), `"10MiB"`, &m.Limits.Body)
		d.size(t, append(p, "response"), `"16MiB"`, &m.Limits.Response)
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
	if _, set := raw["route"]; !set {
		// The default route is valid whenever the name is; a bad name is
		// reported once, as a name.
		m.Route = "/" + m.Name
		d.bad[pathKey([]string{"route"})] = true
	}
	return m
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

// table returns the table raw[name], reporting a value of another type.
func (d *decoder) table(raw map[string]any, name string) (map[string]any, bool) {
	v, ok := raw[name]
	if !ok || d.bad[pathKey([]string{name})] {
		return nil, false
	}
	t, ok := v.(map[string]any)
	if !ok {
		d.fail([]string{name}, "want a table, written as a [%s] line followed by its keys; got %s", name, describe(v))
	}
	return t, ok
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
