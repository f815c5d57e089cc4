package manifest

import (
	"fmt"
	"math"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Bounds the rules enforce.
const (
	MaxNameLen        = 63
	MaxRouteLen       = 255
	MaxDescriptionLen = 1024
	MaxEnv            = 256
	MinMemory         = 64 * KiB
	MaxMemory         = 4 * GiB
	MinTimeout        = Duration(time.Millisecond)
	MaxTimeout        = Duration(15 * time.Minute)
	MaxBody           = 1 * GiB
	MinResponse       = 1 * KiB
	MaxResponse       = 1 * GiB
	MaxScale          = 1000
	MaxConcurrency    = 1000
	MaxGrace          = Duration(5 * 60e9)
	MinCPU            = 0.01
	MaxCPU            = 64.0
	MinPids           = 8
	MaxPids           = 32768
	MinIdle           = Duration(time.Second)
)

// reporter receives one broken rule: the key path, whether it names a
// table as a whole, and the message.
type reporter func(path []string, table bool, msg string)

// validate checks every rule on m and reports each broken one.
func validate(m *Manifest, report reporter) {
	say := func(msg string, path ...string) { report(path, false, msg) }
	sayf := func(path []string, format string, args ...any) { report(path, false, fmt.Sprintf(format, args...)) }

	if msg := checkName(m.Name); msg != "" {
		say(msg, "name")
	}
	if msg := checkRoute(m.Route); msg != "" {
		say(msg, "route")
	}
	if len(m.Description) > MaxDescriptionLen {
		sayf([]string{"description"}, "is %d bytes; keep it under %d", len(m.Description), MaxDescriptionLen)
	} else if strings.ContainsRune(m.Description, 0) {
		say("contains a NUL character; remove it", "description")
	}

	switch {
	case m.Wasm == nil && m.Container == nil:
		module := "hello.wasm"
		if checkName(m.Name) == "" {
			module = m.Name + ".wasm"
		}
		report([]string{"wasm"}, true, fmt.Sprintf("missing; add a [wasm] table with module = %q (or a [container] table with image = \"...\")", module))
	case m.Wasm != nil && m.Container != nil:
		report([]string{"container"}, true, "a service runs either a Wasm module or a container; keep [wasm] or [container], not both")
	}
	if w := m.Wasm; w != nil {
		p := []string{"wasm", "module"}
		if w.Module == "" {
			report(p, false, `is missing or empty; add module = "hello.wasm" (the module's path relative to mote.toml) under [wasm]`)
		} else if msg := checkRelPath(w.Module, false); msg != "" {
			report(p, false, msg)
		} else if !strings.HasSuffix(w.Module, ".wasm") {
			sayf(p, "%q does not end in \".wasm\"; name the compiled WebAssembly module, like %q", w.Module, strings.TrimSuffix(path.Base(w.Module), path.Ext(w.Module))+".wasm")
		}
		switch w.ABI {
		case "wagi", "pooled":
		default:
			msg := fmt.Sprintf("%q is not an ABI; write \"wagi\" (a fresh instance per request) or \"pooled\" (reused instances)", w.ABI)
			if c := closest(w.ABI, []string{"wagi", "pooled"}); c != "" {
				msg = fmt.Sprintf("%q is not an ABI; did you mean %q?", w.ABI, c)
			}
			say(msg, "wasm", "abi")
		}
		for _, f := range w.Files {
			if msg := checkRelPath(f, true); msg != "" {
				say(msg, "wasm", "files")
			}
		}
	}
	if c := m.Container; c != nil {
		if c.Port < 1 || c.Port > 65535 {
			sayf([]string{"container", "port"}, "%d is out of range; write the TCP port the process listens on, 1 to 65535, like 8080", c.Port)
		}
		if c.Concurrency < 1 || c.Concurrency > MaxConcurrency {
			sayf([]string{"container", "concurrency"}, "%d is out of range; write how many requests one instance serves at once, 1 to %d, like 80", c.Concurrency, MaxConcurrency)
		}
		if c.Grace < 0 || c.Grace > MaxGrace {
			sayf([]string{"container", "grace"}, "%s is out of range; write a duration from 0s to %s, like \"10s\"", c.Grace, MaxGrace)
		}
		switch {
		case c.Image == "":
			say(`is missing or empty; add image = "./image" (an OCI layout dir or archive) or a registry reference like "docker.io/library/nginx:1"`, "container", "image")
		case strings.IndexFunc(c.Image, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
			sayf([]string{"container", "image"}, "%q contains spaces or control characters; write a path or a registry reference", c.Image)
		}
	}

	l := m.Limits
	if l.Memory < MinMemory || l.Memory > MaxMemory {
		sayf([]string{"limits", "memory"}, "%s is out of range; write a size from %s to %s, like \"64MiB\"", l.Memory, MinMemory, MaxMemory)
	}
	if l.Timeout < MinTimeout || l.Timeout > MaxTimeout {
		sayf([]string{"limits", "timeout"}, "%s is out of range; write a duration from %s to %s, like \"10s\"", l.Timeout, MinTimeout, MaxTimeout)
	}
	if l.Body > MaxBody {
		sayf([]string{"limits", "body"}, "%s is out of range; write a size up to %s, like \"10MiB\"", l.Body, MaxBody)
	}
	if l.Response < MinResponse || l.Response > MaxResponse {
		sayf([]string{"limits", "response"}, "%s is out of range; write a size from %s to %s, like \"16MiB\"", l.Response, MinResponse, MaxResponse)
	}

	if m.Container == nil {
		if l.CPU != 0 {
			say("applies only to containers; remove it (a Wasm instance runs on one thread)", "limits", "cpu")
		}
		if l.Pids != 0 {
			say("applies only to containers; remove it (a Wasm instance has no processes)", "limits", "pids")
		}
	} else {
		if l.CPU != 0 && (l.CPU < MinCPU || l.CPU > MaxCPU || math.IsNaN(l.CPU)) {
			sayf([]string{"limits", "cpu"}, "%g is out of range; write cores from %g to %g, like 0.5, or leave it out for no cap", l.CPU, MinCPU, MaxCPU)
		}
		if l.Pids < MinPids || l.Pids > MaxPids {
			sayf([]string{"limits", "pids"}, "%d is out of range; write a number from %d to %d, like 256", l.Pids, MinPids, MaxPids)
		}
	}

	if len(m.Env) > MaxEnv {
		report([]string{"env"}, true, fmt.Sprintf("has %d variables; at most %d are allowed", len(m.Env), MaxEnv))
	}
	keys := make([]string, 0, len(m.Env))
	for k := range m.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !isEnvName(k) {
			say("is not a variable name; use letters, digits and '_', not starting with a digit, like MY_VAR", "env", k)
		}
		if strings.ContainsRune(m.Env[k], 0) {
			say("the value contains a NUL character, which no environment can hold; remove it", "env", k)
		}
	}

	s := m.Scale
	if s.Max < 1 || s.Max > MaxScale {
		sayf([]string{"scale", "max"}, "%d is out of range; write a number from 1 to %d", s.Max, MaxScale)
	}
	switch {
	case s.Min < 0:
		sayf([]string{"scale", "min"}, "%d is negative; write 0 to scale to zero when idle, or the number of instances to keep warm", s.Min)
	case s.Min > s.Max && s.Max >= 1:
		sayf([]string{"scale", "min"}, "%d is above max (%d); lower min or raise max", s.Min, s.Max)
	}
	if s.Idle < MinIdle {
		sayf([]string{"scale", "idle"}, "%s is too short; write at least %q, like \"5m\"", s.Idle, MinIdle.String())
	}

	seen := map[string]bool{}
	for _, h := range m.Allow.HTTP {
		if msg := checkAllowHost(h); msg != "" {
			say(msg, "allow", "http")
		} else if seen[h] {
			sayf([]string{"allow", "http"}, "%q is listed twice; list each host once", h)
		}
		seen[h] = true
	}
	clear(seen)
	for _, c := range m.Allow.Call {
		if msg := checkCallee(c); msg != "" {
			say(msg, "allow", "call")
		} else if seen[c] {
			sayf([]string{"allow", "call"}, "%q is listed twice; list each service once", c)
		}
		seen[c] = true
	}

	validateAccess(m, report)

	if b := m.Build; b != nil {
		if strings.TrimSpace(b.Command) == "" {
			say(`is missing or empty; add command = "..." under [build], the shell command that builds the module (like "make")`, "build", "command")
		} else if strings.ContainsRune(b.Command, 0) {
			say("contains a NUL character; remove it", "build", "command")
		}
		for _, w := range b.Watch {
			if msg := checkRelPath(w, true); msg != "" {
				say(msg, "build", "watch")
			}
		}
	}
}

// checkName returns what is wrong with a service name, or "".
func checkName(name string) string {
	if name == "" {
		return `missing; add name = "hello" at the top of mote.toml`
	}
	valid := len(name) <= MaxNameLen && isAlnum(name[0]) && isAlnum(name[len(name)-1])
	for i := 0; valid && i < len(name); i++ {
		valid = isAlnum(name[i]) || name[i] == '-'
	}
	if valid {
		return ""
	}
	msg := fmt.Sprintf("%q is not a valid name; use 1 to %d lowercase letters, digits and '-', starting and ending with a letter or digit", truncate(name), MaxNameLen)
	if fix := fixName(name); fix != "" {
		msg += fmt.Sprintf(", like %q", fix)
	}
	return msg
}

// fixName makes a valid name from s, or returns "".
func fixName(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r < utf8.RuneSelf && isAlnum(byte(r)) {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		} else {
			dash = true
		}
	}
	fixed := b.String()
	if len(fixed) > MaxNameLen {
		fixed = strings.TrimRight(fixed[:MaxNameLen], "-")
	}
	return fixed
}

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// checkRoute returns what is wrong with a route, or "".
func checkRoute(route string) string {
	if route == "" {
		return `is empty; write a path like "/hello", or leave route out to use "/" + name`
	}
	wrong := routeFaults(route)
	if len(wrong) == 0 {
		return ""
	}
	msg := fmt.Sprintf("%q %s", truncate(route), strings.Join(wrong, " and "))
	if fix := fixRoute(route); len(routeFaults(fix)) == 0 {
		msg += fmt.Sprintf("; write %q", fix)
	}
	return msg
}

// routeFaults lists the rules a non-empty route breaks.
func routeFaults(route string) []string {
	var wrong []string
	if !strings.HasPrefix(route, "/") {
		wrong = append(wrong, `must start with "/"`)
	}
	if route != "/" && strings.HasSuffix(route, "/") {
		wrong = append(wrong, `must not end with "/"`)
	}
	if strings.Contains(route, "//") {
		wrong = append(wrong, `must not contain "//"`)
	}
	for _, seg := range strings.Split(route, "/") {
		if seg == "." || seg == ".." {
			wrong = append(wrong, `must not contain "." or ".." segments`)
			break
		}
	}
	if strings.IndexFunc(route, badRouteRune) >= 0 {
		wrong = append(wrong, "must not contain "+badRouteChars(route)+
			` (a route holds ASCII letters, digits, "/" and -._~!$&'()*+,;=: — clients percent-encode anything else, so it could never match; "@" marks a version's tag)`)
	}
	if !utf8.ValidString(route) {
		wrong = append(wrong, "must be valid UTF-8")
	}
	if len(route) > MaxRouteLen {
		wrong = append(wrong, fmt.Sprintf("must be at most %d bytes", MaxRouteLen))
	}
	return wrong
}

// badRouteChars names the characters of route that badRouteRune refuses:
// each printable one quoted, then spaces, control and non-ASCII characters.
func badRouteChars(route string) string {
	var names []string
	seen := map[string]bool{}
	for _, r := range route {
		if !badRouteRune(r) {
			continue
		}
		var name string
		switch {
		case unicode.IsSpace(r):
			name = "spaces"
		case unicode.IsControl(r):
			name = "control characters"
		case r >= utf8.RuneSelf:
			name = "non-ASCII characters"
		default:
			name = strconv.Quote(string(r))
		}
		if !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	return strings.Join(names, ", ")
}

// badRouteRune reports whether r may not appear in a route: the gateway
// matches routes against the escaped path, so a route holds only what an
// escaped path holds unescaped (RFC 3986 unreserved and sub-delims, ':'),
// but '@', which separates a route from a version's tag.
func badRouteRune(r rune) bool {
	switch {
	case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		return false
	}
	return !strings.ContainsRune("/-._~!$&'()*+,;=:", r)
}

// fixRoute makes a route from s by dropping what checkRoute rejects.
func fixRoute(s string) string {
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i]
	}
	var segs []string
	for _, seg := range strings.Split(s, "/") {
		seg = strings.Map(func(r rune) rune {
			if badRouteRune(r) || r == utf8.RuneError {
				return -1
			}
			return r
		}, seg)
		if seg != "" && seg != "." && seg != ".." {
			segs = append(segs, seg)
		}
	}
	return "/" + strings.Join(segs, "/")
}

// checkRelPath returns what is wrong with a path (or, when glob is set, a
// glob) relative to the manifest's directory, or "".
func checkRelPath(p string, glob bool) string {
	what := "path"
	if glob {
		what = "pattern"
	}
	switch {
	case p == "" || p == ".":
		return fmt.Sprintf("%q names no file; write a %s relative to mote.toml, like %q", p, what, map[bool]string{false: "hello.wasm", true: "static/*"}[glob])
	case strings.IndexFunc(p, unicode.IsControl) >= 0:
		return fmt.Sprintf("%q contains control characters; remove them", truncate(p))
	case strings.ContainsRune(p, '\\') && !glob:
		return fmt.Sprintf("%q uses '\\'; separate directories with '/', like %q", p, strings.ReplaceAll(p, `\`, "/"))
	case strings.HasPrefix(p, "/") || len(p) >= 2 && p[1] == ':':
		return fmt.Sprintf("%q is absolute; write a %s relative to mote.toml (the package holds only that directory)", p, what)
	}
	if c := path.Clean(p); c == ".." || strings.HasPrefix(c, "../") {
		return fmt.Sprintf("%q leads out of the directory holding mote.toml; the package holds only that directory", p)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			return fmt.Sprintf("%q contains \"..\"; write the %s without it, like %q", p, what, path.Clean(p))
		}
	}
	if glob {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Sprintf("%q is not a valid pattern (check its [ ] brackets and \\ escapes); use *, ? and [a-z] like \"static/*.html\"", p)
		}
	}
	return ""
}

func isEnvName(k string) bool {
	if k == "" || k[0] >= '0' && k[0] <= '9' {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
