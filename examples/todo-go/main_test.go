package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mote-run/mote/guest"
	"github.com/mote-run/mote/guest/guesttest"
)

// do sends a request to the service at /todo-go and decodes its JSON answer
// into out (when not nil).
func do(t *testing.T, method, path, body string, out any) *http.Response {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	resp := guesttest.Do(t, guest.StripRoute(newMux()), "/todo-go", httptest.NewRequest(method, "/todo-go"+path, r))
	raw, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %d %q is not JSON: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp
}

func TestCRUD(t *testing.T) {
	host := guesttest.Install(t, nil)

	var a, b Todo
	resp := do(t, "POST", "/todos", `{"title": "milk"}`, &a)
	if resp.StatusCode != 201 || a.Title != "milk" || a.Done || len(a.ID) != 16 || a.Created.IsZero() {
		t.Fatalf("create: %d %+v", resp.StatusCode, a)
	}
	if loc := resp.Header.Get("Location"); loc != "/todo-go/todos/"+a.ID {
		t.Errorf("Location = %q", loc)
	}
	do(t, "POST", "/todos", `{"title": "eggs", "done": true}`, &b)

	var got Todo
	if resp := do(t, "GET", "/todos/"+a.ID, "", &got); resp.StatusCode != 200 || got != a {
		t.Errorf("get: %d %+v, want %+v", resp.StatusCode, got, a)
	}
	var all struct{ Todos []Todo }
	if do(t, "GET", "/todos", "", &all); len(all.Todos) != 2 || all.Todos[0].ID != a.ID || all.Todos[1] != b {
		t.Errorf("list: %+v, want %s then %s", all.Todos, a.ID, b.ID)
	}

	if resp := do(t, "PUT", "/todos/"+a.ID, `{"title": "oat milk", "done": true}`, &got); resp.StatusCode != 200 || got.Title != "oat milk" || !got.Done || got.Created != a.Created {
		t.Errorf("update: %d %+v", resp.StatusCode, got)
	}
	if resp := do(t, "DELETE", "/todos/"+b.ID, "", nil); resp.StatusCode != 204 {
		t.Errorf("delete: %d", resp.StatusCode)
	}
	if do(t, "GET", "/todos", "", &all); len(all.Todos) != 1 || all.Todos[0].Title != "oat milk" {
		t.Errorf("list after delete: %+v", all.Todos)
	}
	if kv := host.KV(); len(kv) != 1 || !strings.Contains(string(kv["todo/"+a.ID]), `"oat milk"`) {
		t.Errorf("store: %q", kv)
	}
}

func TestErrors(t *testing.T) {
	guesttest.Install(t, nil)
	var a Todo
	do(t, "POST", "/todos", `{"title": "x"}`, &a)
	tests := []struct {
		method, path, body string
		status             int
		code, message      string
	}{
		{"POST", "/todos", `{"done": true}`, 400, "invalid_todo", "title is required"},
		{"POST", "/todos", `{"title": "  "}`, 400, "invalid_todo", "title must not be blank"},
		{"POST", "/todos", `{"title": "` + strings.Repeat("é", 201) + `"}`, 400, "invalid_todo", "longer than 200"},
		{"POST", "/todos", `{"title": "x", "owner": "me"}`, 400, "invalid_todo", `unknown field "owner"`},
		{"POST", "/todos", `{"title": 3}`, 400, "invalid_todo", "cannot unmarshal"},
		{"POST", "/todos", `{"title": "x"} {}`, 400, "invalid_todo", "more than one JSON value"},
		{"POST", "/todos", `{"title": "x"}]`, 400, "invalid_todo", "data after the JSON object"},
		{"POST", "/todos", `not json`, 400, "invalid_todo", "one JSON object"},
		{"POST", "/todos", ``, 400, "invalid_todo", "EOF"},
		{"POST", "/todos", `{"title": "` + strings.Repeat("x", 20000) + `"}`, 413, "too_large", "over 16384 bytes"},
		{"PUT", "/todos/" + a.ID, `{}`, 400, "invalid_todo", "title is required"},
		{"GET", "/todos/0123456789abcdef", "", 404, "not_found", `no todo "0123456789abcdef"`},
		{"GET", "/todos/a%2Fb", "", 404, "not_found", `no todo "a/b"`},
		{"PUT", "/todos/nope", `{"title": "x"}`, 404, "not_found", `no todo "nope"`},
		{"DELETE", "/todos/nope", "", 404, "not_found", `no todo "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path+" "+tt.body[:min(len(tt.body), 20)], func(t *testing.T) {
			var e struct {
				Error struct{ Code, Message string }
			}
			resp := do(t, tt.method, tt.path, tt.body, &e)
			if resp.StatusCode != tt.status || e.Error.Code != tt.code || !strings.Contains(e.Error.Message, tt.message) {
				t.Errorf("got %d %+v, want %d %s %q", resp.StatusCode, e.Error, tt.status, tt.code, tt.message)
			}
		})
	}
	if resp := do(t, "PATCH", "/todos/"+a.ID, "", nil); resp.StatusCode != 405 {
		t.Errorf("PATCH: %d, want 405", resp.StatusCode)
	}
}
