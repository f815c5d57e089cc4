package admin

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// anyMethod stands for a route registered without a method.
const anyMethod = "*"

// operationKeys are the keys of an OpenAPI path item that are operations.
var operationKeys = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// openapiDoc is the part of openapi.json these tests read.
type openapiDoc struct {
	OpenAPI string                                `json:"openapi"`
	Paths   map[string]map[string]json.RawMessage `json:"paths"`
}

type operation struct {
	OperationID string            `json:"operationId"`
	Security    *[]map[string]any `json:"security"`
	Responses   map[string]any    `json:"responses"`
}

func parseOpenAPI(t *testing.T) openapiDoc {
	t.Helper()
	var doc openapiDoc
	if err := json.Unmarshal(openapiJSON, &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") || len(doc.Paths) == 0 {
		t.Fatalf("openapi.json: openapi %q, %d paths", doc.OpenAPI, len(doc.Paths))
	}
	return doc
}

// registered is one route of routes(), split into method and path, in
// OpenAPI's path syntax ("{path...}" becomes "{path}").
type registered struct {
	method, path string
	public       bool
}

func registeredRoutes(t *testing.T) []registered {
	t.Helper()
	var out []registered
	for _, rt := range (&handler{}).routes() {
		method, path, ok := strings.Cut(rt.pattern, " ")
		if !ok {
			method, path = anyMethod, rt.pattern
		}
		if strings.Contains(path, " ") || !strings.HasPrefix(path, "/") {
			t.Fatalf("route pattern %q is not [METHOD ]/path", rt.pattern)
		}
		path = strings.ReplaceAll(path, "...}", "}")
		out = append(out, registered{method: method, path: path, public: rt.public})
	}
	return out
}

// documented returns the upper-cased operations of a path item.
func documented(item map[string]json.RawMessage) []string {
	var ms []string
	for k := range item {
		if slices.Contains(operationKeys, k) {
			ms = append(ms, strings.ToUpper(k))
		}
	}
	slices.Sort(ms)
	return ms
}

// TestOpenAPIDocumentsEveryRoute: every route the handler registers is in
// openapi.json with its method (a method-less route, invoke, must document
// at least the common methods).
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	doc := parseOpenAPI(t)
	for _, rt := range registeredRoutes(t) {
		item, ok := doc.Paths[rt.path]
		if !ok {
			t.Errorf("route %s %s is not in openapi.json", rt.method, rt.path)
			continue
		}
		ms := documented(item)
		if rt.method == anyMethod {
			for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"} {
				if !slices.Contains(ms, m) {
					t.Errorf("any-method route %s: openapi.json does not document %s (it has %v)", rt.path, m, ms)
				}
			}
			continue
		}
		if !slices.Contains(ms, rt.method) {
			t.Errorf("route %s %s: openapi.json documents only %v there", rt.method, rt.path, ms)
		}
	}
}

// TestOpenAPIDocumentsOnlyRoutes: every operation in openapi.json is served
// (a GET route also serves HEAD, as net/http does), and only public routes
// say they need no token.
func TestOpenAPIDocumentsOnlyRoutes(t *testing.T) {
	doc := parseOpenAPI(t)
	routes := registeredRoutes(t)
	ids := map[string]string{}
	for path, item := range doc.Paths {
		for _, m := range documented(item) {
			i := slices.IndexFunc(routes, func(rt registered) bool {
				return rt.path == path && (rt.method == m || rt.method == anyMethod ||
					(m == http.MethodHead && rt.method == http.MethodGet))
			})
			if i < 0 {
				t.Errorf("openapi.json documents %s %s, which is not registered", m, path)
				continue
			}
			var op operation
			if err := json.Unmarshal(item[strings.ToLower(m)], &op); err != nil {
				t.Errorf("%s %s: %v", m, path, err)
				continue
			}
			if op.OperationID == "" {
				t.Errorf("%s %s has no operationId", m, path)
			} else if prev, dup := ids[op.OperationID]; dup {
				t.Errorf("operationId %s is used by %s and %s %s", op.OperationID, prev, m, path)
			}
			ids[op.OperationID] = m + " " + path
			if len(op.Responses) == 0 {
				t.Errorf("%s %s documents no responses", m, path)
			}
			noAuth := op.Security != nil && len(*op.Security) == 0
			if noAuth != routes[i].public {
				t.Errorf("%s %s: openapi.json says it needs no token: %v; the handler's route is public: %v", m, path, noAuth, routes[i].public)
			}
		}
	}
}

// TestOpenAPIPathParameters: each {param} in a documented path is declared.
func TestOpenAPIPathParameters(t *testing.T) {
	doc := parseOpenAPI(t)
	type param struct {
		Name     string `json:"name"`
		In       string `json:"in"`
		Required bool   `json:"required"`
	}
	for path, item := range doc.Paths {
		var declared []param
		if raw, ok := item["parameters"]; ok {
			if err := json.Unmarshal(raw, &declared); err != nil {
				t.Errorf("%s parameters: %v", path, err)
			}
		}
		for _, seg := range strings.Split(path, "/") {
			name, ok := strings.CutPrefix(seg, "{")
			if !ok {
				continue
			}
			name = strings.TrimSuffix(name, "}")
			found := slices.ContainsFunc(declared, func(p param) bool { return p.Name == name && p.In == "path" && p.Required })
			// An operation may declare it instead.
			for _, m := range documented(item) {
				var op struct {
					Parameters []param `json:"parameters"`
				}
				_ = json.Unmarshal(item[strings.ToLower(m)], &op)
				if !found && slices.ContainsFunc(op.Parameters, func(p param) bool { return p.Name == name && p.In == "path" && p.Required }) {
					found = true
				}
			}
			if !found {
				t.Errorf("%s: path parameter %s is not declared (in: path, required: true)", path, name)
			}
		}
	}
}
