package manifest

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// MaxHostLen bounds a host name in [allow] http (RFC 1035's 253 bytes).
const MaxHostLen = 253

// SplitHostPort splits an [allow] http entry into its host (IPv6 without
// brackets) and its port, "" when the entry has none. It does not check
// the entry; Parse does.
func SplitHostPort(entry string) (host, port string) {
	if strings.HasPrefix(entry, "[") {
		end := strings.IndexByte(entry, ']')
		if end < 0 {
			return entry, ""
		}
		host, rest := entry[1:end], entry[end+1:]
		return host, strings.TrimPrefix(rest, ":")
	}
	if strings.Count(entry, ":") == 1 {
		host, port, _ = strings.Cut(entry, ":")
		return host, port
	}
	return entry, ""
}

// checkAllowHost returns what is wrong with an [allow] http entry, or "".
func checkAllowHost(h string) string {
	const example = `like "api.example.com" or "127.0.0.1:8090"`
	switch {
	case h == "":
		return `"" names no host; write a host ` + example
	case strings.Contains(h, "*"):
		return fmt.Sprintf(`%q: wildcards are not allowed; list each host the service may reach, %s`, truncate(h), example)
	case strings.ContainsAny(h, "/?#@"):
		if fix := hostOfURL(h); fix != "" && checkAllowHost(fix) == "" {
			return fmt.Sprintf("%q is not a host; write only the host (and port), like %q", truncate(h), fix)
		}
		return fmt.Sprintf("%q is not a host; write only the host (and port), %s", truncate(h), example)
	case strings.ToLower(h) != h:
		if fix := strings.ToLower(h); checkAllowHost(fix) == "" {
			return fmt.Sprintf("%q has uppercase letters; write %q", truncate(h), fix)
		}
	}
	host, port := SplitHostPort(h)
	hasPort := strings.Contains(h, "]:") || !strings.HasPrefix(h, "[") && strings.Contains(h, ":")
	if strings.HasPrefix(h, "[") {
		ip := net.ParseIP(host)
		end := strings.IndexByte(h, ']')
		if end < 0 || ip == nil || ip.To4() != nil || !(end == len(h)-1 || h[end+1] == ':') {
			return fmt.Sprintf(`%q is not a bracketed IPv6 address; write it like "[::1]" or "[::1]:8080"`, truncate(h))
		}
	} else {
		if strings.Count(h, ":") > 1 {
			return fmt.Sprintf(`%q: put an IPv6 address in brackets, like "[::1]:8080"`, truncate(h))
		}
		if msg := checkHostName(host); msg != "" {
			return fmt.Sprintf("%q: %s; write a host %s", truncate(h), msg, example)
		}
	}
	if hasPort {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || port[0] == '+' || port[0] == '0' {
			return fmt.Sprintf(`%q: %q is not a port; write a number from 1 to 65535 after the ":", like "api.example.com:8443", or no port to allow any`, truncate(h), port)
		}
	}
	return ""
}

// checkHostName returns what is wrong with a DNS name or IPv4 address, or "".
func checkHostName(host string) string {
	switch {
	case host == "":
		return "the host is empty"
	case len(host) > MaxHostLen:
		return fmt.Sprintf("the host is longer than %d bytes", MaxHostLen)
	case strings.HasSuffix(host, "."):
		return "the host ends with a dot"
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || len(label) > 63 {
			return "each dot-separated part of the host must be 1 to 63 characters"
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return "a part of the host starts or ends with '-'"
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !isAlnum(c) && c != '-' {
				return fmt.Sprintf("%q cannot be in a host name (lowercase letters, digits, '-' and '.')", string(rune(c)))
			}
		}
	}
	return ""
}

// hostOfURL returns the host[:port] of something written as a URL
// ("https://API.example.com/v1"), lowercased, or "".
func hostOfURL(s string) string {
	if !strings.Contains(s, "://") {
		s = "//" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Host)
}

// checkCallee returns what is wrong with an [allow] call entry, or "".
func checkCallee(c string) string {
	if c == "*" {
		return ""
	}
	valid := c != "" && len(c) <= MaxNameLen && isAlnum(c[0]) && isAlnum(c[len(c)-1])
	for i := 0; valid && i < len(c); i++ {
		valid = isAlnum(c[i]) || c[i] == '-'
	}
	if valid {
		return ""
	}
	msg := fmt.Sprintf(`%q is not a service name; write the name from the other service's mote.toml (1 to %d lowercase letters, digits and '-'), or "*" for any service`, truncate(c), MaxNameLen)
	if fix := fixName(c); fix != "" && fix != c {
		msg += fmt.Sprintf(`, like %q`, fix)
	}
	return msg
}
