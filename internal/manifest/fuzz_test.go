package manifest

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		base,
		"name = \"web\"\n[container]\nimage = \"./image\"\n",
		"name = \"a\"\nroute = \"/\"\ndescription = \"\"\"x\ny\"\"\"\n[wasm]\nmodule = \"./b/a.wasm\"\nabi = \"pooled\"\nfiles = [\"s/*\", \"**\"]\n" +
			"[limits]\nmemory = \"64KiB\"\ntimeout = \"1ms\"\nbody = \"0\"\nresponse = \"1kB\"\n[env]\nA = \"b\"\n[scale]\nmin = 1\nmax = 1\nidle = \"1s\"\n[auth]\nrequire_key = true\n[build]\ncommand = \"make\"\nwatch = [\"src\"]\n",
		"limits = { memory = \"1\" }\nname = 'x'\nwasm.module = \"x.wasm\"\n",
		"name = \"x\"\n[[wasm]]\nmodule = 1\n[env]\n\"\" = \"\\u0000\"\n",
		"name = = 1",
		base + "[allow]\nkv = true\nconfig = false\nhttp = [\"a.example.com\", \"[::1]:8080\", \"b:1\"]\ncall = [\"*\", \"users\"]\n",
		base + "[auth]\nrequire_key = true\n[auth.jwt]\nissuer = \"https://auth.example.com\"\naudience = \"hello\"\nleeway = \"1m\"\nclaims = [\"sub\", \"email\"]\n",
		base + "[auth]\njwt = { claims = [\"sub\", \"Sub\"], leeway = \"0s\" }\n",
		base + "[cors]\norigins = [\"https://Shop.example.com\", \"http://[::1]:3000\"]\nmethods = [\"GET\", \"POST\"]\nheaders = [\"content-type\"]\nexpose = [\"X-Request-Id\"]\ncredentials = true\nmax_age = \"10m\"\n",
		base + "[cors]\norigins = [\"*\"]\nmethods = []\n",
		base + "[ip]\nallow = [\"10.0.0.0/8\", \"192.168.1.7\", \"2001:db8::/32\", \"::ffff:1.2.3.4\"]\ndeny = [\"10.9.0.0/16\", \"10.0.0.1/8\"]\n",
		base + "[ip]\n",
		base + "[lifecycle]\nstate = \"deprecated\"\ndeprecated = 2026-11-01T00:00:00Z\nsunset = \"2027-06-30T00:00:00.5+02:00\"\nlink = \"https://example.com/migrate\"\n",
		base + "[lifecycle]\nstate = \"retired\"\nsunset = 2027-06-30\ndeprecated = 1979-05-27T07:32:00\n",
		base + "[openapi]\nspec = \"./docs//openapi.json\"\nvalidate = true\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err != nil {
			var perr *Error
			if !errors.As(err, &perr) || !errors.Is(err, ErrInvalid) || len(perr.Problems) == 0 {
				t.Fatalf("Parse error %T %v; want a non-empty *Error", err, err)
			}
			lines := strings.Count(string(data), "\n") + 1
			for _, p := range perr.Problems {
				if p.Line < 0 || p.Line > lines || p.Message == "" {
					t.Fatalf("bad problem %+v in a %d-line document", p, lines)
				}
			}
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("Parse accepted a manifest Validate rejects: %v", err)
		}
		again, err := Parse(m.Format())
		if err != nil {
			t.Fatalf("Parse(Format()) failed: %v\n%s", err, m.Format())
		}
		if !reflect.DeepEqual(again, m) {
			t.Fatalf("Parse(Format()) =\n%+v\nwant\n%+v", again, m)
		}
	})
}

func FuzzParseByteSize(f *testing.F) {
	for _, seed := range []string{"64MiB", "0", "10MB", "2kB", "18446744073709551615", "16777216TiB", "64 MB", "1.5GiB", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := ParseByteSize(s)
		if err != nil {
			if !strings.Contains(err.Error(), "size") {
				t.Fatalf("error %q does not say what was wrong", err)
			}
			return
		}
		back, err := ParseByteSize(b.String())
		if err != nil || back != b {
			t.Fatalf("ParseByteSize(%q) = %d; String %q reads back as %d, %v", s, uint64(b), b.String(), uint64(back), err)
		}
	})
}

func FuzzParseDuration(f *testing.F) {
	for _, seed := range []string{"10s", "1m30s", "250ms", "5m", "1h0m0s", "30", "-1.5h", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			return
		}
		back, err := ParseDuration(d.String())
		if err != nil || back != d {
			t.Fatalf("ParseDuration(%q) = %d; String %q reads back as %d, %v", s, d, d.String(), back, err)
		}
	})
}

// FuzzParseValues fuzzes the values of a well-formed manifest, reaching the
// rules that raw TOML fuzzing rarely gets past the parser to.
func FuzzParseValues(f *testing.F) {
	f.Add("hello", "/hello", "hello.wasm", "wagi", "static/*", "64MiB", "10s", "1MiB", "1MiB", "KEY", "value", int64(0), int64(20), "5m", "make", "src/*")
	f.Add("a-b", "/", "./x/../y.wasm", "pooled", "[a-", "64 MB", "30", "0", "1kB", "1A", "\x00", int64(-1), int64(1001), "1ms", " ", "/abs")
	f.Fuzz(func(t *testing.T, name, route, module, abi, file, memory, timeout, body, response, envKey, envVal string, min, max int64, idle, command, watch string) {
		doc := "name = " + quote(name) + "\nroute = " + quote(route) +
			"\n[wasm]\nmodule = " + quote(module) + "\nabi = " + quote(abi) + "\nfiles = [" + quote(file) + "]" +
			"\n[limits]\nmemory = " + quote(memory) + "\ntimeout = " + quote(timeout) + "\nbody = " + quote(body) + "\nresponse = " + quote(response) +
			"\n[env]\n" + quoteKey(envKey) + " = " + quote(envVal) +
			"\n[scale]\nmin = " + strconv.FormatInt(min, 10) + "\nmax = " + strconv.FormatInt(max, 10) + "\nidle = " + quote(idle) +
			"\n[build]\ncommand = " + quote(command) + "\nwatch = [" + quote(watch) + "]\n"
		m, err := Parse([]byte(doc))
		if err != nil {
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("Parse error %T %v", err, err)
			}
			for _, p := range perr.Problems {
				if p.Key == "" && utf8.ValidString(doc) {
					t.Fatalf("quoted values made invalid TOML: %v\n%s", err, doc)
				}
				if p.Line == 0 && p.Key != "" {
					t.Fatalf("problem without a line: %+v\n%s", p, doc)
				}
			}
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("Parse accepted a manifest Validate rejects: %v", err)
		}
		again, err := Parse(m.Format())
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("Parse(Format()) = %+v, %v; want %+v", again, err, m)
		}
	})
}

// FuzzParseAccessValues fuzzes the values of the API management tables in
// a well-formed manifest.
func FuzzParseAccessValues(f *testing.F) {
	f.Add("https://auth.example.com", "hello", "30s", "sub", "https://shop.example.com", "GET", "Content-Type", "X-Request-Id", false, "5m", "10.0.0.0/8", "192.168.1.7", "deprecated", "2026-11-01T00:00:00Z", "2027-06-30T00:00:00Z", "https://example.com/migrate", "openapi.json", true)
	f.Add("", "", "6m", "a.b", "*", "get", "*", "x id", true, "25h", "10.0.0.1/8", "::ffff:1.2.3.4", "deprecate", "2026-11-01", "x", "example.com", "openapi.yaml", false)
	f.Add("\x00", "a", "-1s", "Sub", "HTTPS://A.com:443/", "PURGE", "content-type", "x-id", false, "0s", "fe80::1%eth0", "*", "draft", "2027-01-01T00:00:00+02:00", "2026-01-01T00:00:00Z", "ftp://x", "../a.json", true)
	f.Fuzz(func(t *testing.T, issuer, audience, leeway, claim, origin, method, header, expose string, credentials bool, maxAge, allow, deny, state, deprecated, sunset, link, spec string, validate bool) {
		doc := base +
			"[auth.jwt]\nissuer = " + quote(issuer) + "\naudience = " + quote(audience) + "\nleeway = " + quote(leeway) + "\nclaims = [" + quote(claim) + ", \"sub\"]\n" +
			"[cors]\norigins = [" + quote(origin) + "]\nmethods = [" + quote(method) + "]\nheaders = [" + quote(header) + "]\nexpose = [" + quote(expose) + "]\ncredentials = " + strconv.FormatBool(credentials) + "\nmax_age = " + quote(maxAge) + "\n" +
			"[ip]\nallow = [" + quote(allow) + "]\ndeny = [" + quote(deny) + "]\n" +
			"[lifecycle]\nstate = " + quote(state) + "\ndeprecated = " + quote(deprecated) + "\nsunset = " + quote(sunset) + "\nlink = " + quote(link) + "\n" +
			"[openapi]\nspec = " + quote(spec) + "\nvalidate = " + strconv.FormatBool(validate) + "\n"
		m, err := Parse([]byte(doc))
		if err != nil {
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("Parse error %T %v", err, err)
			}
			for _, p := range perr.Problems {
				if p.Key == "" && utf8.ValidString(doc) {
					t.Fatalf("quoted values made invalid TOML: %v\n%s", err, doc)
				}
				if p.Line == 0 && p.Key != "" {
					t.Fatalf("problem without a line: %+v\n%s", p, doc)
				}
			}
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("Parse accepted a manifest Validate rejects: %v", err)
		}
		again, err := Parse(m.Format())
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("Parse(Format()) = %+v, %v; want %+v\n%s", again, err, m, m.Format())
		}
	})
}
