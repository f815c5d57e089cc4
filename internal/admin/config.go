package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/store"
)

// A service's configuration: PUT and GET /v1/services/{name}/config, DELETE
// /v1/services/{name}/config/{key}.
//
// A secret's value travels from the request body to the store and nowhere
// else: never into a response, a log line or an error message. Errors name
// keys, sizes and rules, never values; and an error from below that happens
// to contain a secret value is replaced by a generic one.

// keyRule is the rule for configuration keys, as errors state it.
var keyRule = fmt.Sprintf("a key is a letter or _ followed by up to %d letters, digits or _", store.MaxConfigKey-1)

// maxKeyShown bounds how much of an invalid key an error repeats.
const maxKeyShown = 64

// configBodyHint says what a PUT body looks like.
const configBodyHint = `send {"values": {"KEY": "VALUE"}, "secret": false}`

func (h *handler) setConfig(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var req api.ConfigRequest
	if err := decodeConfigRequest(w, r, &req); err != nil {
		writeErr(w, err)
		return
	}
	if err := checkConfigValues(req.Values); err != nil {
		writeErr(w, err)
		return
	}
	svc, _, err := h.opts.Store.Service(r.Context(), name)
	if err != nil {
		writeErr(w, notFound(err, name))
		return
	}
	if err := h.opts.Store.SetConfig(r.Context(), name, req.Values, req.Secret); err != nil {
		writeErr(w, configStoreError(err, name, "", req.Values, req.Secret))
		return
	}
	what := "set"
	if req.Secret {
		what = "set secret"
	}
	h.opts.Store.AppendLog(api.LogEntry{Service: name, Version: svc.Version, Stream: api.StreamMote, Level: "info",
		Message: fmt.Sprintf("config: %s %s", what, strings.Join(slices.Sorted(maps.Keys(req.Values)), ", "))})
	w.WriteHeader(http.StatusNoContent)
}

func (h *handler) listConfig(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if _, _, err := h.opts.Store.Service(r.Context(), name); err != nil {
		writeErr(w, notFound(err, name))
		return
	}
	entries, err := h.opts.Store.Config(r.Context(), name)
	if err != nil {
		writeErr(w, configStoreError(err, name, "", nil, false))
		return
	}
	out := make([]api.ConfigEntry, 0, len(entries))
	for _, e := range entries {
		out = append(out, redacted(e))
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *handler) deleteConfig(w http.ResponseWriter, r *http.Request) {
	name, key := r.PathValue("name"), r.PathValue("key")
	svc, _, err := h.opts.Store.Service(r.Context(), name)
	if err != nil {
		writeErr(w, notFound(err, name))
		return
	}
	if !store.ValidConfigKey(key) {
		writeErr(w, invalidKey(key))
		return
	}
	if err := h.opts.Store.DeleteConfig(r.Context(), name, key); err != nil {
		writeErr(w, configStoreError(err, name, key, nil, false))
		return
	}
	h.opts.Store.AppendLog(api.LogEntry{Service: name, Version: svc.Version, Stream: api.StreamMote, Level: "info",
		Message: "config: removed " + key})
	w.WriteHeader(http.StatusNoContent)
}

// redacted is the API's view of a stored entry: a secret's value is "".
func redacted(e store.ConfigEntry) api.ConfigEntry {
	out := api.ConfigEntry{Key: e.Key, Value: e.Value, Secret: e.Secret, Updated: e.Updated}
	if e.Secret {
		out.Value = ""
	}
	return out
}

// decodeConfigRequest reads a PUT body. Unlike decodeJSON, its errors
// never quote the body: it may hold secrets.
func decodeConfigRequest(w http.ResponseWriter, r *http.Request, req *api.ConfigRequest) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(req)
	if err == nil {
		return nil
	}
	var (
		tooBig *http.MaxBytesError
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
		why    string
	)
	switch {
	case errors.As(err, &tooBig):
		return api.Errorf(api.CodeBodyTooLarge, "the request body is over %d bytes", maxJSONBody)
	case errors.Is(err, io.EOF):
		why = "the body is empty"
	case errors.Is(err, io.ErrUnexpectedEOF):
		why = "the body ends before its JSON does"
	case errors.As(err, &syntax):
		why = fmt.Sprintf("the body is not valid JSON (at byte %d)", syntax.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "the body"
		}
		want := "another type"
		if typ.Type != nil {
			want = jsonKind(typ.Type.Kind().String())
		}
		why = fmt.Sprintf("%s must be %s, not a JSON %s", field, want, typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// The field's name, not a value.
		why = "the body has an " + strings.TrimPrefix(err.Error(), "json: ")
	default:
		why = "the body is not a config request"
	}
	return &api.Error{Code: api.CodeBadRequest, Status: http.StatusBadRequest, Message: why, Hint: configBodyHint}
}

// jsonKind names a Go kind the way a JSON user thinks of it.
func jsonKind(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "map", "struct":
		return "an object"
	}
	return "a " + kind
}

// checkConfigValues validates a PUT's values before anything is stored:
// at least one, every key valid, every value within the limit. The error
// lists every problem, naming keys and sizes but no value.
func checkConfigValues(values map[string]string) error {
	if len(values) == 0 {
		return &api.Error{Code: api.CodeBadRequest, Status: http.StatusBadRequest,
			Message: "no values to set", Hint: configBodyHint}
	}
	var problems []string
	for _, k := range slices.Sorted(maps.Keys(values)) {
		switch {
		case !store.ValidConfigKey(k):
			problems = append(problems, fmt.Sprintf("invalid config key %s: %s", showKey(k), keyRule))
		case len(values[k]) > store.MaxConfigValue:
			problems = append(problems, fmt.Sprintf("the value of %s is %d bytes, over the limit of %d", k, len(values[k]), store.MaxConfigValue))
		}
	}
	switch len(problems) {
	case 0:
		return nil
	case 1:
		return api.Errorf(api.CodeBadRequest, "%s", problems[0])
	}
	e := api.Errorf(api.CodeBadRequest, "%d problems with the config values", len(problems))
	e.Details = problems
	return e
}

func invalidKey(key string) *api.Error {
	return api.Errorf(api.CodeBadRequest, "invalid config key %s: %s", showKey(key), keyRule)
}

// showKey quotes a key for an error, shortened when long.
func showKey(k string) string {
	if len(k) > maxKeyShown {
		return strconv.Quote(k[:maxKeyShown]) + "..."
	}
	return strconv.Quote(k)
}

// configStoreError turns an error of the store's config methods into an
// API error. When the values are secret, an error whose text contains one
// of them says only that the operation failed.
func configStoreError(err error, service, key string, values map[string]string, secret bool) *api.Error {
	msg := err.Error()
	if secret {
		for _, v := range values {
			if v != "" && strings.Contains(msg, v) {
				msg = fmt.Sprintf("the store could not set the configuration of %s (the reason is withheld: it quoted a secret)", service)
				break
			}
		}
	}
	switch {
	case errors.Is(err, store.ErrNotFound) && key != "":
		return &api.Error{Code: api.CodeNotFound, Status: http.StatusNotFound,
			Message: fmt.Sprintf("service %s has no config key %s", service, key),
			Hint:    "list its configuration with: mote config ls " + service}
	case errors.Is(err, store.ErrNotFound):
		return &api.Error{Code: api.CodeNotFound, Status: http.StatusNotFound,
			Message: "no service named " + service, Hint: "list services with: mote ls"}
	case errors.Is(err, store.ErrInvalidKey), errors.Is(err, store.ErrInvalidName):
		return api.Errorf(api.CodeBadRequest, "%s", msg)
	case errors.Is(err, store.ErrTooLarge):
		return api.Errorf(api.CodeBodyTooLarge, "%s", msg)
	}
	return api.Errorf(api.CodeInternal, "%s", msg)
}
