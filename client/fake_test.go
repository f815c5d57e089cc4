package client

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
)

// fakeToken is the admin token of every fake node. Tests check that it
// never shows up in an error.
const fakeToken = "s3cr3t-admin-token"

// fakeNode is an in-memory admin API faithful to /work/notes/admin-api.md:
// the routes, statuses, bearer auth (but on /healthz and /readyz), JSON
// error bodies for unknown routes and wrong methods, NDJSON logs that
// follow, and an invoke route standing in for the gateway. It records
// every request it gets.
type fakeNode struct {
	srv *httptest.Server
	mux *http.ServeMux

	mu        sync.Mutex
	seen      []seenRequest
	ready     bool
	blobs     map[string][]byte
	services  map[string]*fakeService
	instances []api.Instance
	logs      map[string][]api.LogEntry
	logWake   chan struct{} // closed and replaced when a log line is added
	followers int           // log streams being followed now
	// putStatus makes PUT of a digest fail with this error code.
	putStatus map[string]string
	// blobGate, when set, sees every blob request before it is served.
	blobGate func()
}

type fakeService struct {
	svc      api.Service
	versions []api.Version // newest first
	config   map[string]api.ConfigEntry
}

// seenRequest is what the fake records of a request.
type seenRequest struct {
	Method, Path, RawQuery string
	Auth, UserAgent        string
	ContentType, Accept    string
	ContentLength          int64
	Header                 http.Header
	Body                   []byte
}

func newFakeNode(t *testing.T) *fakeNode {
	t.Helper()
	f := &fakeNode{
		mux:       http.NewServeMux(),
		ready:     true,
		blobs:     map[string][]byte{},
		services:  map[string]*fakeService{},
		logs:      map[string][]api.LogEntry{},
		logWake:   make(chan struct{}),
		putStatus: map[string]string{},
	}
	f.routes()
	f.srv = httptest.NewServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

// client returns a Client for the fake with the right token.
func (f *fakeNode) client(t *testing.T, opts ...Option) *Client {
	t.Helper()
	c, err := New(f.srv.URL, append([]Option{WithToken(fakeToken)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// requests returns the requests seen so far and forgets them.
func (f *fakeNode) requests() []seenRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.seen
	f.seen = nil
	return s
}

func (f *fakeNode) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	f.mu.Lock()
	f.seen = append(f.seen, seenRequest{
		Method: r.Method, Path: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery,
		Auth: r.Header.Get("Authorization"), UserAgent: r.UserAgent(),
		ContentType: r.Header.Get("Content-Type"), Accept: r.Header.Get("Accept"),
		ContentLength: r.ContentLength, Header: r.Header.Clone(), Body: body,
	})
	f.mu.Unlock()

	if r.URL.Path != "/healthz" && r.URL.Path != "/readyz" && r.Header.Get("Authorization") != "Bearer "+fakeToken {
		writeError(w, api.Errorf(api.CodeUnauthorized, "missing or wrong admin token"))
		return
	}
	if _, pattern := f.mux.Handler(r); pattern == "" {
		// ServeMux answers unknown routes and wrong methods in plain text;
		// the admin API answers in JSON.
		rec := httptest.NewRecorder()
		f.mux.ServeHTTP(rec, r)
		switch rec.Code {
		case http.StatusMethodNotAllowed:
			w.Header().Set("Allow", rec.Header().Get("Allow"))
			writeError(w, api.Errorf(api.CodeMethodNotAllowed, "%s is not allowed on %s", r.Method, r.URL.Path))
			return
		case http.StatusNotFound:
			writeError(w, api.Errorf(api.CodeNotFound, "no route %s", r.URL.Path))
			return
		}
	}
	f.mux.ServeHTTP(w, r)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, e *api.Error) {
	writeJSON(w, e.Status, api.ErrorBody{Error: e})
}

func (f *fakeNode) routes() {
	m := f.mux
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "ok")
	})
	m.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		ready := f.ready
		f.mu.Unlock()
		if !ready {
			writeError(w, api.Errorf(api.CodeNotReady, "the store is starting"))
			return
		}
		_, _ = io.WriteString(w, "ready")
	})
	m.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = io.WriteString(w, "# TYPE mote_services gauge\nmote_services 1\n")
	})
	m.HandleFunc("GET /v1/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"openapi": "3.1.0", "info": map[string]string{"title": "mote admin API"}})
	})
	m.HandleFunc("GET /v1/info", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		n := len(f.services)
		f.mu.Unlock()
		writeJSON(w, 200, api.NodeInfo{Version: "v0.1.0", GatewayURL: "http://127.0.0.1:8080",
			AdminURL: f.srv.URL, DataDir: "/data", Started: time.Unix(1700000000, 0).UTC(), Services: n})
	})
	m.HandleFunc("HEAD /v1/blobs/{digest}", func(w http.ResponseWriter, r *http.Request) {
		f.gate()
		f.mu.Lock()
		b, ok := f.blobs[r.PathValue("digest")]
		f.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	})
	m.HandleFunc("PUT /v1/blobs/{digest}", f.putBlob)
	m.HandleFunc("POST /v1/deploy", f.deploy)
	m.HandleFunc("GET /v1/services", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		out := []api.Service{}
		for _, s := range f.services {
			out = append(out, s.svc)
		}
		slices.SortFunc(out, func(a, b api.Service) int { return strings.Compare(a.Name, b.Name) })
		writeJSON(w, 200, out)
	})
	m.HandleFunc("GET /v1/services/{name}", func(w http.ResponseWriter, r *http.Request) {
		f.withService(w, r, func(s *fakeService) {
			writeJSON(w, 200, api.ServiceDetail{Service: s.svc, Versions: s.versions, Instances: f.instancesOf(s.svc.Name)})
		})
	})
	m.HandleFunc("DELETE /v1/services/{name}", func(w http.ResponseWriter, r *http.Request) {
		f.withService(w, r, func(s *fakeService) {
			delete(f.services, s.svc.Name)
			w.WriteHeader(http.StatusNoContent)
		})
	})
	m.HandleFunc("GET /v1/services/{name}/versions", func(w http.ResponseWriter, r *http.Request) {
		f.withService(w, r, func(s *fakeService) { writeJSON(w, 200, s.versions) })
	})
	m.HandleFunc("PUT /v1/services/{name}/config", f.setConfig)
	m.HandleFunc("GET /v1/services/{name}/config", func(w http.ResponseWriter, r *http.Request) {
		f.withService(w, r, func(s *fakeService) {
			out := []api.ConfigEntry{}
			for _, k := range slices.Sorted(maps.Keys(s.config)) {
				e := s.config[k]
				if e.Secret {
					e.Value = ""
				}
				out = append(out, e)
			}
			writeJSON(w, 200, out)
		})
	})
	m.HandleFunc("DELETE /v1/services/{name}/config/{key}", func(w http.ResponseWriter, r *http.Request) {
		f.withService(w, r, func(s *fakeService) {
			k := r.PathValue("key")
			if _, ok := s.config[k]; !ok {
				writeError(w, api.Errorf(api.CodeNotFound, "service %s has no config key %s", s.svc.Name, k))
				return
			}
			delete(s.config, k)
			w.WriteHeader(http.StatusNoContent)
		})
	})
	m.HandleFunc("GET /v1/services/{name}/logs", f.serveLogs)
	m.HandleFunc("/v1/services/{name}/invoke/{path...}", f.invoke)
	m.HandleFunc("GET /v1/instances", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		writeJSON(w, 200, f.instancesOf(r.URL.Query().Get("service")))
	})
}

func (f *fakeNode) gate() {
	f.mu.Lock()
	g := f.blobGate
	f.mu.Unlock()
	if g != nil {
		g()
	}
}

// withService calls fn with the named service under f.mu, or answers 404.
func (f *fakeNode) withService(w http.ResponseWriter, r *http.Request, fn func(*fakeService)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.services[r.PathValue("name")]
	if !ok {
		writeError(w, api.Errorf(api.CodeNotFound, "service %q not found", r.PathValue("name")))
		return
	}
	fn(s)
}

// instancesOf returns the instances of service, or all when it is "".
// The caller holds f.mu.
func (f *fakeNode) instancesOf(service string) []api.Instance {
	out := []api.Instance{}
	for _, in := range f.instances {
		if service == "" || in.Service == service {
			out = append(out, in)
		}
	}
	return out
}

func (f *fakeNode) putBlob(w http.ResponseWriter, r *http.Request) {
	f.gate()
	d := r.PathValue("digest")
	if checkDigest(d) != nil {
		writeError(w, api.Errorf(api.CodeBadRequest, "invalid digest %q", d))
		return
	}
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	if code, ok := f.putStatus[d]; ok {
		writeError(w, api.Errorf(code, "refused %s", d))
		return
	}
	if Digest(body) != d {
		writeError(w, api.Errorf(api.CodeBadRequest, "digest mismatch: body is %s", Digest(body)))
		return
	}
	status := http.StatusCreated
	if _, ok := f.blobs[d]; ok {
		status = http.StatusOK
	}
	f.blobs[d] = body
	writeJSON(w, status, api.BlobInfo{Digest: d, Size: int64(len(body))})
}

// parseFakeManifest reads name and route from `key = "value"` lines, which
// is all of mote.toml the fake needs.
func parseFakeManifest(m string) (name, route string, problems []string) {
	for line := range strings.Lines(m) {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v = strings.Trim(strings.TrimSpace(v), `"`)
		switch strings.TrimSpace(k) {
		case "name":
			name = v
		case "route":
			route = v
		}
	}
	if name == "" {
		problems = append(problems, "line 1: name: missing")
	} else if checkName(name) != nil {
		problems = append(problems, fmt.Sprintf("name: %q is not [a-z0-9-]{1,63}", name))
	}
	if route == "" {
		route = "/" + name
	}
	return name, route, problems
}

func (f *fakeNode) deploy(w http.ResponseWriter, r *http.Request) {
	var req api.DeployRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, api.Errorf(api.CodeBadRequest, "bad JSON: %v", err))
		return
	}
	name, route, problems := parseFakeManifest(req.Manifest)
	if len(problems) > 0 {
		e := api.Errorf(api.CodeInvalidManifest, "mote.toml has %d problems", len(problems))
		e.Details = problems
		writeError(w, e)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	paths := slices.Sorted(func(yield func(string) bool) {
		for p := range req.Files {
			if !yield(p) {
				return
			}
		}
	})
	artifact := req.Module
	var size int64
	for _, d := range append([]string{req.Module}, mapValues(req.Files, paths)...) {
		b, ok := f.blobs[d]
		if !ok {
			writeError(w, api.Errorf(api.CodeNotFound, "blob %s not found; upload it first", d))
			return
		}
		size += int64(len(b))
	}
	for _, p := range paths {
		artifact += "\n" + p + "=" + req.Files[p]
	}
	artifact = Digest([]byte(artifact))
	for _, s := range f.services {
		if s.svc.Name != name && s.svc.Route == route {
			writeError(w, api.Errorf(api.CodeConflict, "route %s is taken by service %s", route, s.svc.Name))
			return
		}
	}
	s, ok := f.services[name]
	if ok && s.versions[0].Digest == artifact && s.versions[0].Manifest == req.Manifest {
		writeJSON(w, http.StatusOK, api.DeployResult{Service: s.svc, Version: s.versions[0], Unchanged: true})
		return
	}
	now := time.Now().UTC()
	if !ok {
		s = &fakeService{svc: api.Service{Name: name, Created: now, ABI: api.ABIWAGI}}
		f.services[name] = s
	}
	n := s.svc.Latest + 1
	v := api.Version{Service: name, Number: n, Digest: artifact, Module: req.Module, Files: req.Files,
		ABI: api.ABIWAGI, Manifest: req.Manifest, Size: size, Created: now}
	s.versions = append([]api.Version{v}, s.versions...)
	s.svc.Route, s.svc.Version, s.svc.Latest, s.svc.Digest, s.svc.Updated = route, n, n, artifact, now
	s.svc.Traffic = []api.TrafficSplit{{Version: n, Weight: 100}}
	writeJSON(w, http.StatusCreated, api.DeployResult{Service: s.svc, Version: v})
}

func mapValues(m map[string]string, keys []string) []string {
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, m[k])
	}
	return out
}

// addLog appends a line to a service's logs and wakes followers.
func (f *fakeNode) addLog(e api.LogEntry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logs[e.Service] = append(f.logs[e.Service], e)
	close(f.logWake)
	f.logWake = make(chan struct{})
}

// following returns how many log streams are open.
func (f *fakeNode) following() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.followers
}

func (f *fakeNode) serveLogs(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	q := r.URL.Query()
	tail, _ := strconv.Atoi(q.Get("tail"))
	var since time.Time
	if s := q.Get("since"); s != "" {
		var err error
		if since, err = time.Parse(time.RFC3339, s); err != nil {
			writeError(w, api.Errorf(api.CodeBadRequest, "since: %v", err))
			return
		}
	}
	f.mu.Lock()
	if _, ok := f.services[name]; !ok {
		f.mu.Unlock()
		writeError(w, api.Errorf(api.CodeNotFound, "service %q not found", name))
		return
	}
	var first []api.LogEntry
	for _, e := range f.logs[name] {
		if !e.Time.Before(since) {
			first = append(first, e)
		}
	}
	sent := len(f.logs[name])
	wake := f.logWake
	f.followers++ // counts every open stream, followed or not
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.followers--
		f.mu.Unlock()
	}()
	if tail > 0 && len(first) > tail {
		first = first[len(first)-tail:]
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	for _, e := range first {
		writeLogLine(w, e)
	}
	if q.Get("follow") != "true" {
		return
	}
	rc := http.NewResponseController(w)
	for {
		_ = rc.Flush()
		select {
		case <-wake:
		case <-r.Context().Done():
			return
		}
		f.mu.Lock()
		more := slices.Clone(f.logs[name][sent:])
		sent = len(f.logs[name])
		wake = f.logWake
		f.mu.Unlock()
		for _, e := range more {
			writeLogLine(w, e)
		}
	}
}

// writeLogLine writes e as an NDJSON line; a Message of "<garbage>" writes
// a line that is not JSON instead.
func writeLogLine(w io.Writer, e api.LogEntry) {
	if e.Message == "<garbage>" {
		_, _ = io.WriteString(w, "this is not json\n")
		return
	}
	_ = json.NewEncoder(w).Encode(e)
}

// invoke stands in for the gateway behind the admin API: an echo service
// whose answer shows what it received. Paths with a meaning:
//
//	/fail       a platform error (502 guest_failed), as the gateway writes it
//	/own-error  the service's own JSON error, with a code mote does not know
//	?status=N   answer with status N
func (f *fakeNode) invoke(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	_, ok := f.services[r.PathValue("name")]
	f.mu.Unlock()
	if !ok {
		writeError(w, api.Errorf(api.CodeNotFound, "service %q not found", r.PathValue("name")))
		return
	}
	w.Header().Set("X-Request-Id", "req-42")
	p := "/" + r.PathValue("path")
	switch p {
	case "/fail":
		writeError(w, api.Errorf(api.CodeGuestFailed, "the guest trapped: unreachable"))
		return
	case "/own-error":
		writeJSON(w, http.StatusNotFound, api.ErrorBody{Error: &api.Error{Code: "no_such_user", Message: "user 7 is gone"}})
		return
	}
	status := http.StatusOK
	if s := r.URL.Query().Get("status"); s != "" {
		status, _ = strconv.Atoi(s)
	}
	w.Header().Set("X-Echo-Method", r.Method)
	w.Header().Set("X-Echo-Path", p)
	w.Header().Set("X-Echo-Foo", r.Header.Get("X-Foo"))
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(status)
	_, _ = io.Copy(w, r.Body)
}

// fakeKeyRule is the fake node's rule for config keys: an environment
// variable name.
var fakeKeyRule = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)

// setConfig stores config values as the node does: the service must
// exist, every key must be valid, and no error holds a value.
func (f *fakeNode) setConfig(w http.ResponseWriter, r *http.Request) {
	var req api.ConfigRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, api.Errorf(api.CodeBadRequest, "the body is not a config request"))
		return
	}
	if len(req.Values) == 0 {
		writeError(w, api.Errorf(api.CodeBadRequest, "no values to set"))
		return
	}
	for _, k := range slices.Sorted(maps.Keys(req.Values)) {
		if !fakeKeyRule.MatchString(k) {
			writeError(w, api.Errorf(api.CodeBadRequest, "invalid config key %q: keys are A-Z, a-z, 0-9 and _, not starting with a digit", k))
			return
		}
	}
	f.withService(w, r, func(s *fakeService) {
		if s.config == nil {
			s.config = map[string]api.ConfigEntry{}
		}
		now := time.Now().UTC()
		for k, v := range req.Values {
			s.config[k] = api.ConfigEntry{Key: k, Value: v, Secret: req.Secret, Updated: now}
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
