// Package registrytest runs an in-process container registry for tests:
// the pull side of the distribution API v2 (manifests by tag and digest,
// blobs, HEAD, the spec's JSON errors, Accept negotiation), with optional
// bearer-token or basic authentication and blob redirects, on an httptest
// server that the test's cleanup stops.
//
// Its host is 127.0.0.1:PORT, which ociimage.Resolve reaches over plain
// HTTP by default:
//
//	reg := registrytest.New(t)
//	reg.Push("app", "v1", built)
//	im, err := ociimage.Resolve(ctx, reg.Host()+"/app:v1", ociimage.ResolveOptions{})
package registrytest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/mote-run/mote/internal/ociimage"
)

// Registry is a running test registry. Its methods are safe for
// concurrent use.
type Registry struct {
	t        testing.TB
	srv      *httptest.Server
	auth     authMode
	user     string
	pass     string
	redirect bool

	mu       sync.Mutex
	repos    map[string]*repo
	tokens   map[string]string // issued bearer token → repository it grants
	requests []string
}

type authMode int

const (
	authNone authMode = iota
	authBearer
	authBasic
)

// repo is one repository's content.
type repo struct {
	manifests map[string]manifest // by tag and by digest
	blobs     map[string][]byte   // by digest
}

type manifest struct {
	mediaType string
	data      []byte
}

// Option configures New.
type Option func(*Registry)

// WithBearerAuth makes the registry private behind the token protocol:
// requests without a valid token get 401 and a "Bearer realm=...,
// service=..., scope=repository:NAME:pull" challenge; the realm, /token,
// gives a token for the scope's repository to a request with basic
// credentials user and pass, and answers 401 to anyone else.
func WithBearerAuth(user, pass string) Option {
	return func(r *Registry) { r.auth, r.user, r.pass = authBearer, user, pass }
}

// WithBasicAuth makes the registry private behind HTTP basic
// authentication with user and pass.
func WithBasicAuth(user, pass string) Option {
	return func(r *Registry) { r.auth, r.user, r.pass = authBasic, user, pass }
}

// WithBlobRedirect makes blob GETs answer 307 to another path that serves
// the blob without authentication, as registries that keep blobs in
// object storage do.
func WithBlobRedirect() Option {
	return func(r *Registry) { r.redirect = true }
}

// New starts a registry; t's cleanup stops it.
func New(t testing.TB, opts ...Option) *Registry {
	t.Helper()
	r := &Registry{t: t, repos: map[string]*repo{}, tokens: map[string]string{}}
	for _, o := range opts {
		o(r)
	}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

// Host returns the registry's host and port ("127.0.0.1:PORT"), the first
// component of a reference to its images.
func (r *Registry) Host() string {
	u, _ := url.Parse(r.srv.URL)
	return u.Host
}

// Requests returns the requests served so far, as "METHOD PATH".
func (r *Registry) Requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.requests...)
}

// ExpireTokens forgets every bearer token issued, as if they had expired.
func (r *Registry) ExpireTokens() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.tokens)
}

// Push stores an image's blobs and manifest in repository name, the
// manifest under tag (unless tag is "") and its digest.
func (r *Registry) Push(name, tag string, b *ociimage.Built) {
	var m ociimage.Manifest
	if err := json.Unmarshal(b.Manifest, &m); err != nil {
		r.t.Errorf("registrytest: Push of a Built not made by ociimage.Build: %v", err)
		return
	}
	for _, d := range append([]ociimage.Descriptor{m.Config}, m.Layers...) {
		data, _ := b.Blob(d.Digest)
		r.SetBlob(name, d.Digest, data)
	}
	r.PutManifest(name, tag, ociimage.MediaTypeImageManifest, b.Manifest)
}

// PushIndex pushes each image by digest and an OCI index listing them
// with their platforms under tag; it returns the index's digest.
func (r *Registry) PushIndex(name, tag string, images ...*ociimage.Built) string {
	x := ociimage.Index{SchemaVersion: 2, MediaType: ociimage.MediaTypeImageIndex}
	for _, b := range images {
		r.Push(name, "", b)
		x.Manifests = append(x.Manifests, b.Descriptor())
	}
	data, err := json.Marshal(x)
	if err != nil {
		r.t.Errorf("registrytest: %v", err)
		return ""
	}
	return r.PutManifest(name, tag, ociimage.MediaTypeImageIndex, data)
}

// PutManifest stores data as a manifest (or index) of the given media
// type, under tag (unless tag is "") and its digest, which it returns.
// data is not checked: tests use it to serve malformed manifests.
func (r *Registry) PutManifest(name, tag, mediaType string, data []byte) string {
	d := ociimage.DigestOf(data)
	r.mu.Lock()
	defer r.mu.Unlock()
	rp := r.repo(name)
	m := manifest{mediaType: mediaType, data: append([]byte(nil), data...)}
	rp.manifests[d] = m
	if tag != "" {
		rp.manifests[tag] = m
	}
	return d
}

// PutBlob stores data as a blob and returns its digest.
func (r *Registry) PutBlob(name string, data []byte) string {
	d := ociimage.DigestOf(data)
	r.SetBlob(name, d, data)
	return d
}

// SetBlob stores data under digest whether or not it matches, so tests
// can serve corrupt blobs.
func (r *Registry) SetBlob(name, digest string, data []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.repo(name).blobs[digest] = append([]byte(nil), data...)
}

// DeleteBlob removes a blob, so tests can serve images with one missing.
func (r *Registry) DeleteBlob(name, digest string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.repo(name).blobs, digest)
}

// repo returns repository name, creating it; r.mu is held.
func (r *Registry) repo(name string) *repo {
	rp, ok := r.repos[name]
	if !ok {
		rp = &repo{manifests: map[string]manifest{}, blobs: map[string][]byte{}}
		r.repos[name] = rp
	}
	return rp
}

// regError writes the distribution spec's error body.
func regError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]string{{"code": code, "message": msg}},
	})
}

func (r *Registry) serve(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.requests = append(r.requests, req.Method+" "+req.URL.Path)
	r.mu.Unlock()
	p := req.URL.Path
	switch {
	case p == "/token":
		r.serveToken(w, req)
		return
	case strings.HasPrefix(p, "/_blobs/"):
		name, digest, _ := strings.Cut(strings.TrimPrefix(p, "/_blobs/"), "@")
		r.serveBlob(w, req, name, digest)
		return
	case !strings.HasPrefix(p, "/v2/"):
		regError(w, http.StatusNotFound, "NOT_FOUND", "not a registry path")
		return
	}
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		regError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "this test registry only serves pulls")
		return
	}
	if p == "/v2/" {
		if !r.authorized(w, req, "") {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte("{}"))
		return
	}
	rest := strings.TrimPrefix(p, "/v2/")
	var name, kind, ref string
	if i := strings.LastIndex(rest, "/manifests/"); i > 0 {
		name, kind, ref = rest[:i], "manifests", rest[i+len("/manifests/"):]
	} else if i := strings.LastIndex(rest, "/blobs/"); i > 0 {
		name, kind, ref = rest[:i], "blobs", rest[i+len("/blobs/"):]
	} else {
		regError(w, http.StatusNotFound, "NOT_FOUND", "not a manifest or blob path")
		return
	}
	if !r.authorized(w, req, name) {
		return
	}
	if kind == "blobs" {
		if !ociimage.ValidDigest(ref) {
			regError(w, http.StatusBadRequest, "DIGEST_INVALID", "provided digest did not match uploaded content")
			return
		}
		if r.redirect && req.Method == http.MethodGet {
			http.Redirect(w, req, "/_blobs/"+name+"@"+ref, http.StatusTemporaryRedirect)
			return
		}
		r.serveBlob(w, req, name, ref)
		return
	}
	r.mu.Lock()
	rp, ok := r.repos[name]
	var m manifest
	if ok {
		m, ok = rp.manifests[ref]
	}
	r.mu.Unlock()
	if rp == nil {
		regError(w, http.StatusNotFound, "NAME_UNKNOWN", "repository name not known to registry")
		return
	}
	if !ok {
		regError(w, http.StatusNotFound, "MANIFEST_UNKNOWN", "manifest unknown")
		return
	}
	if accept := strings.Join(req.Header.Values("Accept"), ","); accept != "" && !accepts(accept, m.mediaType) {
		regError(w, http.StatusNotFound, "MANIFEST_UNKNOWN", m.mediaType+" found, but the Accept header does not allow it")
		return
	}
	w.Header().Set("Content-Type", m.mediaType)
	w.Header().Set("Docker-Content-Digest", ociimage.DigestOf(m.data))
	w.Header().Set("Content-Length", strconv.Itoa(len(m.data)))
	if req.Method == http.MethodGet {
		w.Write(m.data)
	}
}

// accepts reports whether an Accept header value allows media type mt.
func accepts(accept, mt string) bool {
	for _, a := range strings.Split(accept, ",") {
		a, _, _ = strings.Cut(a, ";")
		if a = strings.TrimSpace(a); a == mt || a == "*/*" {
			return true
		}
	}
	return false
}

func (r *Registry) serveBlob(w http.ResponseWriter, req *http.Request, name, digest string) {
	r.mu.Lock()
	var data []byte
	ok := false
	if rp := r.repos[name]; rp != nil {
		data, ok = rp.blobs[digest]
	}
	r.mu.Unlock()
	if !ok {
		regError(w, http.StatusNotFound, "BLOB_UNKNOWN", "blob unknown to registry")
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Docker-Content-Digest", digest)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	if req.Method == http.MethodGet {
		w.Write(data)
	}
}

// authorized checks a request for repository name ("" for /v2/) and, when
// it fails, answers 401 with the challenge.
func (r *Registry) authorized(w http.ResponseWriter, req *http.Request, name string) bool {
	switch r.auth {
	case authNone:
		return true
	case authBasic:
		if u, p, ok := req.BasicAuth(); ok && u == r.user && p == r.pass {
			return true
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="registrytest"`)
	case authBearer:
		if tok, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer "); ok {
			r.mu.Lock()
			granted, known := r.tokens[tok]
			r.mu.Unlock()
			if known && (name == "" || granted == name) {
				return true
			}
		}
		ch := fmt.Sprintf(`Bearer realm="%s/token",service="registrytest"`, r.srv.URL)
		if name != "" {
			ch += fmt.Sprintf(`,scope="repository:%s:pull"`, name)
		}
		w.Header().Set("WWW-Authenticate", ch)
	}
	regError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
	return false
}

// serveToken is the bearer realm: a token for the scope's repository in
// exchange for the right basic credentials.
func (r *Registry) serveToken(w http.ResponseWriter, req *http.Request) {
	if r.auth != authBearer {
		regError(w, http.StatusNotFound, "NOT_FOUND", "no token service")
		return
	}
	if u, p, ok := req.BasicAuth(); !ok || u != r.user || p != r.pass {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"details":"incorrect username or password"}`))
		return
	}
	if req.URL.Query().Get("service") != "registrytest" {
		http.Error(w, "unknown service", http.StatusBadRequest)
		return
	}
	scope := req.URL.Query().Get("scope")
	rest, ok := strings.CutPrefix(scope, "repository:")
	name, action, _ := strings.Cut(rest, ":")
	if !ok || name == "" || !strings.Contains(action, "pull") {
		http.Error(w, "bad scope", http.StatusBadRequest)
		return
	}
	var raw [16]byte
	rand.Read(raw[:])
	tok := hex.EncodeToString(raw[:])
	r.mu.Lock()
	r.tokens[tok] = name
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"token": tok, "expires_in": 300})
}
