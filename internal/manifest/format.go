package manifest

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Format writes m as a mote.toml with every key explicit, tables in a
// fixed order and [env] sorted. Parse reads a valid manifest's Format back
// to an equal Manifest.
func (m *Manifest) Format() []byte {
	var b strings.Builder
	kv := func(k, v string) { fmt.Fprintf(&b, "%s = %s\n", k, v) }
	kv("name", quote(m.Name))
	kv("route", quote(m.Route))
	if m.Description != "" {
		kv("description", quote(m.Description))
	}
	if w := m.Wasm; w != nil {
		b.WriteString("\n[wasm]\n")
		kv("module", quote(w.Module))
		kv("abi", quote(w.ABI))
		if len(w.Files) > 0 {
			kv("files", quoteList(w.Files))
		}
	}
	if c := m.Container; c != nil {
		b.WriteString("\n[container]\n")
		kv("image", quote(c.Image))
		kv("port", fmt.Sprint(c.Port))
		kv("concurrency", fmt.Sprint(c.Concurrency))
		kv("grace", quote(c.Grace.String()))
	}
	b.WriteString("\n[limits]\n")
	kv("memory", quote(m.Limits.Memory.String()))
	kv("timeout", quote(m.Limits.Timeout.String()))
	kv("body", quote(m.Limits.Body.String()))
	kv("response", quote(m.Limits.Response.String()))
	if m.Limits.CPU != 0 {
		kv("cpu", strconv.FormatFloat(m.Limits.CPU, 'g', -1, 64))
	}
	if m.Container != nil {
		kv("pids", fmt.Sprint(m.Limits.Pids))
	}
	if len(m.Env) > 0 {
		b.WriteString("\n[env]\n")
		keys := make([]string, 0, len(m.Env))
		for k := range m.Env {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			kv(quoteKey(k), quote(m.Env[k]))
		}
	}
	b.WriteString("\n[scale]\n")
	kv("min", fmt.Sprint(m.Scale.Min))
	kv("max", fmt.Sprint(m.Scale.Max))
	kv("idle", quote(m.Scale.Idle.String()))
	b.WriteString("\n[auth]\n")
	kv("require_key", fmt.Sprint(m.Auth.RequireKey))
	if j := m.Auth.JWT; j != nil {
		b.WriteString("\n[auth.jwt]\n")
		if j.Issuer != "" {
			kv("issuer", quote(j.Issuer))
		}
		if j.Audience != "" {
			kv("audience", quote(j.Audience))
		}
		kv("leeway", quote(j.Leeway.String()))
		if len(j.Claims) > 0 {
			kv("claims", quoteList(j.Claims))
		}
	}
	b.WriteString("\n[allow]\n")
	kv("kv", fmt.Sprint(m.Allow.KV))
	kv("config", fmt.Sprint(m.Allow.Config))
	if len(m.Allow.HTTP) > 0 {
		kv("http", quoteList(m.Allow.HTTP))
	}
	if len(m.Allow.Call) > 0 {
		kv("call", quoteList(m.Allow.Call))
	}
	if bd := m.Build; bd != nil {
		b.WriteString("\n[build]\n")
		kv("command", quote(bd.Command))
		if len(bd.Watch) > 0 {
			kv("watch", quoteList(bd.Watch))
		}
	}
	if c := m.CORS; c != nil {
		b.WriteString("\n[cors]\n")
		kv("origins", quoteList(c.Origins))
		kv("methods", quoteList(c.Methods))
		if len(c.Headers) > 0 {
			kv("headers", quoteList(c.Headers))
		}
		if len(c.Expose) > 0 {
			kv("expose", quoteList(c.Expose))
		}
		kv("credentials", fmt.Sprint(c.Credentials))
		kv("max_age", quote(c.MaxAge.String()))
	}
	if r := m.IP; r != nil {
		b.WriteString("\n[ip]\n")
		for _, l := range []struct {
			key  string
			list []netip.Prefix
		}{{"allow", r.Allow}, {"deny", r.Deny}} {
			if len(l.list) == 0 {
				continue
			}
			q := make([]string, len(l.list))
			for i, p := range l.list {
				q[i] = prefixText(p)
			}
			kv(l.key, quoteList(q))
		}
	}
	l := m.Lifecycle
	b.WriteString("\n[lifecycle]\n")
	kv("state", quote(l.State))
	if l.Deprecated != nil {
		kv("deprecated", l.Deprecated.UTC().Format(time.RFC3339Nano))
	}
	if l.Sunset != nil {
		kv("sunset", l.Sunset.UTC().Format(time.RFC3339Nano))
	}
	if l.Link != "" {
		kv("link", quote(l.Link))
	}
	if o := m.OpenAPI; o != nil {
		b.WriteString("\n[openapi]\n")
		kv("spec", quote(o.Spec))
		kv("validate", fmt.Sprint(o.Validate))
	}
	return []byte(b.String())
}

func quoteList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
