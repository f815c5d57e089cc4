package manifest

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// base is the smallest valid manifest; cases append to it (lines 1-3).
const base = "name = \"hello\"\n[wasm]\nmodule = \"hello.wasm\"\n"

func TestParseDefaults(t *testing.T) {
	m, err := Parse([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	want := &Manifest{
		Name:      "hello",
		Route:     "/hello",
		Wasm:      &Wasm{Module: "hello.wasm", ABI: "wagi"},
		Limits:    Limits{Memory: 128 * MiB, Timeout: Duration(30 * time.Second), Body: 10 * MiB, Response: 16 * MiB},
		Scale:     Scale{Min: 0, Max: 20, Idle: Duration(5 * time.Minute)},
		Lifecycle: Lifecycle{State: "published"},
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("Parse(base) =\n%+v\nwant\n%+v", m, want)
	}
}

func TestParseEverything(t *testing.T) {
	doc := `
name = "api-v2"
route = "/api/v2"
description = "the API"

[wasm]
module = "./build//api.wasm"
abi = "pooled"
files = ["static/", "templates/*.html"]

[limits]
memory = "64MiB"
timeout = "1m30s"
body = "2kB"
response = "1048576"

[env]
GREETING = "hi"
_X1 = ""

[scale]
min = 2
max = 10
idle = "90s"

[auth]
require_key = true

[auth.jwt]
issuer = "https://auth.example.com"
audience = "api"
leeway = "1m"
claims = ["sub", "email", "org_id"]

[allow]
kv = true
config = true
http = ["api.example.com", "127.0.0.1:8090", "[::1]:443"]
call = ["users", "*"]

[build]
command = "make"
watch = ["src/**/*.c"]

[cors]
origins = ["https://Shop.example.com", "http://localhost:3000"]
methods = ["GET", "PUT"]
headers = ["content-type", "X-API-KEY"]
expose = ["x-request-id"]
credentials = true
max_age = "10m"

[ip]
allow = ["10.0.0.0/8", "192.168.1.7", "2001:db8::/32", "::1"]
deny = ["10.9.0.0/16"]

[lifecycle]
state = "deprecated"
deprecated = 2026-11-01T00:00:00Z
sunset = "2027-06-30T02:00:00+02:00"
link = "https://example.com/migrate"

[openapi]
spec = "./api//openapi.json"
validate = true
`
	m, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	deprecated := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	sunset := time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC)
	want := &Manifest{
		Name:        "api-v2",
		Route:       "/api/v2",
		Description: "the API",
		Wasm:        &Wasm{Module: "build/api.wasm", ABI: "pooled", Files: []string{"static", "templates/*.html"}},
		Limits:      Limits{Memory: 64 * MiB, Timeout: Duration(90 * time.Second), Body: 2000, Response: MiB},
		Env:         map[string]string{"GREETING": "hi", "_X1": ""},
		Scale:       Scale{Min: 2, Max: 10, Idle: Duration(90 * time.Second)},
		Auth: Auth{RequireKey: true, JWT: &JWT{
			Issuer: "https://auth.example.com", Audience: "api", Leeway: Duration(time.Minute), Claims: []string{"sub", "email", "org_id"},
		}},
		Allow: Allow{KV: true, Config: true, HTTP: []string{"api.example.com", "127.0.0.1:8090", "[::1]:443"}, Call: []string{"users", "*"}},
		Build: &Build{Command: "make", Watch: []string{"src/**/*.c"}},
		CORS: &CORS{
			Origins: []string{"https://shop.example.com", "http://localhost:3000"}, Methods: []string{"GET", "PUT"},
			Headers: []string{"Content-Type", "X-Api-Key"}, Expose: []string{"X-Request-Id"}, Credentials: true, MaxAge: Duration(10 * time.Minute),
		},
		IP: &IPRules{
			Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.7/32"), netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("::1/128")},
			Deny:  []netip.Prefix{netip.MustParsePrefix("10.9.0.0/16")},
		},
		Lifecycle: Lifecycle{State: "deprecated", Deprecated: &deprecated, Sunset: &sunset, Link: "https://example.com/migrate"},
		OpenAPI:   &OpenAPI{Spec: "api/openapi.json", Validate: true},
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("Parse =\n%+v\nwant\n%+v", m, want)
	}
	if err := m.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	again, err := Parse(m.Format())
	if err != nil {
		t.Fatalf("Parse(Format()): %v\n%s", err, m.Format())
	}
	if !reflect.DeepEqual(again, m) {
		t.Errorf("Parse(Format()) =\n%+v\nwant\n%+v", again, m)
	}
}

func TestParseContainer(t *testing.T) {
	m, err := Parse([]byte("name = \"web\"\n[container]\nimage = \"./image\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Wasm != nil || m.Container == nil || m.Container.Image != "./image" {
		t.Errorf("got Wasm %+v, Container %+v", m.Wasm, m.Container)
	}
	want := Container{Image: "./image", Port: DefaultPort, Concurrency: DefaultConcurrency, Grace: DefaultGrace}
	if *m.Container != want || m.Limits.Pids != DefaultPids || m.Limits.CPU != 0 {
		t.Errorf("defaults: got %+v, pids %d, cpu %g; want %+v, pids %d, cpu 0", *m.Container, m.Limits.Pids, m.Limits.CPU, want, DefaultPids)
	}
	again, err := Parse(m.Format())
	if err != nil || !reflect.DeepEqual(again, m) {
		t.Errorf("Parse(Format()) = %+v, %v; want %+v", again, err, m)
	}
}

// problem is an expected Problem: its line, key, and a part of its message.
type problem struct {
	line int
	key  string
	text string
}

func TestValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		doc  string
		want []problem // nil: valid
	}{
		// TOML itself.
		{"syntax error", "name = = 1\n", []problem{{1, "", "not valid TOML"}}},
		{"syntax error line", base + "[limits\n", []problem{{4, "", "not valid TOML"}}},
		{"duplicate key", base + "module = \"x.wasm\"\n", []problem{{4, "", "not valid TOML"}}},
		{"too large", base + "description = \"" + strings.Repeat("x", MaxSize) + "\"\n", []problem{{0, "", "larger than 1MiB"}}},

		// Unknown keys and wrong types.
		{"unknown top key near miss", "nmae = \"x\"\n" + base, []problem{{1, "nmae", `did you mean "name"?`}}},
		{"top key in a table", base + "name = \"x\"\n", []problem{{4, "[wasm] name", `did you mean "name" at the top of mote.toml, before any [table]?`}}},
		{"unknown key in table", base + "[limits]\nmemroy = \"64MiB\"\n", []problem{{5, "[limits] memroy", `did you mean "memory"?`}}},
		{"key in the wrong table", base + "timeout = \"10s\"\n", []problem{{4, "[wasm] timeout", `did you mean "timeout" in [limits]?`}}},
		{"unknown table", base + "[limit]\nmemory = \"64MiB\"\n", []problem{{4, "limit", `did you mean "limits"?`}}},
		{"unknown far key", base + "zzzzzzzz = 1\n", []problem{{4, "[wasm] zzzzzzzz", "the keys here are module, abi, files"}}},
		{"unknown nested table", base + "[wasm.extra]\nx = 1\n", []problem{{4, "[wasm] extra", "unknown key in [wasm]"}}},
		{"require_key dash", base + "[auth]\nrequire-key = true\n", []problem{{5, "[auth] require-key", `did you mean "require_key"?`}}},
		{"table as string", base + "limits = \"64MiB\"\n", []problem{{4, "[wasm] limits", "unknown key"}}},
		{"top table as string", "limits = \"64MiB\"\n" + base, []problem{{1, "limits", "want a table"}}},
		{"array of tables", "name = \"hello\"\n[[wasm]]\nmodule = \"hello.wasm\"\n", []problem{{2, "wasm", "got an array of tables"}}},
		{"name integer", "name = 5\n[wasm]\nmodule = \"a.wasm\"\n", []problem{{1, "name", "want a string"}}},
		{"memory integer", base + "[limits]\nmemory = 64\n", []problem{{5, "[limits] memory", `want a string like "64MiB", got integer 64`}}},
		{"timeout float", base + "[limits]\ntimeout = 1.5\n", []problem{{5, "[limits] timeout", "got float 1.5"}}},
		{"max string", base + "[scale]\nmax = \"5\"\n", []problem{{5, "[scale] max", `want a whole number like 5, got string "5"`}}},
		{"min float", base + "[scale]\nmin = 1.0\n", []problem{{5, "[scale] min", "got float 1"}}},
		{"require_key string", base + "[auth]\nrequire_key = \"yes\"\n", []problem{{5, "[auth] require_key", "want true or false"}}},
		{"files string", base + "files = \"a\"\n", []problem{{4, "[wasm] files", "want an array of strings"}}},
		{"files element", base + "files = [\"a\", 2]\n", []problem{{4, "[wasm] files", "element 2 is integer 2"}}},
		{"env integer", base + "[env]\nPORT = 8080\n", []problem{{5, "[env] PORT", `quote it: PORT = "8080"`}}},
		{"env datetime", base + "[env]\nWHEN = 1979-05-27T07:32:00Z\n", []problem{{5, "[env] WHEN", "got datetime"}}},
		{"every problem reported", "name = 1\nroute = 2\n[wasm]\nmodule = 3\n", []problem{
			{1, "name", "want a string"}, {2, "route", "want a string"}, {4, "[wasm] module", "want a string"},
		}},

		// name.
		{"name missing", "[wasm]\nmodule = \"a.wasm\"\n", []problem{{0, "name", `add name = "hello"`}}},
		{"name empty", "name = \"\"\n[wasm]\nmodule = \"a.wasm\"\n", []problem{{1, "name", "missing"}}},
		{"name upper", "name = \"Hello World\"\n[wasm]\nmodule = \"a.wasm\"\n", []problem{{1, "name", `like "hello-world"`}}},
		{"name leading dash", "name = \"-x\"\n[wasm]\nmodule = \"a.wasm\"\n", []problem{{1, "name", `like "x"`}}},
		{"name trailing dash", "name = \"x-\"\n[wasm]\nmodule = \"a.wasm\"\n", []problem{{1, "name", "not a valid name"}}},
		{"name underscore", "name = \"a_b\"\n[wasm]\nmodule = \"a.wasm\"\n", []problem{{1, "name", `like "a-b"`}}},
		{"name too long", "name = \"" + strings.Repeat("a", 64) + "\"\n[wasm]\nmodule = \"a.wasm\"\n", []problem{{1, "name", "not a valid name"}}},
		{"name 63", "name = \"" + strings.Repeat("a", 63) + "\"\n[wasm]\nmodule = \"a.wasm\"\n", nil},
		{"name one char", "name = \"a\"\n[wasm]\nmodule = \"a.wasm\"\n", nil},
		{"name digits dashes", "name = \"0-a--9\"\n[wasm]\nmodule = \"a.wasm\"\n", nil},

		// route.
		{"route root", base + "route = \"/\"\n", []problem{{4, "[wasm] route", "unknown key"}}},
		{"route set", "route = \"/\"\n" + base, nil},
		{"route nested", "route = \"/a/b-c/d.e\"\n" + base, nil},
		{"route no slash", "route = \"hello\"\n" + base, []problem{{1, "route", `must start with "/"; write "/hello"`}}},
		{"route trailing slash", "route = \"/hello/\"\n" + base, []problem{{1, "route", `must not end with "/"; write "/hello"`}}},
		{"route double slash", "route = \"/a//b\"\n" + base, []problem{{1, "route", `must not contain "//"; write "/a/b"`}}},
		{"route dot", "route = \"/a/./b\"\n" + base, []problem{{1, "route", `"." or ".."`}}},
		{"route dotdot", "route = \"/a/..\"\n" + base, []problem{{1, "route", `"." or ".."`}}},
		{"route query", "route = \"/a?b\"\n" + base, []problem{{1, "route", `write "/a"`}}},
		{"route hash", "route = \"/a#b\"\n" + base, []problem{{1, "route", `"#"`}}},
		{"route percent", "route = \"/a%20b\"\n" + base, []problem{{1, "route", `"%"`}}},
		{"route space", "route = \"/a b\"\n" + base, []problem{{1, "route", "spaces"}}},
		{"route control", "route = \"/a\\u0007\"\n" + base, []problem{{1, "route", "control"}}},
		{"route empty", "route = \"\"\n" + base, []problem{{1, "route", "is empty"}}},
		{"route too long", "route = \"/" + strings.Repeat("a", 255) + "\"\n" + base, []problem{{1, "route", "at most 255 bytes"}}},
		{"route 255", "route = \"/" + strings.Repeat("a", 254) + "\"\n" + base, nil},
		{"route default from bad name is not reported", "name = \"A\"\n[wasm]\nmodule = \"a.wasm\"\n", []problem{{1, "name", "not a valid name"}}},

		// description.
		{"description long", "description = \"" + strings.Repeat("x", 1025) + "\"\n" + base, []problem{{1, "description", "keep it under 1024"}}},
		{"description multiline", "description = \"\"\"\nname = 1\n[x]\n\"\"\"\n" + base, nil},

		// [wasm] / [container].
		{"neither", "name = \"hello\"\n", []problem{{0, "[wasm]", `add a [wasm] table with module = "hello.wasm"`}}},
		{"both", base + "[container]\nimage = \"x\"\n", []problem{{4, "[container]", "not both"}}},
		{"module missing", "name = \"hello\"\n[wasm]\nabi = \"wagi\"\n", []problem{{2, "[wasm] module", "missing"}}},
		{"module absolute", "name = \"hello\"\n[wasm]\nmodule = \"/x/hello.wasm\"\n", []problem{{3, "[wasm] module", "is absolute"}}},
		{"module windows absolute", "name = \"hello\"\n[wasm]\nmodule = 'C:\\x.wasm'\n", []problem{{3, "[wasm] module", "'\\'"}}},
		{"module drive", "name = \"hello\"\n[wasm]\nmodule = 'C:x.wasm'\n", []problem{{3, "[wasm] module", "is absolute"}}},
		{"module escapes", "name = \"hello\"\n[wasm]\nmodule = \"../hello.wasm\"\n", []problem{{3, "[wasm] module", "leads out of the directory"}}},
		{"module dotdot inside", "name = \"hello\"\n[wasm]\nmodule = \"a/../hello.wasm\"\n", []problem{{3, "[wasm] module", `like "hello.wasm"`}}},
		{"module extension", "name = \"hello\"\n[wasm]\nmodule = \"hello.wat\"\n", []problem{{3, "[wasm] module", `like "hello.wasm"`}}},
		{"module subdir", "name = \"hello\"\n[wasm]\nmodule = \"target/wasm32-wasip1/release/hello.wasm\"\n", nil},
		{"abi wagi", base + "abi = \"wagi\"\n", nil},
		{"abi pooled", base + "abi = \"pooled\"\n", nil},
		{"abi near miss", base + "abi = \"pool\"\n", []problem{{4, "[wasm] abi", `did you mean "pooled"?`}}},
		{"abi unknown", base + "abi = \"wasi-http\"\n", []problem{{4, "[wasm] abi", `write "wagi"`}}},
		{"files ok", base + "files = [\"static/*\", \"a.txt\", \"[a-z]?.css\", \"**/x\"]\n", nil},
		{"files multiline array", base + "files = [\n  \"ok\",\n  \"../up\",\n]\n", []problem{{4, "[wasm] files", "leads out"}}},
		{"files absolute", base + "files = [\"/etc\"]\n", []problem{{4, "[wasm] files", "is absolute"}}},
		{"files dotdot", base + "files = [\"a/../../b\"]\n", []problem{{4, "[wasm] files", "leads out"}}},
		{"files bad glob", base + "files = [\"a[\"]\n", []problem{{4, "[wasm] files", "not a valid pattern"}}},
		{"files empty entry", base + "files = [\"\"]\n", []problem{{4, "[wasm] files", "names no file"}}},
		{"files two bad", base + "files = [\"/a\", \"..\"]\n", []problem{{4, "[wasm] files", "absolute"}, {4, "[wasm] files", "leads out"}}},
		{"image empty", "name = \"web\"\n[container]\nimage = \"\"\n", []problem{{3, "[container] image", "missing or empty"}}},
		{"image missing", "name = \"web\"\n[container]\n", []problem{{2, "[container] image", "missing"}}},
		{"image space", "name = \"web\"\n[container]\nimage = \"a b\"\n", []problem{{3, "[container] image", "spaces"}}},
		{"image reference", "name = \"web\"\n[container]\nimage = \"ghcr.io/x/y:1.0@sha256:abc\"\n", nil},
		{"port zero", "name = \"web\"\n[container]\nimage = \"./i\"\nport = 0\n", []problem{{4, "[container] port", "1 to 65535"}}},
		{"port big", "name = \"web\"\n[container]\nimage = \"./i\"\nport = 70000\n", []problem{{4, "[container] port", "out of range"}}},
		{"port string", "name = \"web\"\n[container]\nimage = \"./i\"\nport = \"80\"\n", []problem{{4, "[container] port", "whole number"}}},
		{"concurrency zero", "name = \"web\"\n[container]\nimage = \"./i\"\nconcurrency = 0\n", []problem{{4, "[container] concurrency", "1 to 1000"}}},
		{"grace long", "name = \"web\"\n[container]\nimage = \"./i\"\ngrace = \"1h\"\n", []problem{{4, "[container] grace", "out of range"}}},
		{"cpu on wasm", base + "[limits]\ncpu = 1\n", []problem{{5, "[limits] cpu", "only to containers"}}},
		{"pids on wasm", base + "[limits]\npids = 10\n", []problem{{5, "[limits] pids", "only to containers"}}},
		{"cpu tiny", "name = \"web\"\n[container]\nimage = \"./i\"\n[limits]\ncpu = 0.001\n", []problem{{5, "[limits] cpu", "out of range"}}},
		{"cpu string", "name = \"web\"\n[container]\nimage = \"./i\"\n[limits]\ncpu = \"1\"\n", []problem{{5, "[limits] cpu", "want a number"}}},
		{"pids few", "name = \"web\"\n[container]\nimage = \"./i\"\n[limits]\npids = 2\n", []problem{{5, "[limits] pids", "8 to 32768"}}},
		{"container ok", "name = \"web\"\n[container]\nimage = \"./i\"\nport = 9000\nconcurrency = 1\ngrace = \"0s\"\n[limits]\ncpu = 0.5\npids = 64\n", nil},

		// [limits].
		{"memory bad unit", base + "[limits]\nmemory = \"64 MB\"\n", []problem{{5, "[limits] memory", `"64 MB" is not a size; write it like "64MiB"`}}},
		{"memory min", base + "[limits]\nmemory = \"64KiB\"\n", nil},
		{"memory max", base + "[limits]\nmemory = \"4GiB\"\n", nil},
		{"memory too small", base + "[limits]\nmemory = \"65535\"\n", []problem{{5, "[limits] memory", "from 64KiB to 4GiB"}}},
		{"memory too big", base + "[limits]\nmemory = \"4097MiB\"\n", []problem{{5, "[limits] memory", "4097MiB is out of range"}}},
		{"timeout ok", base + "[limits]\ntimeout = \"250ms\"\n", nil},
		{"timeout bad", base + "[limits]\ntimeout = \"30\"\n", []problem{{5, "[limits] timeout", `add a unit, like "30s"`}}},
		{"timeout zero", base + "[limits]\ntimeout = \"0s\"\n", []problem{{5, "[limits] timeout", "from 1ms to 15m"}}},
		{"timeout negative", base + "[limits]\ntimeout = \"-1s\"\n", []problem{{5, "[limits] timeout", "out of range"}}},
		{"timeout bounds", base + "[limits]\ntimeout = \"15m\"\n", nil},
		{"timeout too long", base + "[limits]\ntimeout = \"15m1s\"\n", []problem{{5, "[limits] timeout", "out of range"}}},
		{"body zero", base + "[limits]\nbody = \"0\"\n", nil},
		{"body max", base + "[limits]\nbody = \"1GiB\"\n", nil},
		{"body too big", base + "[limits]\nbody = \"2GB\"\n", []problem{{5, "[limits] body", "up to 1GiB"}}},
		{"response too small", base + "[limits]\nresponse = \"1000\"\n", []problem{{5, "[limits] response", "from 1KiB to 1GiB"}}},
		{"response ok", base + "[limits]\nresponse = \"1KiB\"\n", nil},
		{"response too big", base + "[limits]\nresponse = \"1025MiB\"\n", []problem{{5, "[limits] response", "out of range"}}},
		{"limits inline", base + "[auth]\nrequire_key = false\n[scale]\nmax = 3\n" + "[limits]\nmemory = \"1\"\n", []problem{{9, "[limits] memory", "out of range"}}},
		{"inline table value", "limits = { memory = \"1\" }\n" + base, []problem{{1, "[limits] memory", "out of range"}}},
		{"dotted key", "limits.timeout = \"1h\"\n" + base, []problem{{1, "[limits] timeout", "out of range"}}},

		// [env].
		{"env ok", base + "[env]\nA = \"1\"\nb_2 = \"x y\"\n_ = \"\"\n", nil},
		{"env bad name", base + "[env]\n\"1A\" = \"x\"\n", []problem{{5, "[env] 1A", "not a variable name"}}},
		{"env quoted name", base + "[env]\n\"A B\" = \"x\"\n", []problem{{5, `[env] "A B"`, "not a variable name"}}},
		{"env dash", base + "[env]\nMY-VAR = \"x\"\n", []problem{{5, "[env] MY-VAR", "not a variable name"}}},
		{"env NUL", base + "[env]\nA = \"x\\u0000y\"\n", []problem{{5, "[env] A", "NUL"}}},
		{"env table", base + "[env.A]\nB = \"x\"\n", []problem{{4, "[env] A", "want a string, got a table"}}},
		{"env too many", base + "[env]\n" + manyEnv(257), []problem{{4, "[env]", "at most 256"}}},
		{"env 256", base + "[env]\n" + manyEnv(256), nil},

		// [scale].
		{"scale ok", base + "[scale]\nmin = 1000\nmax = 1000\nidle = \"1s\"\n", nil},
		{"scale zero max", base + "[scale]\nmax = 0\n", []problem{{5, "[scale] max", "from 1 to 1000"}}},
		{"scale big max", base + "[scale]\nmax = 1001\n", []problem{{5, "[scale] max", "from 1 to 1000"}}},
		{"scale huge max", base + "[scale]\nmax = 9223372036854775807\n", []problem{{5, "[scale] max", "out of range"}}},
		{"scale negative min", base + "[scale]\nmin = -1\n", []problem{{5, "[scale] min", "negative"}}},
		{"scale min above max", base + "[scale]\nmin = 5\nmax = 4\n", []problem{{5, "[scale] min", "above max (4)"}}},
		{"scale min above default max", base + "[scale]\nmin = 21\n", []problem{{5, "[scale] min", "above max (20)"}}},
		{"scale idle short", base + "[scale]\nidle = \"999ms\"\n", []problem{{5, "[scale] idle", "at least \"1s\""}}},
		{"scale idle bad", base + "[scale]\nidle = \"5 minutes\"\n", []problem{{5, "[scale] idle", "not a duration"}}},

		// [allow].
		{"allow all", base + "[allow]\nkv = true\nconfig = false\nhttp = [\"a.example.com\", \"b.example.com:8443\", \"10.0.0.1\", \"[::1]\", \"[2001:db8::1]:80\", \"localhost:65535\", \"xn--bcher-kva.example\"]\ncall = [\"users\", \"a-1\", \"*\"]\n", nil},
		{"allow empty", base + "[allow]\n", nil},
		{"allow empty lists", base + "[allow]\nhttp = []\ncall = []\n", nil},
		{"allow kv string", base + "[allow]\nkv = \"yes\"\n", []problem{{5, "[allow] kv", "want true or false"}}},
		{"allow config int", base + "[allow]\nconfig = 1\n", []problem{{5, "[allow] config", "want true or false, got integer 1"}}},
		{"allow http string", base + "[allow]\nhttp = \"api.example.com\"\n", []problem{{5, "[allow] http", `want an array of strings like ["api.example.com"]`}}},
		{"allow call string", base + "[allow]\ncall = \"users\"\n", []problem{{5, "[allow] call", `want an array of strings like ["users"]`}}},
		{"allow unknown key", base + "[allow]\nnetwork = [\"x\"]\n", []problem{{5, "[allow] network", "the keys here are kv, config, http, call"}}},
		{"allow near miss", base + "[allow]\nkvs = true\n", []problem{{5, "[allow] kvs", `did you mean "kv"?`}}},
		{"allowed table", base + "[allowed]\nkv = true\n", []problem{{4, "allowed", `did you mean "allow"?`}}},
		{"http empty", base + "[allow]\nhttp = [\"\"]\n", []problem{{5, "[allow] http", `"" names no host`}}},
		{"http star", base + "[allow]\nhttp = [\"*\"]\n", []problem{{5, "[allow] http", "wildcards are not allowed"}}},
		{"http wildcard", base + "[allow]\nhttp = [\"*.example.com\"]\n", []problem{{5, "[allow] http", "wildcards are not allowed"}}},
		{"http url", base + "[allow]\nhttp = [\"https://API.example.com/v1?x=1\"]\n", []problem{{5, "[allow] http", `is not a host; write only the host (and port), like "api.example.com"`}}},
		{"http url port", base + "[allow]\nhttp = [\"http://localhost:8080\"]\n", []problem{{5, "[allow] http", `like "localhost:8080"`}}},
		{"http path", base + "[allow]\nhttp = [\"api.example.com/v1\"]\n", []problem{{5, "[allow] http", `like "api.example.com"`}}},
		{"http userinfo", base + "[allow]\nhttp = [\"user@api.example.com\"]\n", []problem{{5, "[allow] http", `like "api.example.com"`}}},
		{"http uppercase", base + "[allow]\nhttp = [\"API.Example.com\"]\n", []problem{{5, "[allow] http", `has uppercase letters; write "api.example.com"`}}},
		{"http bad port", base + "[allow]\nhttp = [\"a.com:http\"]\n", []problem{{5, "[allow] http", `"http" is not a port`}}},
		{"http port zero", base + "[allow]\nhttp = [\"a.com:0\"]\n", []problem{{5, "[allow] http", "from 1 to 65535"}}},
		{"http port big", base + "[allow]\nhttp = [\"a.com:65536\"]\n", []problem{{5, "[allow] http", "from 1 to 65535"}}},
		{"http port empty", base + "[allow]\nhttp = [\"a.com:\"]\n", []problem{{5, "[allow] http", `"" is not a port`}}},
		{"http port leading zero", base + "[allow]\nhttp = [\"a.com:080\"]\n", []problem{{5, "[allow] http", "is not a port"}}},
		{"http ipv6 bare", base + "[allow]\nhttp = [\"::1\"]\n", []problem{{5, "[allow] http", "in brackets"}}},
		{"http ipv6 bad", base + "[allow]\nhttp = [\"[1.2.3.4]\"]\n", []problem{{5, "[allow] http", "not a bracketed IPv6 address"}}},
		{"http ipv6 junk", base + "[allow]\nhttp = [\"[::1]x\"]\n", []problem{{5, "[allow] http", "not a bracketed IPv6 address"}}},
		{"http ipv6 unclosed", base + "[allow]\nhttp = [\"[::1\"]\n", []problem{{5, "[allow] http", "not a bracketed IPv6 address"}}},
		{"http underscore", base + "[allow]\nhttp = [\"a_b.com\"]\n", []problem{{5, "[allow] http", `"_" cannot be in a host name`}}},
		{"http space", base + "[allow]\nhttp = [\"a b.com\"]\n", []problem{{5, "[allow] http", `" " cannot be in a host name`}}},
		{"http trailing dot", base + "[allow]\nhttp = [\"example.com.\"]\n", []problem{{5, "[allow] http", "ends with a dot"}}},
		{"http empty label", base + "[allow]\nhttp = [\"a..com\"]\n", []problem{{5, "[allow] http", "1 to 63 characters"}}},
		{"http dash label", base + "[allow]\nhttp = [\"-a.com\"]\n", []problem{{5, "[allow] http", "starts or ends with '-'"}}},
		{"http long", base + "[allow]\nhttp = [\"" + strings.Repeat("a.", 127) + "aa\"]\n", []problem{{5, "[allow] http", "longer than 253 bytes"}}},
		{"http twice", base + "[allow]\nhttp = [\"a.com\", \"b.com\", \"a.com\"]\n", []problem{{5, "[allow] http", `"a.com" is listed twice`}}},
		{"http multiline", base + "[allow]\nkv = true\nhttp = [\n  \"ok.com\",\n  \"bad/\",\n]\n", []problem{{6, "[allow] http", "is not a host"}}},
		{"call bad name", base + "[allow]\ncall = [\"Users\"]\n", []problem{{5, "[allow] call", `"Users" is not a service name; write the name from the other service's mote.toml`}}},
		{"call fix", base + "[allow]\ncall = [\"user_db\"]\n", []problem{{5, "[allow] call", `like "user-db"`}}},
		{"call empty", base + "[allow]\ncall = [\"\"]\n", []problem{{5, "[allow] call", `"" is not a service name`}}},
		{"call wildcard prefix", base + "[allow]\ncall = [\"user*\"]\n", []problem{{5, "[allow] call", `or "*" for any service`}}},
		{"call twice", base + "[allow]\ncall = [\"a\", \"a\"]\n", []problem{{5, "[allow] call", `"a" is listed twice`}}},
		{"call route", base + "[allow]\ncall = [\"/users\"]\n", []problem{{5, "[allow] call", `like "users"`}}},

		// [build].
		{"build ok", base + "[build]\ncommand = \"tinygo build -o hello.wasm\"\nwatch = [\"*.go\", \"go.mod\"]\n", nil},
		{"build multiline command", base + "[build]\ncommand = '''\nset -e\nmake\n'''\nwatch = [\"src/*\"]\n", nil},
		{"build empty", base + "[build]\n", []problem{{4, "[build] command", "missing"}}},
		{"build blank command", base + "[build]\ncommand = \"  \"\n", []problem{{5, "[build] command", "missing"}}},
		{"build watch bad", base + "[build]\ncommand = \"make\"\nwatch = [\"src/[\", \"/abs\"]\n", []problem{{6, "[build] watch", "not a valid pattern"}, {6, "[build] watch", "absolute"}}},
		{"build watch type", base + "[build]\ncommand = \"make\"\nwatch = \"src\"\n", []problem{{6, "[build] watch", "want an array of strings"}}},

		// Lines survive comments, CRLF, quoted keys and multi-line strings.
		{"crlf", "name = \"hello\"\r\n# note\r\n[wasm]\r\nmodule = \"hello.wasm\"\r\nabi = \"x\"\r\n", []problem{{5, "[wasm] abi", "not an ABI"}}},
		{"quoted keys", "\"name\" = \"hello\"\n[ 'wasm' ]\n\"module\" = \"hello.wasm\"\n'abi' = \"x\" # c\n", []problem{{4, "[wasm] abi", "not an ABI"}}},
		{"table header comment", base + "[scale] # tune me\n\nmax = 0\n", []problem{{6, "[scale] max", "out of range"}}},
	} {
		t.Run(tc.name, func(t *testing.T) { checkProblems(t, tc.doc, tc.want) })
	}
}

// checkProblems parses doc and checks that it is valid (want is nil) or
// has exactly the problems want lists, in order.
func checkProblems(t *testing.T, doc string, want []problem) {
	t.Helper()
	m, err := Parse([]byte(doc))
	if want == nil {
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		if err := m.Validate(); err != nil {
			t.Errorf("Validate after Parse: %v", err)
		}
		again, err := Parse(m.Format())
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Errorf("Parse(Format()) = %+v, %v; want %+v\n%s", again, err, m, m.Format())
		}
		return
	}
	if err == nil {
		t.Fatalf("Parse succeeded; want problems %v", want)
	}
	var perr *Error
	if !errors.As(err, &perr) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("error %T %v; want *Error matching ErrInvalid", err, err)
	}
	if m != nil {
		t.Errorf("Parse returned a manifest with an error")
	}
	if len(perr.Problems) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%v", len(perr.Problems), len(want), err)
	}
	for i, w := range want {
		p := perr.Problems[i]
		if p.Line != w.line || p.Key != w.key || !strings.Contains(p.Message, w.text) {
			t.Errorf("problem %d = {%d %q %q}; want line %d, key %q, message containing %q", i, p.Line, p.Key, p.Message, w.line, w.key, w.text)
		}
	}
}

func manyEnv(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString("V")
		b.WriteString(strings.Repeat("_", i%7))
		b.WriteString(string(rune('A' + i%26)))
		b.WriteString(string(rune('A' + i/26)))
		b.WriteString(" = \"x\"\n")
	}
	return b.String()
}

func TestErrorString(t *testing.T) {
	_, err := Parse([]byte("name = \"hello\"\n[wasm]\nmodule = \"hello.wasm\"\n[limits]\nmemory = \"64 MB\"\n[scale]\nmax = 0\n"))
	want := `mote.toml:5: [limits] memory: "64 MB" is not a size; write it like "64MiB" (whole number, no space; KiB, MiB, GiB are powers of 1024)` + "\n" +
		`mote.toml:7: [scale] max: 0 is out of range; write a number from 1 to 1000`
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
	e := &Error{Problems: []Problem{{Key: "name", Message: "missing"}, {Line: 2, Message: "not valid TOML: x"}}}
	if got, want := e.Error(), "mote.toml: name: missing\nmote.toml:2: not valid TOML: x"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	e.File = "svc/mote.toml"
	if !strings.HasPrefix(e.Error(), "svc/mote.toml: name") {
		t.Errorf("File not used: %q", e.Error())
	}
}

func TestValidateStruct(t *testing.T) {
	m, err := Parse([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	m.Limits.Memory = 0
	m.Scale.Min = 50
	m.Wasm.ABI = ""
	err = m.Validate()
	var perr *Error
	if !errors.As(err, &perr) {
		t.Fatalf("Validate = %v; want *Error", err)
	}
	var keys []string
	for _, p := range perr.Problems {
		if p.Line != 0 {
			t.Errorf("problem %v has a line", p)
		}
		keys = append(keys, p.Key)
	}
	if want := []string{"[limits] memory", "[scale] min", "[wasm] abi"}; !reflect.DeepEqual(keys, want) {
		t.Errorf("keys %q, want %q", keys, want)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, FileName)
	if err := os.WriteFile(file, []byte(base), 0o644); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other.toml")
	if err := os.WriteFile(other, []byte(base+"[scale]\nmax = 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := t.TempDir()

	for _, tc := range []struct {
		name, path string
		wantErr    error
		wantText   string
	}{
		{name: "dir", path: dir},
		{name: "file", path: file},
		{name: "invalid file", path: other, wantErr: ErrInvalid, wantText: other + ":5: [scale] max"},
		{name: "dir without manifest", path: empty, wantErr: ErrNotFound, wantText: "no mote.toml in " + empty + "; Try: mote new NAME"},
		{name: "missing path", path: filepath.Join(dir, "nope"), wantErr: ErrNotFound, wantText: "does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, got, err := Load(tc.path)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.wantText) {
					t.Fatalf("Load error %v; want %v containing %q", err, tc.wantErr, tc.wantText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Name != "hello" || got != dir {
				t.Errorf("Load = %q, %q; want hello, %q", m.Name, got, dir)
			}
		})
	}

	t.Run("empty path is the working dir", func(t *testing.T) {
		t.Chdir(dir)
		m, got, err := Load("")
		if err != nil {
			t.Fatal(err)
		}
		if m.Name != "hello" || !filepath.IsAbs(got) {
			t.Errorf("Load(\"\") = %q, %q", m.Name, got)
		}
	})
}

func TestFormatRoundTrip(t *testing.T) {
	for _, doc := range []string{
		base,
		"name = \"web\"\n[container]\nimage = \"./image\"\n[env]\n\"a\" = \"\\\"q\\\"\\n\\t\\u0001é\"\n",
		base + "[allow]\nconfig = true\ncall = [\"*\"]\n",
		base + "[allow]\nhttp = [\"[::1]:80\", \"a.b\"]\n",
		"description = '''\nline \\ two\n'''\n" + base + "[limits]\nmemory = \"10MB\"\nbody = \"1000\"\ntimeout = \"2m3.5s\"\n[scale]\nmin = 3\n[build]\ncommand = \"make\"\nwatch = [\"a b/*\"]\n",
	} {
		m, err := Parse([]byte(doc))
		if err != nil {
			t.Fatalf("Parse(%q): %v", doc, err)
		}
		again, err := Parse(m.Format())
		if err != nil {
			t.Fatalf("Parse(Format()): %v\n%s", err, m.Format())
		}
		if !reflect.DeepEqual(again, m) {
			t.Errorf("round trip of %q:\n%+v\nwant\n%+v", doc, again, m)
		}
	}
}

func TestKeyLines(t *testing.T) {
	doc := `# comment
name = "x" # trailing
multi = """
not = "a key"
"""
lit = '''
also = 'not'
'''
arr = [
  "a", # comment ]
  { k = "v" },
]
a.b . "c d" = 1

[ t1 ]
k1 = 1
[[t2]]
k2 = 2
["q.t"."x"]
'k3' = 3
after = "x\"y"
`
	lines := scanLines(doc)
	for _, tc := range []struct {
		path []string
		line int
	}{
		{[]string{"name"}, 2},
		{[]string{"multi"}, 3},
		{[]string{"not"}, 0},
		{[]string{"lit"}, 6},
		{[]string{"also"}, 0},
		{[]string{"arr"}, 9},
		{[]string{"arr", "k"}, 9},
		{[]string{"a"}, 13},
		{[]string{"a", "b", "c d"}, 13},
		{[]string{"t1"}, 15},
		{[]string{"t1", "k1"}, 16},
		{[]string{"t1", "missing"}, 15},
		{[]string{"t2", "k2"}, 18},
		{[]string{"q.t", "x", "k3"}, 20},
		{[]string{"q.t", "x", "after"}, 21},
	} {
		if got := lines.line(tc.path); got != tc.line {
			t.Errorf("line(%q) = %d, want %d", tc.path, got, tc.line)
		}
	}
}

func TestClosest(t *testing.T) {
	keys := []string{"memory", "timeout", "body", "response"}
	for _, tc := range []struct{ in, want string }{
		{"memroy", "memory"},
		{"Memory", "memory"},
		{"mem", ""},
		{"timeot", "timeout"},
		{"bdy", "body"},
		{"bodyy", "body"},
		{"responses", "response"},
		{"xyz", ""},
	} {
		if got := closest(tc.in, keys); got != tc.want {
			t.Errorf("closest(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
