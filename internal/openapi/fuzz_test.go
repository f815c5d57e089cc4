package openapi

import (
	"net/http"
	"net/url"
	"os"
	"slices"
	"testing"
)

var rules = []string{"path", "method", "required", "type", "enum", "const", "minimum", "maximum",
	"exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength", "maxLength", "pattern",
	"minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties", "additionalProperties",
	"anyOf", "oneOf", "not", "false", "contentType", "json", "depth", "limit"}

func FuzzParse(f *testing.F) {
	todo, err := os.ReadFile("testdata/todo.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(todo)
	f.Add([]byte(`{"openapi":"3.0.3","paths":{"/a/{x}-{y}.z":{"get":{"parameters":[{"name":"x","in":"path","schema":{"type":"integer"}}]}}}}`))
	f.Add([]byte(`{"openapi":"3.1.0","paths":{"/":{"post":{"requestBody":{"content":{"*/*":{"schema":{"$ref":"#/components/schemas/A"}}}}}}},"components":{"schemas":{"A":{"anyOf":[{"$ref":"#/components/schemas/A"},false]}}}}`))
	f.Add([]byte(`{"openapi":"3.1.0","components":{"schemas":{"A":{"$ref":"#/components/schemas/B"},"B":{"$ref":"#/components/schemas/A"}}}}`))
	f.Add([]byte("openapi: 3.1.0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse(data)
		if err != nil {
			return
		}
		for _, p := range []string{"", "/", "/a/1-2.z", "/todos/1", "/x/%41/"} {
			d.Match("GET", p)
			d.Validate(&Request{Method: "POST", Path: p, Query: url.Values{"limit": {"5"}},
				Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"a":[1,{"b":null}],"title":"t"}`)})
		}
		out, err := d.Render("http://localhost/x")
		if err != nil {
			t.Fatalf("Render: %v", err)
		}
		if _, err := Parse(out); err != nil {
			t.Fatalf("the rendered document does not parse: %v\n%s", err, out)
		}
	})
}

func FuzzValidate(f *testing.F) {
	d := loadTodo(f)
	f.Add("GET", "/todos", "limit=10&tags=a,b", "", "", []byte(nil))
	f.Add("POST", "/todos", "", "application/json", "acme", []byte(`{"title":"milk","items":[{"name":"a","qty":1}],"tags":["x"]}`))
	f.Add("PATCH", "/todos/7", "", "application/merge-patch+json", "", []byte(`{"done":true}`))
	f.Add("PUT", "/todos/7/attachments/a%2F.json", "", "image/png", "", []byte{0})
	f.Add("DELETE", "/todos/mine", "x=%zz", "text/*", "B", []byte(`[`))
	f.Fuzz(func(t *testing.T, method, path, query, ct, tenant string, body []byte) {
		q, _ := url.ParseQuery(query)
		h := http.Header{}
		if ct != "" {
			h.Set("Content-Type", ct)
		}
		if tenant != "" {
			h.Set("X-Tenant", tenant)
		}
		err := d.Validate(&Request{Method: method, Path: path, Query: q, Header: h, Body: body})
		tmpl, ok := d.Match(method, path)
		if err == nil {
			if !ok {
				t.Fatalf("valid request but Match(%q, %q) = %q, false", method, path, tmpl)
			}
			return
		}
		ve, isVE := err.(*ValidationError)
		if !isVE || ve.Message == "" || !slices.Contains(rules, ve.Rule) {
			t.Fatalf("Validate = %#v", err)
		}
		switch ve.Rule {
		case "path":
			if tmpl != "" {
				t.Fatalf("rule path but Match = %q", tmpl)
			}
		case "method":
			if ok || tmpl == "" {
				t.Fatalf("rule method but Match = %q, %v", tmpl, ok)
			}
		default:
			if !ok {
				t.Fatalf("rule %s but Match = %q, %v", ve.Rule, tmpl, ok)
			}
		}
	})
}

// FuzzSchema compiles a random schema inside a fixed document and validates
// a random body against it: the schema compiler and checker see far more
// shapes than FuzzParse reaches through whole documents.
func FuzzSchema(f *testing.F) {
	f.Add(`{"type":"object","required":["a"],"properties":{"a":{"type":["integer","null"],"minimum":1}},"additionalProperties":false}`, []byte(`{"a":2}`))
	f.Add(`{"anyOf":[{"$ref":"#/components/schemas/Node"},{"type":"array","items":{"$ref":"#/components/schemas/Node"},"uniqueItems":true}]}`, []byte(`[{"next":{}},{"next":{}}]`))
	f.Add(`{"oneOf":[{"pattern":"^a+$","maxLength":3},{"enum":["b",1,null]}],"not":{"const":"aa"}}`, []byte(`"aaa"`))
	f.Add(`{"prefixItems":[{"multipleOf":0.5}],"items":false,"minItems":1}`, []byte(`[1.5]`))
	f.Add(`{"patternProperties":{"^x":{"exclusiveMaximum":3}},"minProperties":1,"nullable":true}`, []byte(`{"xy":2}`))
	f.Fuzz(func(t *testing.T, schema string, body []byte) {
		for _, version := range []string{"3.0.3", "3.1.0"} {
			d, err := Parse([]byte(`{"openapi":"` + version + `","paths":{"/x":{"post":{"requestBody":{"content":{"application/json":{"schema":` + schema + `}}}}},
				"/q":{"get":{"parameters":[{"name":"q","in":"query","schema":` + schema + `},{"name":"h","in":"header","schema":` + schema + `}]}}},
				"components":{"schemas":{"Node":{"type":"object","properties":{"next":{"$ref":"#/components/schemas/Node"}}}}}}`))
			if err != nil {
				continue
			}
			err = d.Validate(&Request{Method: "POST", Path: "/x", Header: http.Header{"Content-Type": {"application/json"}}, Body: body})
			if ve, ok := err.(*ValidationError); err != nil && (!ok || !slices.Contains(rules, ve.Rule)) {
				t.Fatalf("Validate = %#v", err)
			}
			s := string(body)
			err = d.Validate(&Request{Method: "GET", Path: "/q", Query: url.Values{"q": {s, s}}, Header: http.Header{"H": {s}}})
			if ve, ok := err.(*ValidationError); err != nil && (!ok || !slices.Contains(rules, ve.Rule)) {
				t.Fatalf("Validate = %#v", err)
			}
		}
	})
}
