package ociimage

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Docker Hub's names: references say docker.io, the API is served by
// registry-1.docker.io, and one-component repositories are under library/.
const (
	DockerHub     = "docker.io"
	dockerHubAPI  = "registry-1.docker.io"
	dockerLibrary = "library/"
)

// Reference is a parsed registry reference.
type Reference struct {
	// Host is the registry, with its port if any ("ghcr.io",
	// "localhost:5000"); DockerHub when the reference names none.
	Host string
	// Repo is the repository ("library/nginx", "owner/app").
	Repo string
	// Tag is the tag; "latest" when the reference has neither tag nor
	// digest.
	Tag string
	// Digest is the manifest digest when the reference pins one; the tag
	// is then ignored for pulling.
	Digest string
}

// String returns the reference in full: "host/repo:tag", "host/repo@digest"
// or "host/repo:tag@digest".
func (r Reference) String() string {
	s := r.Host + "/" + r.Repo
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// ParseReference parses "host[:port]/repo[:tag][@digest]" as docker does:
// the first component is a host when it contains "." or ":" or is
// "localhost", else the host is docker.io, where a one-component
// repository gets "library/"; the tag defaults to "latest". Repository
// components are lowercase letters and digits separated by ".", "_", "__"
// or dashes; a tag is up to 128 of [A-Za-z0-9_.-], not starting with "."
// or "-"; a digest is sha256. Errors wrap ErrInvalid (ErrUnsupported for
// other digest algorithms) and show the expected form.
func ParseReference(s string) (Reference, error) {
	bad := func(why string) error {
		return fmt.Errorf("%w: reference %s: %s; write a registry reference like ghcr.io/owner/app:1.0, or a path starting with ./", ErrInvalid, quote(s), why)
	}
	if s == "" {
		return Reference{}, bad("is empty")
	}
	if len(s) > 1024 {
		return Reference{}, bad("is over 1024 bytes")
	}
	var r Reference
	rest := s
	if i := strings.IndexByte(rest, '@'); i >= 0 {
		r.Digest = rest[i+1:]
		rest = rest[:i]
		if err := checkDigest("reference "+quote(s), "digest", r.Digest); err != nil {
			return Reference{}, err
		}
	}
	if i := strings.LastIndexByte(rest, ':'); i > strings.LastIndexByte(rest, '/') {
		r.Tag = rest[i+1:]
		rest = rest[:i]
		if !validTag(r.Tag) {
			return Reference{}, bad(fmt.Sprintf("tag %s is not 1 to 128 of A-Z a-z 0-9 _ . - (not starting with . or -)", quote(r.Tag)))
		}
	}
	if first, after, ok := strings.Cut(rest, "/"); ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		r.Host, r.Repo = first, after
		if !validHost(r.Host) {
			return Reference{}, bad(fmt.Sprintf("registry host %s is not a host name or address with an optional port", quote(r.Host)))
		}
	} else {
		r.Host, r.Repo = DockerHub, rest
	}
	if r.Host == "index.docker.io" || r.Host == dockerHubAPI {
		r.Host = DockerHub
	}
	if r.Host == DockerHub && !strings.Contains(r.Repo, "/") {
		r.Repo = dockerLibrary + r.Repo
	}
	if r.Repo == "" {
		return Reference{}, bad("names no repository")
	}
	if len(r.Repo) > 255 {
		return Reference{}, bad("repository name is over 255 bytes")
	}
	for _, c := range strings.Split(r.Repo, "/") {
		if !validComponent(c) {
			if strings.ToLower(c) != c {
				return Reference{}, bad(fmt.Sprintf("repository component %s must be lowercase", quote(c)))
			}
			return Reference{}, bad(fmt.Sprintf("repository component %s is not lowercase letters and digits separated by . _ __ or -", quote(c)))
		}
	}
	if r.Tag == "" && r.Digest == "" {
		r.Tag = "latest"
	}
	return r, nil
}

// validComponent checks [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*.
func validComponent(c string) bool {
	alnum := func(b byte) bool { return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' }
	if c == "" || !alnum(c[0]) || !alnum(c[len(c)-1]) {
		return false
	}
	for i := 0; i < len(c); {
		if alnum(c[i]) {
			i++
			continue
		}
		j := i
		for j < len(c) && !alnum(c[j]) {
			j++
		}
		switch sep := c[i:j]; {
		case sep == "." || sep == "_" || sep == "__":
		case strings.Trim(sep, "-") == "":
		default:
			return false
		}
		i = j
	}
	return true
}

// validTag checks [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.
func validTag(t string) bool {
	if t == "" || len(t) > 128 || t[0] == '.' || t[0] == '-' {
		return false
	}
	for i := range len(t) {
		b := t[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '.' || b == '-') {
			return false
		}
	}
	return true
}

// validHost checks a host name, IPv4 address or bracketed IPv6 address,
// with an optional port.
func validHost(h string) bool {
	if rest, ok := strings.CutPrefix(h, "["); ok {
		ip, after, ok := strings.Cut(rest, "]")
		if !ok || !strings.Contains(ip, ":") || net.ParseIP(ip) == nil {
			return false
		}
		if after == "" {
			return true
		}
		port, ok := strings.CutPrefix(after, ":")
		return ok && validPort(port)
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		if !validPort(h[i+1:]) {
			return false
		}
		h = h[:i]
	}
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, b := range []byte(label) {
			if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-') {
				return false
			}
		}
	}
	return true
}

// validPort checks a decimal port, 1 to 65535.
func validPort(p string) bool {
	if p == "" || len(p) > 5 {
		return false
	}
	for _, b := range []byte(p) {
		if b < '0' || b > '9' {
			return false
		}
	}
	n, _ := strconv.Atoi(p)
	return n >= 1 && n <= 65535
}
