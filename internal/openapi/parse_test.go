package openapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	op := func(params string) string {
		return `{"openapi":"3.1.0","paths":{"/items/{id}":{"get":{"parameters":[` + params + `]}}}}`
	}
	body := func(schema string) string {
		return `{"openapi":"3.0.3","paths":{"/x":{"post":{"requestBody":{"content":{"application/json":{"schema":` + schema + `}}}}}}}`
	}
	comp := func(schemas string) string {
		return `{"openapi":"3.1.0","paths":{},"components":{"schemas":{` + schemas + `}}}`
	}
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"empty", ``, `the document is empty`},
		{"not an object", `[1]`, `the document must be a JSON object`},
		{"bad json", `{"openapi":`, `invalid JSON: unexpected end of JSON input`},
		{"swagger", `{"swagger":"2.0"}`, `swagger: Swagger 2.0 is not supported; convert the document to OpenAPI 3`},
		{"no version", `{"paths":{}}`, `openapi: required: the OpenAPI version, such as "3.1.0"`},
		{"version 4", `{"openapi":"4.0.0"}`, `openapi: version "4.0.0" is not supported (3.0.x or 3.1.x)`},
		{"info", `{"openapi":"3.1.0","info":[]}`, `info: must be an object`},
		{"paths", `{"openapi":"3.1.0","paths":[]}`, `paths: must be an object`},
		{"path without slash", `{"openapi":"3.1.0","paths":{"items":{}}}`, `paths.items: a path must start with "/"`},
		{"malformed template", `{"openapi":"3.1.0","paths":{"/a/{id":{}}}`, `paths./a/{id: malformed path template: a variable is "{name}" within one segment`},
		{"adjacent variables", `{"openapi":"3.1.0","paths":{"/a/{x}{y}":{}}}`, `paths./a/{x}{y}: malformed path template: a variable is "{name}" within one segment`},
		{"same template", `{"openapi":"3.1.0","paths":{"/a/{x}":{},"/a/{y}":{}}}`, `paths./a/{y}: same path template as /a/{x}`},
		{"variable twice", `{"openapi":"3.1.0","paths":{"/a/{x}/{x}":{}}}`, `paths./a/{x}/{x}: variable "x" appears twice`},
		{"operation not object", `{"openapi":"3.1.0","paths":{"/a":{"get":1}}}`, `paths./a.get: an operation must be an object`},
		{"parameters not array", op(``)[:len(op(``))-6] + `1}}}}`, `paths./items/{id}.get.parameters: must be an array`},
		{"param in", op(`{"name":"id","in":"body"}`), `paths./items/{id}.get.parameters[0]: in must be one of path, query, header, cookie`},
		{"param name", op(`{"in":"query"}`), `paths./items/{id}.get.parameters[0]: name is required`},
		{"param required", op(`{"name":"q","in":"query","required":"yes"}`), `paths./items/{id}.get.parameters[0].required: must be a boolean`},
		{"param not in template", op(`{"name":"other","in":"path","required":true}`), `paths./items/{id}.get.parameters[0]: path parameter "other" does not appear in the path template /items/{id}`},
		{"duplicate param", op(`{"name":"q","in":"query"},{"name":"q","in":"query"}`), `paths./items/{id}.get.parameters[1]: duplicate parameter "q" in query`},
		{"param bad pattern", op(`{"name":"q","in":"query","schema":{"pattern":"(?<=a)b"}}`),
			"paths./items/{id}.get.parameters[0].schema.pattern: pattern \"(?<=a)b\" is not a Go regular expression: error parsing regexp: invalid named capture: `(?<=a)b`"},
		{"param content", op(`{"name":"q","in":"query","content":{}}`), `paths./items/{id}.get.parameters[0].content: must be an object with exactly one media type`},
		{"param ref missing", op(`{"$ref":"#/components/parameters/Nope"}`), `paths./items/{id}.get.parameters[0].$ref: $ref "#/components/parameters/Nope": "components" not found`},
		{"remote ref", op(`{"$ref":"common.json#/components/parameters/Id"}`), `paths./items/{id}.get.parameters[0].$ref: $ref "common.json#/components/parameters/Id": only local references ("#/components/...") are supported`},
		{"body content", `{"openapi":"3.1.0","paths":{"/x":{"post":{"requestBody":{}}}}}`, `paths./x.post.requestBody.content: required: an object of media types`},
		{"body media type", `{"openapi":"3.1.0","paths":{"/x":{"post":{"requestBody":{"content":{"json":{}}}}}}}`, `paths./x.post.requestBody.content.json: malformed media type "json"`},
		{"schema not object", body(`1`), `paths./x.post.requestBody.content.application/json.schema: a schema must be an object`},
		{"type", body(`{"type":"int"}`), `paths./x.post.requestBody.content.application/json.schema.type: type must be one of string, integer, number, boolean, object, array, null`},
		{"type array item", body(`{"type":["string",1]}`), `paths./x.post.requestBody.content.application/json.schema.type[1]: type must be one of string, integer, number, boolean, object, array, null`},
		{"minLength", body(`{"minLength":-1}`), `paths./x.post.requestBody.content.application/json.schema.minLength: must be a non-negative integer`},
		{"maxItems fraction", body(`{"maxItems":1.5}`), `paths./x.post.requestBody.content.application/json.schema.maxItems: must be a non-negative integer`},
		{"minimum", body(`{"minimum":"1"}`), `paths./x.post.requestBody.content.application/json.schema.minimum: must be a number`},
		{"exclusiveMinimum without minimum", body(`{"exclusiveMinimum":true}`), `paths./x.post.requestBody.content.application/json.schema.exclusiveMinimum: true needs minimum`},
		{"multipleOf", body(`{"multipleOf":0}`), `paths./x.post.requestBody.content.application/json.schema.multipleOf: must be a number greater than 0`},
		{"required bool", body(`{"properties":{"a":{"required":true}}}`), `paths./x.post.requestBody.content.application/json.schema.properties.a.required: must be an array of property names`},
		{"items array", body(`{"items":[{}]}`), `paths./x.post.requestBody.content.application/json.schema.items: must be a schema, not an array (use prefixItems)`},
		{"anyOf empty", body(`{"anyOf":[]}`), `paths./x.post.requestBody.content.application/json.schema.anyOf: must be a non-empty array of schemas`},
		{"nested error", body(`{"properties":{"a":{"items":{"allOf":[{},{"pattern":"["}]}}}}`),
			"paths./x.post.requestBody.content.application/json.schema.properties.a.items.allOf[1].pattern: pattern \"[\" is not a Go regular expression: error parsing regexp: missing closing ]: `[`"},
		{"schema ref missing", body(`{"$ref":"#/components/schemas/Nope"}`), `paths./x.post.requestBody.content.application/json.schema.$ref: $ref "#/components/schemas/Nope": "components" not found`},
		{"error in component", comp(`"A":{"properties":{"b":{"maxLength":"x"}}}`), `components.schemas.A.properties.b.maxLength: must be a non-negative integer`},
		{"ref cycle", comp(`"A":{"$ref":"#/components/schemas/B"},"B":{"$ref":"#/components/schemas/A"}`),
			`components.schemas.A: $ref cycle: #/components/schemas/A -> #/components/schemas/B -> #/components/schemas/A`},
		{"self ref", comp(`"A":{"$ref":"#/components/schemas/A"}`), `components.schemas.A: $ref cycle: #/components/schemas/A -> #/components/schemas/A`},
		{"escaped ref", comp(`"a/b":{"type":"x"}`), `components.schemas.a/b.type: type must be one of string, integer, number, boolean, object, array, null`},
		{"deep nesting", body(strings.Repeat(`{"items":`, 200) + `{}` + strings.Repeat(`}`, 200)),
			`paths./x.post.requestBody.content.application/json.schema` + strings.Repeat(".items", 129) + `: schemas nested deeper than 128 levels`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc))
			if err == nil {
				t.Fatalf("Parse succeeded, want %q", tc.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not match ErrInvalid", err)
			}
			if err.Error() != tc.want {
				t.Fatalf("Parse error\n got %s\nwant %s", err, tc.want)
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	if _, err := Parse(bytes.Repeat([]byte(" "), MaxDocSize+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("too large: %v", err)
	}
	for _, doc := range []string{"openapi: 3.1.0\ninfo:\n  title: x\n", "---\nopenapi: \"3.0.0\"\n", "# comment\nswagger: '2.0'\n"} {
		if _, err := Parse([]byte(doc)); !errors.Is(err, ErrYAML) {
			t.Errorf("YAML %q: %v", doc, err)
		}
	}
	paths := func(n int) []byte {
		m := map[string]any{}
		for i := range n {
			m[fmt.Sprintf("/p%d/{id}", i)] = map[string]any{"get": map[string]any{}}
		}
		b, _ := json.Marshal(map[string]any{"openapi": "3.0.0", "paths": m})
		return b
	}
	d, err := Parse(paths(MaxPaths))
	if err != nil {
		t.Fatalf("%d paths: %v", MaxPaths, err)
	}
	if tmpl, ok := d.Match("GET", "/p999/x"); tmpl != "/p999/{id}" || !ok {
		t.Errorf("Match = %q %v", tmpl, ok)
	}
	if _, err := Parse(paths(MaxPaths + 1)); err == nil || err.Error() != "paths: 1001 paths; at most 1000 are supported" {
		t.Errorf("too many paths: %v", err)
	}
	// A byte-order mark and leading space are fine.
	if _, err := Parse([]byte("\ufeff\n {\"openapi\":\"3.0.3\"}")); err != nil {
		t.Errorf("BOM: %v", err)
	}
}

func TestMatch(t *testing.T) {
	d, err := Parse([]byte(`{"openapi":"3.1.0","paths":{
		"/":{"get":{}},
		"/items":{"get":{},"post":{}},
		"/items/":{"get":{}},
		"/items/mine":{"get":{}},
		"/items/{id}":{"get":{},"delete":{}},
		"/items/{id}.json":{"get":{}},
		"/items/{id}/tags/{tag}":{"put":{}},
		"/items/mine/tags/special":{"put":{}},
		"/files/{a}-{b}.tar":{"get":{}},
		"/a b/{x}":{"get":{}},
		"/enc%20oded":{"get":{}}
	}}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		method, path, tmpl string
		ok                 bool
	}{
		{"GET", "", "/", true},
		{"GET", "/", "/", true},
		{"GET", "/items", "/items", true},
		{"POST", "/items", "/items", true},
		{"PATCH", "/items", "/items", false},
		{"BREW", "/items", "/items", false},
		{"GET", "/items/", "/items/", true},
		{"GET", "/items/mine", "/items/mine", true},
		{"DELETE", "/items/mine", "/items/mine", false},
		{"GET", "/items/42", "/items/{id}", true},
		{"head", "/items/42", "/items/{id}", true},
		{"GET", "/items/42.json", "/items/{id}.json", true},
		{"GET", "/items/.json", "/items/{id}", true},
		{"PUT", "/items/mine/tags/x", "/items/{id}/tags/{tag}", true},
		{"PUT", "/items/mine/tags/special", "/items/mine/tags/special", true},
		{"PUT", "/items/42/tags/special", "/items/{id}/tags/{tag}", true},
		{"GET", "/items/42/tags", "", false},
		{"GET", "/items//", "", false},
		{"GET", "/items/a%2Fb", "/items/{id}", true},
		{"GET", "/items/%zz", "", false},
		{"GET", "/files/x-y-z.tar", "/files/{a}-{b}.tar", true},
		{"GET", "/files/x.tar", "", false},
		{"GET", "/a%20b/1", "/a b/{x}", true},
		{"GET", "/enc%20oded", "/enc%20oded", true},
		{"GET", "/enc oded", "/enc%20oded", true},
		{"GET", "nope", "", false},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			tmpl, ok := d.Match(tc.method, tc.path)
			if tmpl != tc.tmpl || ok != tc.ok {
				t.Errorf("Match = %q, %v; want %q, %v", tmpl, ok, tc.tmpl, tc.ok)
			}
		})
	}
	// Partly templated segments capture the value for validation.
	d2, err := Parse([]byte(`{"openapi":"3.1.0","paths":{"/f/{a}-{b}.tar":{"get":{"parameters":[
		{"name":"a","in":"path","required":true,"schema":{"type":"integer"}},
		{"name":"b","in":"path","required":true,"schema":{"type":"string","maxLength":1}}]}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, d2.Validate(&Request{Method: "GET", Path: "/f/1-x.tar"}), "", "")
	checkResult(t, d2.Validate(&Request{Method: "GET", Path: "/f/1-xy.tar"}), "maxLength", `path parameter "b": length 2 is greater than maxLength 1`)
	checkResult(t, d2.Validate(&Request{Method: "GET", Path: "/f/x-y.tar"}), "type", `path parameter "a": "x" is not of type integer`)
	checkResult(t, d2.Validate(&Request{Method: "GET", Path: "/f/%zz"}), "path", `path /f/%zz has an invalid percent-encoding`)
}

func TestRender(t *testing.T) {
	d := loadTodo(t)
	out, err := d.Render("https://node.example.com/todo")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string              `json:"openapi"`
		Servers []map[string]string `json:"servers"`
		Paths   map[string]any      `json:"paths"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if doc.OpenAPI != "3.1.0" || len(doc.Servers) != 1 || doc.Servers[0]["url"] != "https://node.example.com/todo" || len(doc.Paths) != 4 {
		t.Errorf("rendered: %+v", doc)
	}
	if !bytes.HasPrefix(out, []byte("{\n  \"openapi\": \"3.1.0\",\n  \"info\": {")) {
		t.Errorf("rendered order:\n%.80s", out)
	}
	// The rendered document parses again to the same API.
	d2, err := Parse(out)
	if err != nil || d2.Title != d.Title {
		t.Fatalf("reparse: %v", err)
	}
	// A document without servers gets one.
	d3, err := Parse([]byte(`{"openapi":"3.0.0","paths":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	out, err = d3.Render("http://localhost:8080/x")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte(`"url": "http://localhost:8080/x"`)) {
		t.Errorf("rendered:\n%s", out)
	}
}

func TestConcurrentValidate(t *testing.T) {
	d := loadTodo(t)
	done := make(chan error, 4)
	for range 4 {
		go func() {
			var err error
			for range 200 {
				err = d.Validate(&Request{Method: "POST", Path: "/todos", Header: jsonHeader("application/json"), Body: []byte(`{"title":"x","tags":["a","a"]}`)})
			}
			done <- err
		}()
	}
	for range 4 {
		if err := <-done; err == nil || err.(*ValidationError).Rule != "uniqueItems" {
			t.Errorf("err = %v", err)
		}
	}
}
