package manifest

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestParseAccessDefaults(t *testing.T) {
	m, err := Parse([]byte(base + "[auth.jwt]\n[cors]\norigins = [\"*\"]\n[ip]\ndeny = [\"192.0.2.7\"]\n[openapi]\nspec = \"openapi.json\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := (Auth{JWT: &JWT{Leeway: Duration(30 * time.Second)}}); !reflect.DeepEqual(m.Auth, want) {
		t.Errorf("Auth = %+v, want %+v", m.Auth, want)
	}
	if want := (&CORS{Origins: []string{"*"}, Methods: []string{"GET", "HEAD", "POST"}, MaxAge: Duration(5 * time.Minute)}); !reflect.DeepEqual(m.CORS, want) {
		t.Errorf("CORS = %+v, want %+v", m.CORS, want)
	}
	if want := (&IPRules{Deny: []netip.Prefix{netip.MustParsePrefix("192.0.2.7/32")}}); !reflect.DeepEqual(m.IP, want) {
		t.Errorf("IP = %+v, want %+v", m.IP, want)
	}
	if want := (Lifecycle{State: "published"}); !reflect.DeepEqual(m.Lifecycle, want) {
		t.Errorf("Lifecycle = %+v, want %+v", m.Lifecycle, want)
	}
	if want := (&OpenAPI{Spec: "openapi.json"}); !reflect.DeepEqual(m.OpenAPI, want) {
		t.Errorf("OpenAPI = %+v, want %+v", m.OpenAPI, want)
	}
	// The default methods are the manifest's own copy.
	m.CORS.Methods[0] = "PUT"
	if DefaultCORSMethods[0] != "GET" {
		t.Error("changing a manifest's methods changed DefaultCORSMethods")
	}
}

func TestParseLifecycleTimes(t *testing.T) {
	for _, tc := range []struct{ value, want string }{
		{"2026-11-01T00:00:00Z", "2026-11-01T00:00:00Z"},
		{"2026-11-01T02:00:00+02:00", "2026-11-01T00:00:00Z"},
		{"2026-11-01 00:00:00.5-01:00", "2026-11-01T01:00:00.5Z"},
		{`"2026-11-01T00:00:00Z"`, "2026-11-01T00:00:00Z"},
		{`"2026-11-01T00:00:00.123456789-05:30"`, "2026-11-01T05:30:00.123456789Z"},
	} {
		m, err := Parse([]byte(base + "[lifecycle]\nstate = \"retired\"\nsunset = " + tc.value + "\n"))
		if err != nil {
			t.Fatalf("sunset = %s: %v", tc.value, err)
		}
		if got := m.Lifecycle.Sunset; got == nil || got.Location() != time.UTC || got.Format(time.RFC3339Nano) != tc.want {
			t.Errorf("sunset = %s: got %v, want %s in UTC", tc.value, got, tc.want)
		}
	}
}

func TestValidationAccess(t *testing.T) {
	for _, tc := range []struct {
		name string
		doc  string
		want []problem // nil: valid
	}{
		// [auth] and [auth.jwt].
		{"jwt empty", base + "[auth.jwt]\n", nil},
		{"jwt all", base + "[auth]\nrequire_key = true\n[auth.jwt]\nissuer = \"https://auth.example.com\"\naudience = \"hello\"\nleeway = \"5m\"\nclaims = [\"sub\", \"email\", \"org_id\", \"x-tenant\", \"" + strings.Repeat("c", 64) + "\"]\n", nil},
		{"jwt inline", base + "[auth]\njwt = { issuer = \"i\", leeway = \"0s\" }\n", nil},
		{"jwt dotted", base + "[auth]\njwt.claims = []\n", nil},
		{"jwt 32 claims", base + "[auth.jwt]\nclaims = [" + claimList(32) + "]\n", nil},
		{"jwt 33 claims", base + "[auth.jwt]\nclaims = [" + claimList(33) + "]\n", []problem{{5, "[auth.jwt] claims", "lists 33 claims; at most 32"}}},
		{"jwt leeway long", base + "[auth.jwt]\nleeway = \"6m\"\n", []problem{{5, "[auth.jwt] leeway", "6m is out of range; write a duration from 0s to 5m"}}},
		{"jwt leeway negative", base + "[auth.jwt]\nleeway = \"-1s\"\n", []problem{{5, "[auth.jwt] leeway", "out of range"}}},
		{"jwt leeway unit", base + "[auth.jwt]\nleeway = \"30\"\n", []problem{{5, "[auth.jwt] leeway", `add a unit, like "30s"`}}},
		{"jwt claim dot", base + "[auth.jwt]\nclaims = [\"a.b\"]\n", []problem{{5, "[auth.jwt] claims", `"a.b" is not a claim name`}}},
		{"jwt claim empty", base + "[auth.jwt]\nclaims = [\"\"]\n", []problem{{5, "[auth.jwt] claims", `"" is not a claim name`}}},
		{"jwt claim long", base + "[auth.jwt]\nclaims = [\"" + strings.Repeat("c", 65) + "\"]\n", []problem{{5, "[auth.jwt] claims", "1 to 64 letters"}}},
		{"jwt claim twice", base + "[auth.jwt]\nclaims = [\"sub\", \"sub\"]\n", []problem{{5, "[auth.jwt] claims", `"sub" is listed twice`}}},
		{"jwt claims one header", base + "[auth.jwt]\nclaims = [\"sub\", \"Sub\"]\n", []problem{{5, "[auth.jwt] claims", `"sub" and "Sub" both become the header Mote-Claim-Sub`}}},
		{"jwt issuer control", base + "[auth.jwt]\nissuer = \"a\\nb\"\n", []problem{{5, "[auth.jwt] issuer", "control characters"}}},
		{"jwt audience long", base + "[auth.jwt]\naudience = \"" + strings.Repeat("a", 1025) + "\"\n", []problem{{5, "[auth.jwt] audience", "keep it under 1024"}}},
		{"jwt issuer integer", base + "[auth.jwt]\nissuer = 1\n", []problem{{5, "[auth.jwt] issuer", `want a string like "https://auth.example.com"`}}},
		{"jwt claims string", base + "[auth.jwt]\nclaims = \"sub\"\n", []problem{{5, "[auth.jwt] claims", `want an array of strings like ["sub", "email"]`}}},
		{"jwt typo", base + "[auth.jwt]\nisuser = \"x\"\n", []problem{{5, "[auth.jwt] isuser", `did you mean "issuer"?`}}},
		{"jwt key of auth", base + "[auth.jwt]\nrequire_key = true\n", []problem{{5, "[auth.jwt] require_key", `did you mean "require_key" in [auth]?`}}},
		{"jwt table typo", base + "[auth.jwtt]\n", []problem{{4, "[auth] jwtt", `did you mean "jwt"?`}}},
		{"jwt not a table", base + "[auth]\njwt = true\n", []problem{{5, "[auth] jwt", "want a table, written as a [auth.jwt] line followed by its keys; got boolean true"}}},
		{"jwt inline problem", base + "[auth]\njwt = { leeway = 5 }\n", []problem{{5, "[auth.jwt] leeway", "want a string"}}},

		// [cors].
		{"cors any", base + "[cors]\norigins = [\"*\"]\n", nil},
		{"cors all", base + "[cors]\norigins = [\"https://shop.example.com\", \"http://localhost:3000\", \"http://127.0.0.1:8080\", \"https://[::1]:8443\", \"app://x\"]\nmethods = [\"GET\", \"POST\", \"PURGE\", \"OPTIONS\"]\nheaders = [\"Content-Type\", \"X-Api-Key\"]\nexpose = [\"X-Request-Id\"]\ncredentials = true\nmax_age = \"24h\"\n", nil},
		{"cors max_age zero", base + "[cors]\norigins = [\"*\"]\nmax_age = \"0s\"\n", nil},
		{"cors empty", base + "[cors]\n", []problem{{4, "[cors] origins", "is missing or empty; add origins = [\"https://shop.example.com\"]"}}},
		{"cors origins empty", base + "[cors]\norigins = []\n", []problem{{5, "[cors] origins", "is missing or empty"}}},
		{"cors origin typo", base + "[cors]\norigin = [\"*\"]\n", []problem{{4, "[cors] origins", "missing"}, {5, "[cors] origin", `did you mean "origins"?`}}},
		{"cors origin at the top", "origin = [\"*\"]\n" + base, []problem{{1, "origin", `did you mean "origins" in [cors]?`}}},
		{"cors table typo", base + "[cros]\norigins = [\"*\"]\n", []problem{{4, "cros", `did you mean "cors"?`}}},
		{"cors origins string", base + "[cors]\norigins = \"*\"\n", []problem{{5, "[cors] origins", `want an array of strings like ["https://shop.example.com"]`}}},
		{"cors star and more", base + "[cors]\norigins = [\"*\", \"https://a.com\"]\n", []problem{{5, "[cors] origins", `write origins = ["*"] alone`}}},
		{"cors star credentials", base + "[cors]\norigins = [\"*\"]\ncredentials = true\n", []problem{{6, "[cors] credentials", `browsers refuse credentials with origins = ["*"]`}}},
		{"cors credentials string", base + "[cors]\norigins = [\"*\"]\ncredentials = \"yes\"\n", []problem{{6, "[cors] credentials", "want true or false"}}},
		{"cors origin slash", base + "[cors]\norigins = [\"https://a.com/\"]\n", []problem{{5, "[cors] origins", `"https://a.com/" is not an origin: an origin has no path, query or user; write "https://a.com"`}}},
		{"cors origin path", base + "[cors]\norigins = [\"https://user@a.com:8443/app?x=1\"]\n", []problem{{5, "[cors] origins", `write "https://a.com:8443"`}}},
		{"cors origin no scheme", base + "[cors]\norigins = [\"shop.example.com\"]\n", []problem{{5, "[cors] origins", `"shop.example.com" has no scheme; write "https://shop.example.com"`}}},
		{"cors origin default port", base + "[cors]\norigins = [\"https://a.com:443\", \"http://a.com:80\"]\n", []problem{{5, "[cors] origins", `write "https://a.com"`}, {5, "[cors] origins", `write "http://a.com"`}}},
		{"cors origin wildcard", base + "[cors]\norigins = [\"https://*.example.com\"]\n", []problem{{5, "[cors] origins", "wildcards are not allowed"}}},
		{"cors origin scheme", base + "[cors]\norigins = [\"1http://a.com\"]\n", []problem{{5, "[cors] origins", `"1http" is not a scheme`}}},
		{"cors origin no host", base + "[cors]\norigins = [\"https://\"]\n", []problem{{5, "[cors] origins", "does not name a host"}}},
		{"cors origin bad port", base + "[cors]\norigins = [\"https://a.com:99999\"]\n", []problem{{5, "[cors] origins", "does not name a host"}}},
		{"cors origin null", base + "[cors]\norigins = [\"null\"]\n", []problem{{5, "[cors] origins", "list real origins"}}},
		{"cors origin empty", base + "[cors]\norigins = [\"\"]\n", []problem{{5, "[cors] origins", `"" is not an origin`}}},
		{"cors origin twice", base + "[cors]\norigins = [\"https://a.com\", \"https://A.com\"]\n", []problem{{5, "[cors] origins", `"https://a.com" is listed twice`}}},
		{"cors too many origins", base + "[cors]\norigins = [" + originList(101) + "]\n", []problem{{5, "[cors] origins", "lists 101 entries; at most 100"}}},
		{"cors methods lowercase", base + "[cors]\norigins = [\"*\"]\nmethods = [\"get\"]\n", []problem{{6, "[cors] methods", `write "GET"`}}},
		{"cors methods empty", base + "[cors]\norigins = [\"*\"]\nmethods = []\n", []problem{{6, "[cors] methods", "is empty; list the methods allowed"}}},
		{"cors methods star", base + "[cors]\norigins = [\"*\"]\nmethods = [\"*\"]\n", []problem{{6, "[cors] methods", "list the methods allowed"}}},
		{"cors methods space", base + "[cors]\norigins = [\"*\"]\nmethods = [\"GE T\"]\n", []problem{{6, "[cors] methods", "is not an HTTP method"}}},
		{"cors methods twice", base + "[cors]\norigins = [\"*\"]\nmethods = [\"GET\", \"GET\"]\n", []problem{{6, "[cors] methods", `"GET" is listed twice`}}},
		{"cors headers star", base + "[cors]\norigins = [\"*\"]\nheaders = [\"*\"]\n", []problem{{6, "[cors] headers", "list the header names"}}},
		{"cors headers space", base + "[cors]\norigins = [\"*\"]\nheaders = [\"X Id\"]\n", []problem{{6, "[cors] headers", `"X Id" is not a header name`}}},
		{"cors headers twice", base + "[cors]\norigins = [\"*\"]\nheaders = [\"content-type\", \"Content-Type\"]\n", []problem{{6, "[cors] headers", `"Content-Type" is listed twice`}}},
		{"cors expose colon", base + "[cors]\norigins = [\"*\"]\nexpose = [\"X-Id:\"]\n", []problem{{6, "[cors] expose", "is not a header name"}}},
		{"cors max_age long", base + "[cors]\norigins = [\"*\"]\nmax_age = \"25h\"\n", []problem{{6, "[cors] max_age", "25h is out of range; write a duration from 0s to 24h"}}},
		{"cors max_age negative", base + "[cors]\norigins = [\"*\"]\nmax_age = \"-1s\"\n", []problem{{6, "[cors] max_age", "out of range"}}},
		{"cors max_age typo", base + "[cors]\norigins = [\"*\"]\nmaxage = \"1m\"\n", []problem{{6, "[cors] maxage", `did you mean "max_age"?`}}},

		// [ip].
		{"ip all", base + "[ip]\nallow = [\"10.0.0.0/8\", \"192.168.1.7\", \"2001:db8::/32\", \"::1\", \"0.0.0.0/0\"]\ndeny = [\"10.9.0.0/16\", \"10.9.0.0/24\"]\n", nil},
		{"ip allow only", base + "[ip]\nallow = [\"10.0.0.0/8\"]\n", nil},
		{"ip deny overlaps allow", base + "[ip]\nallow = [\"10.0.0.0/8\"]\ndeny = [\"10.0.0.0/8\"]\n", nil},
		{"ip empty", base + "[ip]\n", []problem{{4, "[ip]", "lists no addresses; add allow ="}}},
		{"ip empty lists", base + "[ip]\nallow = []\ndeny = []\n", []problem{{4, "[ip]", "lists no addresses"}}},
		{"ip host bits", base + "[ip]\nallow = [\"10.0.0.1/8\"]\n", []problem{{5, "[ip] allow", `"10.0.0.1/8" has bits set after the /8; write "10.0.0.0/8"`}}},
		{"ip host bits v6", base + "[ip]\ndeny = [\"2001:db8::1/32\"]\n", []problem{{5, "[ip] deny", `write "2001:db8::/32"`}}},
		{"ip bad address", base + "[ip]\nallow = [\"10.0.0.300\"]\n", []problem{{5, "[ip] allow", `"10.0.0.300" is not an IP address; write an address like "192.168.1.7"`}}},
		{"ip bad prefix", base + "[ip]\nallow = [\"10.0.0.0/33\"]\n", []problem{{5, "[ip] allow", `"10.0.0.0/33" is not a CIDR prefix`}}},
		{"ip host name", base + "[ip]\ndeny = [\"example.com\"]\n", []problem{{5, "[ip] deny", "is not an IP address"}}},
		{"ip zone", base + "[ip]\nallow = [\"fe80::1%eth0\"]\n", []problem{{5, "[ip] allow", `zones (%eth0) are not allowed; write "fe80::1"`}}},
		{"ip zone prefix", base + "[ip]\nallow = [\"fe80::%eth0/64\"]\n", []problem{{5, "[ip] allow", "zones"}}},
		{"ip star", base + "[ip]\nallow = [\"*\"]\n", []problem{{5, "[ip] allow", `write "0.0.0.0/0" and "::/0"`}}},
		{"ip mapped", base + "[ip]\nallow = [\"::ffff:10.0.0.1\"]\n", []problem{{5, "[ip] allow", `IPv4-mapped IPv6 address; clients are matched by their IPv4 address, so write "10.0.0.1"`}}},
		{"ip mapped prefix", base + "[ip]\nallow = [\"::ffff:10.0.0.0/104\"]\n", []problem{{5, "[ip] allow", `write "10.0.0.0/8"`}}},
		{"ip twice", base + "[ip]\ndeny = [\"10.0.0.7\", \"10.0.0.7/32\"]\n", []problem{{5, "[ip] deny", `"10.0.0.7" is listed twice`}}},
		{"ip every bad entry", base + "[ip]\nallow = [\"x\", \"10.0.0.1/8\", \"y\"]\n", []problem{{5, "[ip] allow", `"x"`}, {5, "[ip] allow", `"y"`}, {5, "[ip] allow", "bits set"}}},
		{"ip bad entry is not no entry", base + "[ip]\nallow = [\"x\"]\n", []problem{{5, "[ip] allow", `"x" is not an IP address`}}},
		{"ip string", base + "[ip]\nallow = \"10.0.0.0/8\"\n", []problem{{5, "[ip] allow", `want an array of strings like ["10.0.0.0/8", "192.168.1.7"]`}}},
		{"ip typo", base + "[ip]\nalow = [\"10.0.0.0/8\"]\n", []problem{{5, "[ip] alow", `did you mean "allow"?`}}},
		{"ip allow at the top", "allow = [\"10.0.0.0/8\"]\n" + base, []problem{{1, "allow", "to allow client addresses, put allow = [...] under [ip]"}}},
		{"ip too many", base + "[ip]\ndeny = [" + addrList(1025) + "]\n", []problem{{5, "[ip] deny", "lists 1025 entries; at most 1024"}}},

		// [lifecycle].
		{"lifecycle all", base + "[lifecycle]\nstate = \"deprecated\"\ndeprecated = 2026-11-01T00:00:00Z\nsunset = 2027-06-30T00:00:00Z\nlink = \"https://example.com/migrate#v2\"\n", nil},
		{"lifecycle draft", base + "[lifecycle]\nstate = \"draft\"\n", nil},
		{"lifecycle retired", base + "[lifecycle]\nstate = \"retired\"\nsunset = \"2027-06-30T00:00:00Z\"\n", nil},
		{"lifecycle same day", base + "[lifecycle]\nstate = \"deprecated\"\ndeprecated = 2027-06-30T00:00:00Z\nsunset = 2027-06-30T00:00:00Z\n", nil},
		{"lifecycle empty", base + "[lifecycle]\n", nil},
		{"lifecycle state typo", base + "[lifecycle]\nstate = \"deprecate\"\n", []problem{{5, "[lifecycle] state", `"deprecate" is not a lifecycle state; did you mean "deprecated"?`}}},
		{"lifecycle state unknown", base + "[lifecycle]\nstate = \"gone\"\n", []problem{{5, "[lifecycle] state", `write "draft", "published", "deprecated" or "retired"`}}},
		{"lifecycle state empty", base + "[lifecycle]\nstate = \"\"\n", []problem{{5, "[lifecycle] state", "is not a lifecycle state"}}},
		{"lifecycle sunset published", base + "[lifecycle]\nsunset = 2027-06-30T00:00:00Z\n", []problem{{5, "[lifecycle] sunset", `applies only to a deprecated or retired API, and state is "published"`}}},
		{"lifecycle draft keys", base + "[lifecycle]\nstate = \"draft\"\ndeprecated = 2026-11-01T00:00:00Z\nlink = \"https://a.com\"\n", []problem{{6, "[lifecycle] deprecated", `state is "draft"`}, {7, "[lifecycle] link", "applies only"}}},
		{"lifecycle local datetime", base + "[lifecycle]\nstate = \"deprecated\"\ndeprecated = 2026-11-01T00:00:00\n", []problem{{6, "[lifecycle] deprecated", "2026-11-01T00:00:00 has no offset from UTC; add one, like 2026-11-01T00:00:00Z"}}},
		{"lifecycle date", base + "[lifecycle]\nstate = \"deprecated\"\nsunset = 2027-06-30\n", []problem{{6, "[lifecycle] sunset", "2027-06-30 is a date without a time; write a date and time with an offset, like 2027-06-30T00:00:00Z"}}},
		{"lifecycle time", base + "[lifecycle]\nstate = \"deprecated\"\nsunset = 07:00:00\n", []problem{{6, "[lifecycle] sunset", "is a time without a date"}}},
		{"lifecycle string", base + "[lifecycle]\nstate = \"deprecated\"\nsunset = \"next year\"\n", []problem{{6, "[lifecycle] sunset", `"next year" is not an RFC 3339 date and time; write it like 2026-11-01T00:00:00Z`}}},
		{"lifecycle string date", base + "[lifecycle]\nstate = \"deprecated\"\nsunset = \"2027-06-30\"\n", []problem{{6, "[lifecycle] sunset", "is not an RFC 3339 date and time"}}},
		{"lifecycle integer", base + "[lifecycle]\nstate = \"deprecated\"\nsunset = 2027\n", []problem{{6, "[lifecycle] sunset", "want a date and time like 2026-11-01T00:00:00Z, got integer 2027"}}},
		{"lifecycle sunset first", base + "[lifecycle]\nstate = \"deprecated\"\ndeprecated = 2027-01-01T00:00:00Z\nsunset = 2026-12-31T23:59:59Z\n", []problem{{7, "[lifecycle] sunset", "is before deprecated (2027-01-01T00:00:00Z)"}}},
		{"lifecycle before 1970", base + "[lifecycle]\nstate = \"deprecated\"\ndeprecated = 1969-12-31T23:59:59Z\n", []problem{{6, "[lifecycle] deprecated", "before 1970"}}},
		{"lifecycle link relative", base + "[lifecycle]\nstate = \"deprecated\"\nlink = \"example.com/migrate\"\n", []problem{{6, "[lifecycle] link", `"example.com/migrate" is not an absolute URL`}}},
		{"lifecycle link scheme", base + "[lifecycle]\nstate = \"deprecated\"\nlink = \"ftp://example.com/x\"\n", []problem{{6, "[lifecycle] link", "the scheme must be https or http"}}},
		{"lifecycle link space", base + "[lifecycle]\nstate = \"deprecated\"\nlink = \"https://a.com/a b\"\n", []problem{{6, "[lifecycle] link", "percent-encode them"}}},
		{"lifecycle link header injection", base + "[lifecycle]\nstate = \"deprecated\"\nlink = \"https://a.com/\\r\\nX: y\"\n", []problem{{6, "[lifecycle] link", "control characters"}}},
		{"lifecycle link long", base + "[lifecycle]\nstate = \"deprecated\"\nlink = \"https://a.com/" + strings.Repeat("a", 2048) + "\"\n", []problem{{6, "[lifecycle] link", "keep it under 2048"}}},
		{"lifecycle typo", base + "[lifecycle]\nsunet = 2027-06-30T00:00:00Z\n", []problem{{5, "[lifecycle] sunet", `did you mean "sunset"?`}}},
		{"lifecycle every problem", base + "[lifecycle]\nstate = 1\nsunset = \"x\"\nlink = 2\n", []problem{{5, "[lifecycle] state", "want a string"}, {6, "[lifecycle] sunset", "not an RFC 3339"}, {7, "[lifecycle] link", "want a string"}}},

		// [openapi].
		{"openapi ok", base + "[openapi]\nspec = \"openapi.json\"\nvalidate = true\n", nil},
		{"openapi subdir", base + "[openapi]\nspec = \"docs/api/v1.json\"\n", nil},
		{"openapi missing spec", base + "[openapi]\nvalidate = true\n", []problem{{4, "[openapi] spec", `is missing or empty; add spec = "openapi.json"`}}},
		{"openapi empty spec", base + "[openapi]\nspec = \"\"\n", []problem{{5, "[openapi] spec", "is missing or empty"}}},
		{"openapi yaml", base + "[openapi]\nspec = \"api/openapi.yaml\"\n", []problem{{5, "[openapi] spec", `"api/openapi.yaml" does not end in ".json"; write the OpenAPI document as JSON, like "openapi.json"`}}},
		{"openapi absolute", base + "[openapi]\nspec = \"/etc/openapi.json\"\n", []problem{{5, "[openapi] spec", "is absolute"}}},
		{"openapi escapes", base + "[openapi]\nspec = \"../openapi.json\"\n", []problem{{5, "[openapi] spec", "leads out of the directory"}}},
		{"openapi validate string", base + "[openapi]\nspec = \"openapi.json\"\nvalidate = \"yes\"\n", []problem{{6, "[openapi] validate", "want true or false"}}},
		{"openapi typo", base + "[openapi]\nspecs = \"openapi.json\"\n", []problem{{4, "[openapi] spec", "missing"}, {5, "[openapi] specs", `did you mean "spec"?`}}},
		{"openapi table typo", base + "[open_api]\nspec = \"openapi.json\"\n", []problem{{4, "open_api", `did you mean "openapi"?`}}},
	} {
		t.Run(tc.name, func(t *testing.T) { checkProblems(t, tc.doc, tc.want) })
	}
}

func claimList(n int) string {
	q := make([]string, n)
	for i := range q {
		q[i] = fmt.Sprintf("%q", fmt.Sprintf("c%d", i))
	}
	return strings.Join(q, ", ")
}

func originList(n int) string {
	q := make([]string, n)
	for i := range q {
		q[i] = fmt.Sprintf(`"https://a%d.example.com"`, i)
	}
	return strings.Join(q, ", ")
}

func addrList(n int) string {
	q := make([]string, n)
	for i := range q {
		q[i] = fmt.Sprintf(`"10.0.%d.%d"`, i/256, i%256)
	}
	return strings.Join(q, ", ")
}

// TestValidateAccessStruct checks the rules Parse cannot break because it
// normalizes what it reads, on a Manifest built in code.
func TestValidateAccessStruct(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(m *Manifest)
		key    string
		text   string
	}{
		{"origin uppercase", func(m *Manifest) { m.CORS = &CORS{Origins: []string{"https://A.com"}, Methods: DefaultCORSMethods} }, "[cors] origins", `"https://A.com" has uppercase letters; write "https://a.com"`},
		{"header not canonical", func(m *Manifest) {
			m.CORS = &CORS{Origins: []string{"*"}, Methods: DefaultCORSMethods, Expose: []string{"x-id"}}
		}, "[cors] expose", `"x-id" is not canonical; write "X-Id"`},
		{"methods nil", func(m *Manifest) { m.CORS = &CORS{Origins: []string{"*"}} }, "[cors] methods", "is empty"},
		{"prefix not masked", func(m *Manifest) {
			m.IP = &IPRules{Allow: []netip.Prefix{netip.PrefixFrom(netip.MustParseAddr("10.1.2.3"), 8)}}
		}, "[ip] allow", `write "10.0.0.0/8"`},
		{"prefix invalid", func(m *Manifest) { m.IP = &IPRules{Deny: []netip.Prefix{{}}} }, "[ip] deny", "is not a valid prefix"},
		{"state empty", func(m *Manifest) { m.Lifecycle.State = "" }, "[lifecycle] state", `"" is not a lifecycle state`},
		{"spec missing", func(m *Manifest) { m.OpenAPI = &OpenAPI{} }, "[openapi] spec", "missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse([]byte(base))
			if err != nil {
				t.Fatal(err)
			}
			tc.change(m)
			var perr *Error
			if err := m.Validate(); !errors.As(err, &perr) || len(perr.Problems) != 1 {
				t.Fatalf("Validate = %v; want one problem", err)
			}
			if p := perr.Problems[0]; p.Key != tc.key || !strings.Contains(p.Message, tc.text) {
				t.Errorf("problem %+v; want key %q, message containing %q", p, tc.key, tc.text)
			}
		})
	}
}

func TestClaimHeader(t *testing.T) {
	for in, want := range map[string]string{"sub": "Mote-Claim-Sub", "email": "Mote-Claim-Email", "org_id": "Mote-Claim-Org_id", "x-tenant": "Mote-Claim-X-Tenant", "SUB": "Mote-Claim-Sub"} {
		if got := ClaimHeader(in); got != want {
			t.Errorf("ClaimHeader(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAllowsOrigin(t *testing.T) {
	c := &CORS{Origins: []string{"https://a.com", "http://localhost:3000"}}
	for origin, want := range map[string]bool{"https://a.com": true, "http://localhost:3000": true, "http://a.com": false, "https://a.com:443": false, "null": false, "": false} {
		if got := c.AllowsOrigin(origin); got != want {
			t.Errorf("AllowsOrigin(%q) = %v, want %v", origin, got, want)
		}
	}
	if any := (&CORS{Origins: []string{"*"}}); !any.AllowsOrigin("https://x.org") {
		t.Error(`origins ["*"] refused an origin`)
	}
}

func TestAdmits(t *testing.T) {
	m, err := Parse([]byte(base + "[ip]\nallow = [\"10.0.0.0/8\", \"2001:db8::/32\"]\ndeny = [\"10.9.0.0/16\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]bool{
		"10.1.2.3": true, "10.9.1.1": false, "11.0.0.1": false, "::ffff:10.1.2.3": true, "::ffff:10.9.0.1": false,
		"2001:db8::1": true, "2001:db9::1": false, "fe80::1%eth0": false,
	} {
		if got := m.IP.Admits(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Admits(%s) = %v, want %v", addr, got, want)
		}
	}
	denyOnly := &IPRules{Deny: []netip.Prefix{netip.MustParsePrefix("192.0.2.7/32")}}
	if denyOnly.Admits(netip.MustParseAddr("192.0.2.7")) || !denyOnly.Admits(netip.MustParseAddr("192.0.2.8")) {
		t.Error("deny-only rules wrong")
	}
}

func TestReadPackageOpenAPI(t *testing.T) {
	fsys := fstest.MapFS{
		"app.wasm":          {Data: []byte("\x00asm")},
		"openapi.json":      {Data: []byte(`{"openapi": "3.1.0"}`)},
		"docs/v1.json":      {Data: []byte(`{}`)},
		"static/index.html": {Data: []byte("<h1>hi</h1>")},
	}
	for _, tc := range []struct {
		name    string
		toml    string
		want    []string
		wantErr string
	}{
		{name: "spec without files", toml: "[openapi]\nspec = \"openapi.json\"\n", want: []string{"openapi.json"}},
		{name: "spec beside files", toml: "files = [\"static\"]\n[openapi]\nspec = \"./docs/v1.json\"\n", want: []string{"docs/v1.json", "static/index.html"}},
		{name: "spec among files", toml: "files = [\"*.json\"]\n[openapi]\nspec = \"openapi.json\"\n", want: []string{"openapi.json"}},
		{name: "no spec", toml: "", want: nil},
		{name: "missing spec", toml: "[openapi]\nspec = \"api.json\"\n", wantErr: "[openapi] spec api.json does not exist; Try: write the OpenAPI document there, or fix [openapi] spec in mote.toml"},
		{name: "spec is a directory", toml: "[openapi]\nspec = \"docs.json\"\n", wantErr: "is not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fsys
			if tc.name == "spec is a directory" {
				fsys = fstest.MapFS{"app.wasm": fsys["app.wasm"], "docs.json/x": {Data: []byte("x")}}
			}
			m, err := Parse([]byte("name = \"app\"\n[wasm]\nmodule = \"app.wasm\"\n" + tc.toml))
			if err != nil {
				t.Fatal(err)
			}
			_, files, err := m.ReadPackage(fsys)
			if tc.wantErr != "" {
				if !errors.Is(err, ErrPackage) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want ErrPackage containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(files) != len(tc.want) || (tc.want == nil) != (files == nil) {
				t.Fatalf("files = %v, want %v", keys(files), tc.want)
			}
			for _, w := range tc.want {
				if string(files[w]) != string(fsys[w].Data) {
					t.Errorf("file %s = %q", w, files[w])
				}
			}
		})
	}
}

func TestReadPackageRefusesSymlinkedSpec(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.wasm"), []byte("\x00asm"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "openapi.json")); err != nil {
		t.Skip("no symlinks here:", err)
	}
	m, err := Parse([]byte("name = \"app\"\n[wasm]\nmodule = \"app.wasm\"\n[openapi]\nspec = \"openapi.json\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.ReadPackage(os.DirFS(dir)); !errors.Is(err, ErrPackage) || !strings.Contains(err.Error(), "[openapi] spec openapi.json is not a regular file") {
		t.Fatalf("err = %v, want a refusal of the symlink", err)
	}
}
