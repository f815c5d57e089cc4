package ociimage

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"strings"
	"testing"
	"testing/iotest"
)

func TestVerifier(t *testing.T) {
	data := []byte("some layer bytes")
	good := Descriptor{Digest: DigestOf(data), Size: int64(len(data))}
	tests := []struct {
		name    string
		d       Descriptor
		content []byte
		wrap    func(io.Reader) io.Reader
		want    string // in the error; "" for none
	}{
		{"ok", good, data, nil, ""},
		{"ok, one byte at a time", good, data, iotest.OneByteReader, ""},
		{"ok, data with EOF", good, data, iotest.DataErrReader, ""},
		{"ok, empty", Descriptor{Digest: DigestOf(nil)}, nil, nil, ""},
		{"short", good, data[:5], nil, "is 5 bytes, its descriptor says 16"},
		{"long", good, append(bytes.Clone(data), 'x'), nil, "longer than its size, 16 bytes"},
		{"long, data with EOF", good, append(bytes.Clone(data), 'x'), iotest.DataErrReader, "longer than its size"},
		{"corrupt", good, bytes.ToUpper(data), nil, "has digest sha256:"},
		{"corrupt, one byte at a time", good, bytes.ToUpper(data), iotest.OneByteReader, "has digest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r io.Reader = bytes.NewReader(tt.content)
			if tt.wrap != nil {
				r = tt.wrap(r)
			}
			v := newVerifier(io.NopCloser(r), tt.d, "blob x")
			got, err := io.ReadAll(v)
			if tt.want == "" {
				if err != nil || !bytes.Equal(got, tt.content) {
					t.Fatalf("ReadAll = %q, %v", got, err)
				}
				return
			}
			if !errors.Is(err, ErrDigest) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ReadAll error = %v, want ErrDigest saying %q", err, tt.want)
			}
			if int64(len(got)) > tt.d.Size {
				t.Errorf("read %d bytes past a %d-byte size", len(got), tt.d.Size)
			}
			if _, err2 := v.Read(make([]byte, 1)); err2 != err {
				t.Errorf("a second Read returned %v, want the same error", err2)
			}
		})
	}
}

func TestParseChallenge(t *testing.T) {
	tests := []struct {
		in     string
		scheme string
		params map[string]string
	}{
		{`Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"`,
			"bearer", map[string]string{"realm": "https://auth.docker.io/token", "service": "registry.docker.io", "scope": "repository:library/nginx:pull"}},
		{`Basic realm="Registry Realm"`, "basic", map[string]string{"realm": "Registry Realm"}},
		{`bearer  realm=https://x/t, service=svc`, "bearer", map[string]string{"realm": "https://x/t", "service": "svc"}},
		{`Bearer realm="a\"b",scope="repository:x:pull,push"`, "bearer", map[string]string{"realm": `a"b`, "scope": "repository:x:pull,push"}},
		{`Bearer realm="unterminated`, "bearer", map[string]string{"realm": "unterminated"}},
		{`Negotiate`, "negotiate", map[string]string{}},
		{``, "", map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			scheme, params := parseChallenge(tt.in)
			if scheme != tt.scheme || !maps.Equal(params, tt.params) {
				t.Errorf("parseChallenge = %q %v, want %q %v", scheme, params, tt.scheme, tt.params)
			}
		})
	}
}

func TestManifestKind(t *testing.T) {
	tests := []struct {
		contentType, body, want string
	}{
		{"", `{"mediaType":"` + MediaTypeDockerManifestList + `"}`, MediaTypeDockerManifestList},
		{MediaTypeImageIndex + "; charset=utf-8", `{"schemaVersion":2,"manifests":[]}`, MediaTypeImageIndex},
		{"application/json", `{"schemaVersion":2,"manifests":[]}`, MediaTypeImageIndex},
		{"application/json", `{"schemaVersion":2,"layers":[]}`, MediaTypeImageManifest},
		{MediaTypeDockerManifest, `{"schemaVersion":1}`, MediaTypeDockerSchema1},
		{MediaTypeDockerManifest, `not json`, MediaTypeDockerManifest},
	}
	for _, tt := range tests {
		if got := manifestKind(tt.contentType, []byte(tt.body)); got != tt.want {
			t.Errorf("manifestKind(%q, %s) = %s, want %s", tt.contentType, tt.body, got, tt.want)
		}
	}
}

func TestPlainHTTPDefault(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "localhost:5000": true, "127.0.0.1:80": true, "[::1]:5000": true, "::1": true,
		"ghcr.io": false, "10.0.0.1:5000": false, "localhost.example.com": false,
	} {
		if got := plainHTTPDefault(host); got != want {
			t.Errorf("plainHTTPDefault(%s) = %v, want %v", host, got, want)
		}
	}
}
