package openapi

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// bodyDoc is a document whose POST /x takes a JSON body with the schema.
func bodyDoc(t *testing.T, version, schema string) *Doc {
	t.Helper()
	d, err := Parse([]byte(`{"openapi":"` + version + `","info":{"title":"t","version":"1"},"paths":{"/x":{"post":{
		"requestBody":{"content":{"application/json":{"schema":` + schema + `}}},"responses":{}}}},
		"components":{"schemas":{"Node":{"type":"object","properties":{"next":{"$ref":"#/components/schemas/Node"}},"additionalProperties":false}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestBodyRules(t *testing.T) {
	for _, tc := range []struct {
		name, version, schema, body string
		rule, msg                   string // rule "" for valid
	}{
		{"type ok", "3.1.0", `{"type":"string"}`, `"a"`, "", ""},
		{"type", "3.1.0", `{"type":"string"}`, `1`, "type", `body: 1 is not of type string`},
		{"type integer accepts 1.0", "3.1.0", `{"type":"integer"}`, `1.0`, "", ""},
		{"type integer", "3.1.0", `{"type":"integer"}`, `1.5`, "type", `body: 1.5 is not of type integer`},
		{"type number accepts integer", "3.1.0", `{"type":"number"}`, `3`, "", ""},
		{"type array 3.1", "3.1.0", `{"type":["integer","null"]}`, `null`, "", ""},
		{"type array 3.1 denied", "3.1.0", `{"type":["integer","null"]}`, `"1"`, "type", `body: "1" is not of type integer or null`},
		{"null without nullable", "3.0.3", `{"type":"string"}`, `null`, "type", `body: null is not of type string`},
		{"nullable 3.0", "3.0.3", `{"type":"string","nullable":true}`, `null`, "", ""},
		{"nullable 3.0 with enum", "3.0.3", `{"type":"string","nullable":true,"enum":["a"]}`, `null`, "", ""},
		{"nullable ignored in 3.1", "3.1.0", `{"type":"string","nullable":true}`, `null`, "type", `body: null is not of type string`},
		{"long string is cut", "3.1.0", `{"type":"integer"}`, `"` + strings.Repeat("x", 100) + `"`, "type",
			`body: "` + strings.Repeat("x", 61) + `..." is not of type integer`},
		{"enum ok", "3.1.0", `{"enum":[1,"a",null,{"k":[1]}]}`, `{"k":[1.0]}`, "", ""},
		{"enum", "3.1.0", `{"enum":[1,"a"]}`, `"b"`, "enum", `body: "b" is not one of 1, "a"`},
		{"const ok", "3.1.0", `{"const":"v"}`, `"v"`, "", ""},
		{"const", "3.1.0", `{"const":"v"}`, `"w"`, "const", `body: "w" is not equal to const "v"`},
		{"minimum ok", "3.1.0", `{"minimum":5}`, `5`, "", ""},
		{"minimum", "3.1.0", `{"minimum":5}`, `4.5`, "minimum", `body: 4.5 is less than minimum 5`},
		{"maximum", "3.1.0", `{"maximum":100}`, `500`, "maximum", `body: 500 is greater than maximum 100`},
		{"exclusiveMinimum 3.1", "3.1.0", `{"exclusiveMinimum":5}`, `5`, "exclusiveMinimum", `body: 5 is not greater than exclusiveMinimum 5`},
		{"exclusiveMinimum 3.1 ok", "3.1.0", `{"exclusiveMinimum":5}`, `5.01`, "", ""},
		{"exclusiveMaximum 3.1", "3.1.0", `{"exclusiveMaximum":5}`, `5`, "exclusiveMaximum", `body: 5 is not less than exclusiveMaximum 5`},
		{"exclusiveMinimum 3.0", "3.0.3", `{"minimum":5,"exclusiveMinimum":true}`, `5`, "exclusiveMinimum", `body: 5 is not greater than exclusiveMinimum 5`},
		{"exclusiveMinimum 3.0 false", "3.0.3", `{"minimum":5,"exclusiveMinimum":false}`, `5`, "", ""},
		{"exclusiveMaximum 3.0", "3.0.3", `{"maximum":5,"exclusiveMaximum":true}`, `5`, "exclusiveMaximum", `body: 5 is not less than exclusiveMaximum 5`},
		{"multipleOf ok", "3.1.0", `{"multipleOf":0.1}`, `0.3`, "", ""},
		{"multipleOf", "3.1.0", `{"multipleOf":2}`, `3`, "multipleOf", `body: 3 is not a multiple of 2`},
		{"minLength counts runes", "3.1.0", `{"minLength":3}`, `"äöü"`, "", ""},
		{"minLength", "3.1.0", `{"minLength":3}`, `"ab"`, "minLength", `body: length 2 is less than minLength 3`},
		{"maxLength", "3.1.0", `{"maxLength":2}`, `"abc"`, "maxLength", `body: length 3 is greater than maxLength 2`},
		{"pattern unanchored", "3.1.0", `{"pattern":"b+"}`, `"abbc"`, "", ""},
		{"pattern", "3.1.0", `{"pattern":"^[0-9]+$"}`, `"12a"`, "pattern", `body: "12a" does not match pattern "^[0-9]+$"`},
		{"keywords of other types ignored", "3.1.0", `{"minLength":3,"minimum":9,"minItems":2}`, `true`, "", ""},
		{"minItems", "3.1.0", `{"minItems":2}`, `[1]`, "minItems", `body: array has 1 items, fewer than minItems 2`},
		{"maxItems", "3.1.0", `{"maxItems":1}`, `[1,2]`, "maxItems", `body: array has 2 items, more than maxItems 1`},
		{"uniqueItems ok", "3.1.0", `{"uniqueItems":true}`, `[1,"1",[1],{"a":1},{"a":2}]`, "", ""},
		{"uniqueItems numbers", "3.1.0", `{"uniqueItems":true}`, `[1,1.0]`, "uniqueItems", `body: items 0 and 1 are equal (uniqueItems)`},
		{"uniqueItems objects", "3.1.0", `{"uniqueItems":true}`, `[{"a":1,"b":2},{"b":2,"a":1}]`, "uniqueItems", `body: items 0 and 1 are equal (uniqueItems)`},
		{"items", "3.1.0", `{"items":{"type":"integer"}}`, `[1,2,"x"]`, "type", `body[2]: "x" is not of type integer`},
		{"prefixItems", "3.1.0", `{"prefixItems":[{"type":"string"}],"items":{"type":"integer"}}`, `["a",1,2]`, "", ""},
		{"prefixItems denied", "3.1.0", `{"prefixItems":[{"type":"string"}],"items":{"type":"integer"}}`, `[1,1]`, "type", `body[0]: 1 is not of type string`},
		{"items false", "3.1.0", `{"prefixItems":[{}],"items":false}`, `[1,2]`, "false", `body[1]: no value is allowed here`},
		{"properties", "3.1.0", `{"properties":{"a":{"type":"string"}}}`, `{"a":1}`, "type", `body.a: 1 is not of type string`},
		{"property name quoted", "3.1.0", `{"properties":{"a b":{"type":"string"}}}`, `{"a b":1}`, "type", `body["a b"]: 1 is not of type string`},
		{"required", "3.1.0", `{"required":["a","b"]}`, `{"a":1}`, "required", `body.b: required property is missing`},
		{"required ignores non-objects", "3.1.0", `{"required":["a"]}`, `"s"`, "", ""},
		{"additionalProperties false", "3.1.0", `{"properties":{"a":{}},"additionalProperties":false}`, `{"a":1,"b":2}`, "additionalProperties", `body.b: property is not allowed (additionalProperties)`},
		{"additionalProperties schema", "3.1.0", `{"additionalProperties":{"type":"integer"}}`, `{"a":1,"b":"x"}`, "type", `body.b: "x" is not of type integer`},
		{"patternProperties", "3.1.0", `{"patternProperties":{"^x-":{"type":"string"}},"additionalProperties":false}`, `{"x-a":"1"}`, "", ""},
		{"patternProperties denied", "3.1.0", `{"patternProperties":{"^x-":{"type":"string"}},"additionalProperties":false}`, `{"x-a":1}`, "type", `body.x-a: 1 is not of type string`},
		{"minProperties", "3.1.0", `{"minProperties":1}`, `{}`, "minProperties", `body: object has 0 properties, fewer than minProperties 1`},
		{"maxProperties", "3.1.0", `{"maxProperties":1}`, `{"a":1,"b":2}`, "maxProperties", `body: object has 2 properties, more than maxProperties 1`},
		{"allOf", "3.1.0", `{"allOf":[{"type":"integer"},{"minimum":3}]}`, `2`, "minimum", `body: 2 is less than minimum 3`},
		{"anyOf ok", "3.1.0", `{"anyOf":[{"type":"integer"},{"type":"string"}]}`, `"a"`, "", ""},
		{"anyOf", "3.1.0", `{"anyOf":[{"type":"integer"},{"properties":{"a":{"type":"string"}}}]}`, `{"a":1}`, "anyOf",
			`body: matches none of the anyOf schemas (closest: body.a: 1 is not of type string)`},
		{"oneOf ok", "3.1.0", `{"oneOf":[{"type":"integer"},{"type":"string"}]}`, `1`, "", ""},
		{"oneOf none", "3.1.0", `{"oneOf":[{"type":"integer"},{"type":"string"}]}`, `true`, "oneOf",
			`body: matches none of the oneOf schemas (closest: body: true is not of type integer)`},
		{"oneOf two", "3.1.0", `{"oneOf":[{"type":"integer"},{"type":"number"}]}`, `1`, "oneOf",
			`body: matches oneOf schemas 0 and 1; exactly one must match`},
		{"not", "3.1.0", `{"not":{"type":"string"}}`, `"a"`, "not", `body: "a" matches a schema it must not (not)`},
		{"not ok", "3.1.0", `{"not":{"type":"string"}}`, `1`, "", ""},
		{"false schema", "3.1.0", `false`, `1`, "false", `body: no value is allowed here`},
		{"true schema", "3.1.0", `true`, `1`, "", ""},
		{"format ignored", "3.1.0", `{"type":"string","format":"email"}`, `"nope"`, "", ""},
		{"unknown keyword ignored", "3.1.0", `{"type":"string","x-whatever":{"deep":1},"contentEncoding":"base64"}`, `"a"`, "", ""},
		{"ref with siblings 3.1", "3.1.0", `{"$ref":"#/components/schemas/Node","required":["next"]}`, `{}`, "required", `body.next: required property is missing`},
		{"ref siblings ignored 3.0", "3.0.3", `{"$ref":"#/components/schemas/Node","required":["next"]}`, `{}`, "", ""},
		{"recursive schema", "3.1.0", `{"$ref":"#/components/schemas/Node"}`, `{"next":{"next":{"next":{"x":1}}}}`, "additionalProperties",
			`body.next.next.next.x: property is not allowed (additionalProperties)`},
		{"recursion is bounded", "3.1.0", `{"$ref":"#/components/schemas/Node"}`, strings.Repeat(`{"next":`, 200) + `{}` + strings.Repeat(`}`, 200), "depth",
			`body` + strings.Repeat(".next", 129) + `: schemas nested deeper than 128 levels`},
		{"trailing data", "3.1.0", `{}`, `{} x`, "json", `body: invalid JSON: invalid character 'x' after top-level value`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := bodyDoc(t, tc.version, tc.schema)
			err := d.Validate(&Request{Method: "POST", Path: "/x", Header: jsonHeader("application/json"), Body: []byte(tc.body)})
			checkResult(t, err, tc.rule, tc.msg)
		})
	}
}

// TestAnyOfBlowUp: nested anyOf whose branches all fail would take 2^depth
// steps; the work budget stops it.
func TestAnyOfBlowUp(t *testing.T) {
	var comps strings.Builder
	comps.WriteString(`"A0":{"type":"integer"}`)
	for i := 1; i <= 40; i++ {
		fmt.Fprintf(&comps, `,"A%d":{"anyOf":[{"$ref":"#/components/schemas/A%d"},{"$ref":"#/components/schemas/A%d"}]}`, i, i-1, i-1)
	}
	d, err := Parse([]byte(`{"openapi":"3.1.0","paths":{"/x":{"post":{"requestBody":{"content":{"application/json":{
		"schema":{"$ref":"#/components/schemas/A40"}}}}}}},"components":{"schemas":{` + comps.String() + `}}}`))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = d.Validate(&Request{Method: "POST", Path: "/x", Header: jsonHeader("application/json"), Body: []byte(`"s"`)})
	checkResult(t, err, "limit", `body: validation exceeded its work budget (schema too complex for this value)`)
	if el := time.Since(start); el > time.Second {
		t.Errorf("Validate took %v", el)
	}
}

func TestSelfReferenceBounded(t *testing.T) {
	d, err := Parse([]byte(`{"openapi":"3.1.0","paths":{"/x":{"post":{"requestBody":{"content":{"application/json":{
		"schema":{"$ref":"#/components/schemas/A"}}}}}}},"components":{"schemas":{"A":{"allOf":[{"$ref":"#/components/schemas/A"}]}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	err = d.Validate(&Request{Method: "POST", Path: "/x", Header: jsonHeader("application/json"), Body: []byte(`1`)})
	checkResult(t, err, "depth", `body: schemas nested deeper than 128 levels`)
}

func TestContentTypes(t *testing.T) {
	d, err := Parse([]byte(`{"openapi":"3.0.3","paths":{"/x":{"post":{"requestBody":{"content":{
		"application/json":{"schema":{"type":"object"}},
		"text/*":{"schema":{"type":"object"}},
		"*/*":{}}}}},
		"/y":{"post":{"requestBody":{"required":false,"content":{"Application/JSON; charset=utf-8":{"schema":{"type":"integer"}}}}}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, ct, body string
		rule, msg      string
	}{
		{"/x", "application/json", `{}`, "", ""},
		{"/x", "application/json", `1`, "type", `body: 1 is not of type object`},
		{"/x", "text/csv", `1`, "", ""}, // matched text/*, not JSON: content type only
		{"/x", "image/png", `1`, "", ""},
		{"/x", "application/problem+json", `1`, "", ""}, // */* has no schema
		{"/x", "", `1`, "contentType", `header Content-Type: content type is missing (allowed: */*, application/json, text/*)`},
		{"/x", "json", `1`, "contentType", `header Content-Type: malformed content type "json" (allowed: */*, application/json, text/*)`},
		{"/y", "APPLICATION/json;charset=latin1", `1`, "", ""},
		{"/y", "application/json", `"1"`, "type", `body: "1" is not of type integer`},
		{"/y", "application/xml", `1`, "contentType", `header Content-Type: content type "application/xml" is not allowed (allowed: application/json)`},
		{"/y", "", ``, "", ""}, // optional body absent
	} {
		t.Run(tc.path+" "+tc.ct, func(t *testing.T) {
			h := http.Header{}
			if tc.ct != "" {
				h.Set("Content-Type", tc.ct)
			}
			checkResult(t, d.Validate(&Request{Method: "POST", Path: tc.path, Header: h, Body: []byte(tc.body)}), tc.rule, tc.msg)
		})
	}
}

func TestParams(t *testing.T) {
	d, err := Parse([]byte(`{"openapi":"3.0.3","paths":{"/p/{ids}/{flag}":{"get":{"parameters":[
		{"name":"ids","in":"path","required":true,"schema":{"type":"array","items":{"type":"integer"}}},
		{"name":"flag","in":"path","required":true,"schema":{"type":"boolean"}},
		{"name":"q","in":"query","required":true,"schema":{"type":"string","minLength":2}},
		{"name":"e","in":"query","allowEmptyValue":true,"schema":{"type":"integer"}},
		{"name":"n","in":"query","schema":{"type":"number","nullable":true}},
		{"name":"multi","in":"query","schema":{"type":"array","items":{"type":"integer"}}},
		{"name":"pipes","in":"query","style":"pipeDelimited","schema":{"type":"array","items":{"type":"integer"},"minItems":2}},
		{"name":"obj","in":"query","style":"deepObject","schema":{"type":"object","required":["a"]}},
		{"name":"filter","in":"query","content":{"application/json":{"schema":{"type":"object","required":["a"]}}}},
		{"name":"anyof","in":"query","schema":{"anyOf":[{"type":"integer"},{"type":"string","enum":["max"]}]}},
		{"name":"enumonly","in":"query","schema":{"enum":[1,2]}},
		{"name":"X-Trace","in":"header","required":true,"schema":{"type":"array","items":{"type":"integer"},"maxItems":2}},
		{"name":"Accept","in":"header","required":true,"schema":{"type":"integer"}},
		{"name":"sid","in":"cookie","required":true,"schema":{"type":"integer"}}
	]}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, query string
		header            http.Header
		rule, msg         string
	}{
		{"ok", "/p/1,2/true", "q=ab&e=&n=1.5&multi=1&multi=2&pipes=1|2&filter={\"a\":1}&anyof=max&enumonly=2", nil, "", ""},
		{"path array item", "/p/1,x/true", "q=ab", nil, "type", `path parameter "ids"[1]: "x" is not of type integer`},
		{"path boolean", "/p/1/yes", "q=ab", nil, "type", `path parameter "flag": "yes" is not of type boolean`},
		{"required query", "/p/1/true", "", nil, "required", `query parameter "q": required parameter is missing`},
		{"present but empty", "/p/1/true", "q=", nil, "minLength", `query parameter "q": length 0 is less than minLength 2`},
		{"empty allowed", "/p/1/true", "q=ab&e=", nil, "", ""},
		{"empty nullable is null", "/p/1/true", "q=ab&n=", nil, "", ""},
		{"empty integer", "/p/1/true", "q=ab&multi=", nil, "type", `query parameter "multi"[0]: "" is not of type integer`},
		{"no NaN", "/p/1/true", "q=ab&n=NaN", nil, "type", `query parameter "n": "NaN" is not of type number or null`},
		{"no plus sign", "/p/1/true", "q=ab&n=%2B1", nil, "type", `query parameter "n": "+1" is not of type number or null`},
		{"exploded array", "/p/1/true", "q=ab&multi=1&multi=x", nil, "type", `query parameter "multi"[1]: "x" is not of type integer`},
		{"pipe array", "/p/1/true", "q=ab&pipes=1", nil, "minItems", `query parameter "pipes": array has 1 items, fewer than minItems 2`},
		{"deepObject unchecked", "/p/1/true", "q=ab&obj[b]=1", nil, "", ""},
		{"content json", "/p/1/true", "q=ab&filter={}", nil, "required", `query parameter "filter".a: required property is missing`},
		{"content bad json", "/p/1/true", "q=ab&filter={", nil, "json", `query parameter "filter": invalid JSON: unexpected end of JSON input`},
		{"anyOf coerces", "/p/1/true", "q=ab&anyof=7", nil, "", ""},
		{"anyOf denied", "/p/1/true", "q=ab&anyof=min", nil, "anyOf", `query parameter "anyof": matches none of the anyOf schemas (closest: query parameter "anyof": "min" is not one of "max")`},
		{"enum types coerce", "/p/1/true", "q=ab&enumonly=3", nil, "enum", `query parameter "enumonly": 3 is not one of 1, 2`},
		{"header array", "/p/1/true", "q=ab", http.Header{"X-Trace": {"1, 2", "3"}}, "maxItems", `header parameter "X-Trace": array has 3 items, more than maxItems 2`},
		{"header simple array", "/p/1/true", "q=ab", http.Header{"X-Trace": {"1,y"}}, "type", `header parameter "X-Trace"[1]: "y" is not of type integer`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			h := tc.header
			if h == nil {
				h = http.Header{"X-Trace": {"1"}}
			}
			err = d.Validate(&Request{Method: "GET", Path: tc.path, Query: q, Header: h})
			checkResult(t, err, tc.rule, tc.msg)
		})
	}
}

func TestMissingRequiredHeader(t *testing.T) {
	d, err := Parse([]byte(`{"openapi":"3.1.0","paths":{"/":{"get":{"parameters":[{"name":"X-Id","in":"header","required":true,"schema":{"type":"string"}}]}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	checkResult(t, d.Validate(&Request{Method: "GET"}), "required", `header parameter "X-Id": required parameter is missing`)
	checkResult(t, d.Validate(&Request{Method: "GET", Header: http.Header{"X-Id": {"a"}}}), "", "")
	if ve := d.Validate(&Request{Method: "GET", Path: "/"}).(*ValidationError); ve.Location != "header.X-Id" {
		t.Errorf("Location = %q, want header.X-Id", ve.Location)
	}
}
