package registrytest_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mote-run/mote/internal/ociimage"
	"github.com/mote-run/mote/internal/ociimage/registrytest"
)

// get sends a request to the registry and returns the status, the
// headers and the body.
func get(t *testing.T, method, url string, header http.Header) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestRegistry(t *testing.T) {
	b, err := ociimage.Build([]ociimage.File{{Path: "/x", Data: []byte("x")}}, ociimage.ContainerConfig{}, ociimage.Platform{OS: "linux", Architecture: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	reg := registrytest.New(t, registrytest.WithBlobRedirect())
	reg.Push("a/b", "v1", b)
	base := "http://" + reg.Host() + "/v2/"
	layer := b.Image().Parsed.Layers[0].Digest
	oci := http.Header{"Accept": {ociimage.MediaTypeImageManifest}}
	tests := []struct {
		name, method, path string
		header             http.Header
		status             int
		want               string // in the body, or a header "Name: value"
	}{
		{"base", "GET", "", nil, 200, "{}"},
		{"manifest by tag", "GET", "a/b/manifests/v1", oci, 200, string(b.Manifest)},
		{"manifest by digest", "GET", "a/b/manifests/" + b.Digest, nil, 200, "Docker-Content-Digest: " + b.Digest},
		{"manifest HEAD", "HEAD", "a/b/manifests/v1", nil, 200, "Content-Type: " + ociimage.MediaTypeImageManifest},
		{"manifest not accepted", "GET", "a/b/manifests/v1", http.Header{"Accept": {ociimage.MediaTypeDockerManifest}}, 404, "MANIFEST_UNKNOWN"},
		{"manifest unknown", "GET", "a/b/manifests/v2", nil, 404, "MANIFEST_UNKNOWN"},
		{"repository unknown", "GET", "c/manifests/v1", nil, 404, "NAME_UNKNOWN"},
		{"blob redirected", "GET", "a/b/blobs/" + layer, nil, 307, "Location: /_blobs/a/b@" + layer},
		{"blob HEAD", "HEAD", "a/b/blobs/" + layer, nil, 200, "Docker-Content-Digest: " + layer},
		{"blob unknown", "HEAD", "a/b/blobs/" + ociimage.DigestOf(nil), nil, 404, ""},
		{"blob digest invalid", "GET", "a/b/blobs/sha256:x", nil, 400, "DIGEST_INVALID"},
		{"push refused", "PUT", "a/b/manifests/v2", nil, 405, "UNSUPPORTED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, h, body := get(t, tt.method, base+tt.path, tt.header)
			if status != tt.status {
				t.Errorf("%s %s = %d %s, want %d", tt.method, tt.path, status, body, tt.status)
			}
			if name, value, ok := strings.Cut(tt.want, ": "); ok && !strings.Contains(name, " ") {
				if h.Get(name) != value {
					t.Errorf("%s = %q, want %q", name, h.Get(name), value)
				}
			} else if !strings.Contains(body, tt.want) {
				t.Errorf("body %q does not contain %q", body, tt.want)
			}
			if status >= 400 && tt.method == "GET" {
				var e struct {
					Errors []struct{ Code, Message string } `json:"errors"`
				}
				if json.Unmarshal([]byte(body), &e) != nil || len(e.Errors) == 0 {
					t.Errorf("error body %q is not the spec's {\"errors\":[...]}", body)
				}
			}
		})
	}
}

func TestBearerAuth(t *testing.T) {
	reg := registrytest.New(t, registrytest.WithBearerAuth("u", "p"))
	reg.PutBlob("app", []byte("x"))
	status, h, _ := get(t, "GET", "http://"+reg.Host()+"/v2/app/blobs/"+ociimage.DigestOf([]byte("x")), nil)
	if status != 401 || !strings.Contains(h.Get("WWW-Authenticate"), `scope="repository:app:pull"`) {
		t.Fatalf("anonymous GET = %d, WWW-Authenticate %q", status, h.Get("WWW-Authenticate"))
	}
	tokenURL := "http://" + reg.Host() + "/token?service=registrytest&scope=repository:app:pull"
	if status, _, _ := get(t, "GET", tokenURL, nil); status != 401 {
		t.Errorf("anonymous token request = %d, want 401", status)
	}
	req, _ := http.NewRequest("GET", tokenURL, nil)
	req.SetBasicAuth("u", "p")
	_, _, body := get(t, "GET", tokenURL, req.Header)
	var tok struct{ Token string }
	if err := json.Unmarshal([]byte(body), &tok); err != nil || tok.Token == "" {
		t.Fatalf("token response %q", body)
	}
	auth := http.Header{"Authorization": {"Bearer " + tok.Token}}
	if status, _, body := get(t, "GET", "http://"+reg.Host()+"/v2/app/blobs/"+ociimage.DigestOf([]byte("x")), auth); status != 200 || body != "x" {
		t.Errorf("GET with the token = %d %q", status, body)
	}
	if status, _, _ := get(t, "GET", "http://"+reg.Host()+"/v2/other/manifests/v1", auth); status != 401 {
		t.Errorf("GET of another repository with the token = %d, want 401", status)
	}
	reg.ExpireTokens()
	if status, _, _ := get(t, "GET", "http://"+reg.Host()+"/v2/app/blobs/"+ociimage.DigestOf([]byte("x")), auth); status != 401 {
		t.Errorf("GET with an expired token = %d, want 401", status)
	}
}
