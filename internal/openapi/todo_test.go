package openapi

import (
	"net/http"
	"net/url"
	"os"
	"testing"
)

func loadTodo(t testing.TB) *Doc {
	t.Helper()
	data, err := os.ReadFile("testdata/todo.json")
	if err != nil {
		t.Fatal(err)
	}
	d, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func jsonHeader(ct string) http.Header { return http.Header{"Content-Type": {ct}} }

// TestTodo runs a realistic document end to end.
func TestTodo(t *testing.T) {
	d := loadTodo(t)
	if d.Title != "Todo API" || d.Version != "1.2.0" || d.OpenAPI != "3.1.0" {
		t.Fatalf("info: %q %q %q", d.Title, d.Version, d.OpenAPI)
	}
	q := func(s string) url.Values {
		v, err := url.ParseQuery(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	js := jsonHeader("application/json; charset=utf-8")
	for _, tc := range []struct {
		name string
		req  Request
		rule string // "" for a valid request
		msg  string
	}{
		{"list", Request{Method: "GET", Path: "/todos", Query: q("limit=10&done=true&tags=a,b-2&sort=due")}, "", ""},
		{"list no query", Request{Method: "get", Path: "/todos"}, "", ""},
		{"head falls back to get", Request{Method: "HEAD", Path: "/todos"}, "", ""},
		{"limit too big", Request{Method: "GET", Path: "/todos", Query: q("limit=500")},
			"maximum", `query parameter "limit": 500 is greater than maximum 100`},
		{"limit not integer", Request{Method: "GET", Path: "/todos", Query: q("limit=ten")},
			"type", `query parameter "limit": "ten" is not of type integer`},
		{"limit fraction", Request{Method: "GET", Path: "/todos", Query: q("limit=1.5")},
			"type", `query parameter "limit": 1.5 is not of type integer`},
		{"done not boolean", Request{Method: "GET", Path: "/todos", Query: q("done=yes")},
			"type", `query parameter "done": "yes" is not of type boolean`},
		{"too many tags", Request{Method: "GET", Path: "/todos", Query: q("tags=a,b,c,d")},
			"maxItems", `query parameter "tags": array has 4 items, more than maxItems 3`},
		{"bad tag", Request{Method: "GET", Path: "/todos", Query: q("tags=a,B")},
			"pattern", `query parameter "tags"[1]: "B" does not match pattern "^[a-z][a-z0-9-]*$"`},
		{"sort enum", Request{Method: "GET", Path: "/todos", Query: q("sort=title")},
			"enum", `query parameter "sort": "title" is not one of "due", "created"`},
		{"tenant header", Request{Method: "GET", Path: "/todos", Header: http.Header{"X-Tenant": {"ACME"}}},
			"pattern", `header parameter "X-Tenant": "ACME" does not match pattern "^[a-z]+$"`},
		{"tenant header ok", Request{Method: "GET", Path: "/todos", Header: http.Header{"X-Tenant": {"acme"}}}, "", ""},
		{"create", Request{Method: "POST", Path: "/todos", Header: js,
			Body: []byte(`{"title":"milk","done":false,"due":null,"priority":"high","tags":["shop"],"items":[{"name":"oat","qty":2}]}`)}, "", ""},
		{"create readOnly id not required", Request{Method: "POST", Path: "/todos", Header: js, Body: []byte(`{"title":"x"}`)}, "", ""},
		{"create without body", Request{Method: "POST", Path: "/todos", Header: js},
			"required", `body: request body is required`},
		{"create as text", Request{Method: "POST", Path: "/todos", Header: jsonHeader("text/plain"), Body: []byte(`x`)},
			"contentType", `header Content-Type: content type "text/plain" is not allowed (allowed: application/json)`},
		{"create without content type", Request{Method: "POST", Path: "/todos", Body: []byte(`{}`)},
			"contentType", `header Content-Type: content type is missing (allowed: application/json)`},
		{"create bad json", Request{Method: "POST", Path: "/todos", Header: js, Body: []byte(`{"title":`)},
			"json", `body: invalid JSON: unexpected end of JSON input`},
		{"create missing title", Request{Method: "POST", Path: "/todos", Header: js, Body: []byte(`{"done":true}`)},
			"required", `body.title: required property is missing`},
		{"create empty title", Request{Method: "POST", Path: "/todos", Header: js, Body: []byte(`{"title":""}`)},
			"minLength", `body.title: length 0 is less than minLength 1`},
		{"create extra property", Request{Method: "POST", Path: "/todos", Header: js, Body: []byte(`{"title":"x","owner":"me"}`)},
			"additionalProperties", `body.owner: property is not allowed (additionalProperties)`},
		{"create duplicate tags", Request{Method: "POST", Path: "/todos", Header: js, Body: []byte(`{"title":"x","tags":["a","b","a"]}`)},
			"uniqueItems", `body.tags: items 0 and 2 are equal (uniqueItems)`},
		{"create item without name", Request{Method: "POST", Path: "/todos", Header: js,
			Body: []byte(`{"title":"x","items":[{"name":"a"},{"name":"b"},{"qty":1}]}`)},
			"required", `body.items[2].name: required property is missing`},
		{"create item qty zero", Request{Method: "POST", Path: "/todos", Header: js,
			Body: []byte(`{"title":"x","items":[{"name":"a","qty":0}]}`)},
			"exclusiveMinimum", `body.items[0].qty: 0 is not greater than exclusiveMinimum 0`},
		{"create due number", Request{Method: "POST", Path: "/todos", Header: js, Body: []byte(`{"title":"x","due":5}`)},
			"type", `body.due: 5 is not of type string or null`},
		{"create priority", Request{Method: "POST", Path: "/todos", Header: js, Body: []byte(`{"title":"x","priority":"urgent"}`)},
			"enum", `body.priority: "urgent" is not one of "low", "normal", "high"`},
		{"create array body", Request{Method: "POST", Path: "/todos", Header: js, Body: []byte(`[]`)},
			"type", `body: an array is not of type object`},
		{"mine beats id", Request{Method: "GET", Path: "/todos/mine"}, "", ""},
		{"get", Request{Method: "GET", Path: "/todos/42"}, "", ""},
		{"get bad id", Request{Method: "GET", Path: "/todos/abc"},
			"type", `path parameter "id": "abc" is not of type integer`},
		{"get zero id", Request{Method: "GET", Path: "/todos/0"},
			"minimum", `path parameter "id": 0 is less than minimum 1`},
		{"percent-decoded id", Request{Method: "GET", Path: "/todos/%34%32"}, "", ""},
		{"delete", Request{Method: "DELETE", Path: "/todos/7"}, "", ""},
		{"delete mine", Request{Method: "DELETE", Path: "/todos/mine"},
			"method", `no operation for DELETE /todos/mine (allowed: GET)`},
		{"post to id", Request{Method: "POST", Path: "/todos/7"},
			"method", `no operation for POST /todos/{id} (allowed: DELETE, GET, PATCH, PUT)`},
		{"patch", Request{Method: "PATCH", Path: "/todos/7", Header: jsonHeader("application/merge-patch+json"), Body: []byte(`{"done":true}`)}, "", ""},
		{"patch empty object", Request{Method: "PATCH", Path: "/todos/7", Header: jsonHeader("application/merge-patch+json"), Body: []byte(`{}`)},
			"minProperties", `body: object has 0 properties, fewer than minProperties 1`},
		{"patch title via ref into properties", Request{Method: "PATCH", Path: "/todos/7", Header: jsonHeader("application/merge-patch+json"), Body: []byte(`{"title":""}`)},
			"minLength", `body.title: length 0 is less than minLength 1`},
		{"attachment", Request{Method: "PUT", Path: "/todos/7/attachments/cat.json", Header: jsonHeader("image/png"), Body: []byte{1}}, "", ""},
		{"attachment name too long", Request{Method: "PUT", Path: "/todos/7/attachments/abcdefghi.json", Header: jsonHeader("image/png"), Body: []byte{1}},
			"maxLength", `path parameter "name": length 9 is greater than maxLength 8`},
		{"attachment wrong type", Request{Method: "PUT", Path: "/todos/7/attachments/a.json", Header: jsonHeader("application/json"), Body: []byte{1}},
			"contentType", `header Content-Type: content type "application/json" is not allowed (allowed: image/*, text/plain)`},
		{"attachment suffix missing", Request{Method: "PUT", Path: "/todos/7/attachments/a.txt"},
			"path", `path /todos/7/attachments/a.txt matches no path in the API document`},
		{"no path", Request{Method: "GET", Path: "/nope"}, "path", `path /nope matches no path in the API document`},
		{"trailing slash", Request{Method: "GET", Path: "/todos/"}, "path", `path /todos/ matches no path in the API document`},
		{"root", Request{Method: "GET", Path: ""}, "path", `path / matches no path in the API document`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkResult(t, d.Validate(&tc.req), tc.rule, tc.msg)
		})
	}
}

func checkResult(t *testing.T, err error, rule, msg string) {
	t.Helper()
	if rule == "" {
		if err != nil {
			t.Fatalf("Validate = %v, want nil", err)
		}
		return
	}
	ve, ok := err.(*ValidationError)
	if !ok {
		t.Fatalf("Validate = %v (%T), want a *ValidationError", err, err)
	}
	if ve.Rule != rule || ve.Message != msg {
		t.Fatalf("Validate = rule %q %q,\nwant rule %q %q", ve.Rule, ve.Message, rule, msg)
	}
}
