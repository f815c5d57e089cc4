package openapi

import (
	"net/http"
	"net/url"
	"testing"
)

func BenchmarkValidate(b *testing.B) {
	d := loadTodo(b)
	for _, bc := range []struct {
		name string
		req  Request
	}{
		{"get", Request{Method: "GET", Path: "/todos/42"}},
		{"query", Request{Method: "GET", Path: "/todos", Query: url.Values{"limit": {"10"}, "tags": {"a,b"}, "sort": {"due"}}, Header: http.Header{"X-Tenant": {"acme"}}}},
		{"body", Request{Method: "POST", Path: "/todos", Header: jsonHeader("application/json"),
			Body: []byte(`{"title":"buy milk","done":false,"due":"2026-12-01","priority":"high","tags":["shop","home"],"items":[{"name":"oat milk","qty":2},{"name":"bread","qty":1}]}`)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := d.Validate(&bc.req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkMatch(b *testing.B) {
	d := loadTodo(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := d.Match("GET", "/todos/42"); !ok {
			b.Fatal("no match")
		}
	}
}

func BenchmarkParse(b *testing.B) {
	data := []byte(`{}`)
	d := loadTodo(b)
	data = d.raw
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}
