// Command todo-go is a JSON API over the key-value store, written with
// mote's Go SDK and Go 1.22's ServeMux patterns:
//
//	POST   /todos       {"title": "...", "done": false}  → 201 and the todo
//	GET    /todos                                        → {"todos": [...]}
//	GET    /todos/{id}                                   → the todo
//	PUT    /todos/{id}  {"title": "...", "done": true}   → the todo
//	DELETE /todos/{id}                                   → 204
//
// Paths are below the service's route (/todo-go/todos): guest.StripRoute
// takes the route off, so the patterns do not repeat it. Bad input is a 400
// with a JSON body in mote's error shape, {"error": {"code", "message"}}.
//
// Rebuild (from this directory):
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -ldflags="-s -w" -o todo.wasm .
package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mote-run/mote/guest"
	"github.com/mote-run/mote/guest/kv"
	"github.com/mote-run/mote/guest/log"
)

// Limits on what a client may send.
const (
	maxBody  = 16 << 10 // bytes in a request body
	maxTitle = 200      // characters in a title
)

// prefix starts every todo's key: "todo/<id>".
const prefix = "todo/"

// Todo is one item, stored as JSON under prefix+ID.
type Todo struct {
	ID      string    `json:"id"`
	Title   string    `json:"title"`
	Done    bool      `json:"done"`
	Created time.Time `json:"created"`
}

// input is what POST and PUT accept.
type input struct {
	Title *string `json:"title"`
	Done  bool    `json:"done"`
}

func init() {
	guest.Serve(guest.StripRoute(newMux()))
}

func main() {} // a reactor's main is never called

func newMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /todos", create)
	mux.HandleFunc("GET /todos", list)
	mux.HandleFunc("GET /todos/{id}", get)
	mux.HandleFunc("PUT /todos/{id}", update)
	mux.HandleFunc("DELETE /todos/{id}", remove)
	return mux
}

func create(w http.ResponseWriter, r *http.Request) {
	in, ok := readInput(w, r)
	if !ok {
		return
	}
	t := Todo{ID: newID(), Title: *in.Title, Done: in.Done, Created: time.Now().UTC()}
	if !store(w, r, t) {
		return
	}
	w.Header().Set("Location", guest.Route(r)+"/todos/"+t.ID)
	reply(w, http.StatusCreated, t)
}

func list(w http.ResponseWriter, r *http.Request) {
	keys, err := kv.List(prefix)
	if err != nil {
		failed(w, r, err)
		return
	}
	todos := make([]Todo, 0, len(keys))
	for _, k := range keys {
		t, err := load(k[len(prefix):])
		if errors.Is(err, guest.ErrNotFound) {
			continue // deleted since the listing
		}
		if err != nil {
			failed(w, r, err)
			return
		}
		todos = append(todos, t)
	}
	slices.SortFunc(todos, func(a, b Todo) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	reply(w, http.StatusOK, map[string][]Todo{"todos": todos})
}

func get(w http.ResponseWriter, r *http.Request) {
	if t, ok := find(w, r); ok {
		reply(w, http.StatusOK, t)
	}
}

func update(w http.ResponseWriter, r *http.Request) {
	t, ok := find(w, r)
	if !ok {
		return
	}
	in, ok := readInput(w, r)
	if !ok {
		return
	}
	t.Title, t.Done = *in.Title, in.Done
	if store(w, r, t) {
		reply(w, http.StatusOK, t)
	}
}

func remove(w http.ResponseWriter, r *http.Request) {
	if _, ok := find(w, r); !ok {
		return
	}
	if err := kv.Delete(prefix + r.PathValue("id")); err != nil {
		failed(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// find loads the todo the path names, or answers 404 (or 500) and reports
// false.
func find(w http.ResponseWriter, r *http.Request) (Todo, bool) {
	id := r.PathValue("id")
	t, err := load(id)
	if errors.Is(err, guest.ErrNotFound) || errors.Is(err, errBadID) {
		reply(w, http.StatusNotFound, errorBody("not_found", fmt.Sprintf("no todo %q", id)))
		return Todo{}, false
	}
	if err != nil {
		failed(w, r, err)
		return Todo{}, false
	}
	return t, true
}

var errBadID = errors.New("not a todo id")

// load reads the todo id.
func load(id string) (Todo, error) {
	if len(id) != 16 || strings.Trim(id, "0123456789abcdef") != "" {
		return Todo{}, errBadID
	}
	v, err := kv.Get(prefix + id)
	if err != nil {
		return Todo{}, err
	}
	var t Todo
	if err := json.Unmarshal(v, &t); err != nil {
		return Todo{}, fmt.Errorf("todo %s is not valid JSON: %w", id, err)
	}
	return t, nil
}

// store writes t, or answers 500 and reports false.
func store(w http.ResponseWriter, r *http.Request, t Todo) bool {
	v, err := json.Marshal(t)
	if err == nil {
		err = kv.Set(prefix+t.ID, v, 0)
	}
	if err != nil {
		failed(w, r, err)
		return false
	}
	return true
}

// readInput decodes and checks a POST or PUT body, or answers 400 and
// reports false.
func readInput(w http.ResponseWriter, r *http.Request) (input, bool) {
	var in input
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(&in)
	if err == nil && dec.More() {
		err = errors.New("more than one JSON value")
	} else if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			err = errors.New("data after the JSON object")
		}
	}
	var msg string
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		reply(w, http.StatusRequestEntityTooLarge, errorBody("too_large", fmt.Sprintf("the body is over %d bytes", maxBody)))
		return input{}, false
	case err != nil:
		msg = "the body must be one JSON object like {\"title\": \"...\", \"done\": false}: " + err.Error()
	case in.Title == nil:
		msg = "title is required"
	case strings.TrimSpace(*in.Title) == "":
		msg = "title must not be blank"
	case utf8.RuneCountInString(*in.Title) > maxTitle:
		msg = fmt.Sprintf("title is longer than %d characters", maxTitle)
	default:
		return in, true
	}
	reply(w, http.StatusBadRequest, errorBody("invalid_todo", msg))
	return input{}, false
}

// newID returns 16 random hex digits.
func newID() string {
	var b [8]byte
	rand.Read(b[:]) // cannot fail since Go 1.24
	return hex.EncodeToString(b[:])
}

// failed answers 500 for a store error and logs it.
func failed(w http.ResponseWriter, r *http.Request, err error) {
	log.Error("store failed", "err", err, "method", r.Method, "path", r.URL.Path)
	reply(w, http.StatusInternalServerError, errorBody("store_failed", err.Error()))
}

// errorBody is the shape of mote's own errors: {"error": {"code", "message"}}.
func errorBody(code, msg string) any {
	return map[string]map[string]string{"error": {"code": code, "message": msg}}
}

// reply writes v as JSON with status.
func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
