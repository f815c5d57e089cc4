package ociimage_test

import (
	"strings"
	"testing"

	"github.com/mote-run/mote/internal/ociimage"
)

const (
	d1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	d2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
)

// manifestJSON returns a valid manifest with replacements applied.
func manifestJSON(repl ...string) string {
	s := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + d1 + `","size":100},` +
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"` + d2 + `","size":200}]}`
	return strings.NewReplacer(repl...).Replace(s)
}

func TestParseManifest(t *testing.T) {
	many := strings.Repeat(`{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"`+d2+`","size":1},`, 257)
	tests := []struct {
		name   string
		in     string
		target error // nil: valid
		words  []string
	}{
		{"OCI", manifestJSON(), nil, nil},
		{"Docker v2", manifestJSON(ociimage.MediaTypeImageManifest, ociimage.MediaTypeDockerManifest,
			ociimage.MediaTypeImageConfig, ociimage.MediaTypeDockerConfig, ociimage.MediaTypeImageLayerGzip, ociimage.MediaTypeDockerLayer), nil, nil},
		{"no mediaType", manifestJSON(`"mediaType":"application/vnd.oci.image.manifest.v1+json",`, ""), nil, nil},
		{"uncompressed layer", manifestJSON("tar+gzip", "tar"), nil, nil},
		{"not JSON", "{", ociimage.ErrInvalid, []string{"manifest: not a JSON object"}},
		{"JSON array", "[]", ociimage.ErrInvalid, []string{"manifest: not a JSON object"}},
		{"trailing data", manifestJSON() + "x", ociimage.ErrInvalid, []string{"not a JSON object"}},
		{"too large", manifestJSON() + strings.Repeat(" ", ociimage.MaxManifestSize), ociimage.ErrInvalid, []string{"over the 4 MiB limit"}},
		{"schema 1", manifestJSON(`"schemaVersion":2`, `"schemaVersion":1`), ociimage.ErrUnsupported, []string{"schemaVersion 1", "push the image again"}},
		{"schema 3", manifestJSON(`"schemaVersion":2`, `"schemaVersion":3`), ociimage.ErrInvalid, []string{"schemaVersion is 3, want 2"}},
		{"an index", manifestJSON("manifest.v1+json", "index.v1+json"), ociimage.ErrInvalid, []string{"an index of manifests, not a manifest"}},
		{"unknown mediaType", manifestJSON("manifest.v1+json", "thing.v1+json"), ociimage.ErrUnsupported, []string{"is not an image manifest"}},
		{"config digest malformed", manifestJSON(d1, "sha256:ABC"), ociimage.ErrInvalid, []string{"config.digest", `"sha256:ABC"`, "64 lowercase hex"}},
		{"config digest uppercase", manifestJSON(d1, strings.ToUpper(d1)), ociimage.ErrInvalid, []string{"config.digest"}},
		{"config digest sha512", manifestJSON(d1, "sha512:"+strings.Repeat("a", 128)), ociimage.ErrUnsupported, []string{"config.digest", "only sha256"}},
		{"config size negative", manifestJSON(`"size":100`, `"size":-1`), ociimage.ErrInvalid, []string{"config.size is -1", "cannot be negative"}},
		{"config too large", manifestJSON(`"size":100`, `"size":4194305`), ociimage.ErrInvalid, []string{"config.size 4194305", "limit"}},
		{"config mediaType missing", manifestJSON(`"mediaType":"application/vnd.oci.image.config.v1+json",`, ""), ociimage.ErrInvalid, []string{"config.mediaType is missing"}},
		{"artifact config", manifestJSON(ociimage.MediaTypeImageConfig, "application/vnd.wasm.config.v0+json"), ociimage.ErrUnsupported, []string{"config.mediaType", "not a container image config"}},
		{"no layers", manifestJSON(`[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"`+d2+`","size":200}]`, "[]"), ociimage.ErrInvalid, []string{"layers is empty"}},
		{"too many layers", manifestJSON(`"layers":[`, `"layers":[`+many), ociimage.ErrUnsupported, []string{"258 layers is over the limit of 256", "squash"}},
		{"layer digest malformed", manifestJSON(d2, "sha256:"+strings.Repeat("2", 63)), ociimage.ErrInvalid, []string{"layers[0].digest"}},
		{"layer size negative", manifestJSON(`"size":200`, `"size":-5`), ociimage.ErrInvalid, []string{"layers[0].size is -5"}},
		{"zstd layer", manifestJSON("tar+gzip", "tar+zstd"), ociimage.ErrUnsupported, []string{"layers[0].mediaType", "zstd-compressed layers are not supported", "gzip"}},
		{"Docker zstd layer", manifestJSON(ociimage.MediaTypeImageLayerGzip, ociimage.MediaTypeDockerLayerZstd), ociimage.ErrUnsupported, []string{"zstd"}},
		{"foreign layer", manifestJSON(ociimage.MediaTypeImageLayerGzip, ociimage.MediaTypeDockerForeignLayer), ociimage.ErrUnsupported, []string{"foreign (Windows) layer"}},
		{"nondistributable layer", manifestJSON(ociimage.MediaTypeImageLayerGzip, "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"), ociimage.ErrUnsupported, []string{"non-distributable"}},
		{"unknown layer type", manifestJSON(ociimage.MediaTypeImageLayerGzip, "application/wasm"), ociimage.ErrUnsupported, []string{"layers[0].mediaType", `"application/wasm"`, "not a tar"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ociimage.ParseManifest([]byte(tt.in))
			if tt.target == nil {
				if err != nil {
					t.Fatal(err)
				}
				if m.Config.Digest != d1 || len(m.Layers) != 1 || m.Layers[0].Size != 200 {
					t.Errorf("ParseManifest = %+v", m)
				}
				return
			}
			wantErr(t, err, tt.target, tt.words...)
		})
	}
}

func TestParseIndex(t *testing.T) {
	valid := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[` +
		`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + d1 + `","size":10,"platform":{"os":"linux","architecture":"arm","variant":"v7"}},` +
		`{"mediaType":"application/vnd.in-toto+json","digest":"` + d2 + `","size":10}]}`
	tests := []struct {
		name   string
		in     string
		target error
		words  []string
	}{
		{"OCI with an artifact", valid, nil, nil},
		{"Docker list", strings.Replace(valid, ociimage.MediaTypeImageIndex, ociimage.MediaTypeDockerManifestList, 1), nil, nil},
		{"not JSON", "nope", ociimage.ErrInvalid, []string{"index: not a JSON object"}},
		{"schema 0", strings.Replace(valid, `"schemaVersion":2`, `"schemaVersion":0`, 1), ociimage.ErrInvalid, []string{"schemaVersion is 0"}},
		{"a manifest", strings.Replace(valid, ociimage.MediaTypeImageIndex, ociimage.MediaTypeImageManifest, 1), ociimage.ErrInvalid, []string{"a single manifest, not an index"}},
		{"unknown type", strings.Replace(valid, ociimage.MediaTypeImageIndex, "text/plain", 1), ociimage.ErrUnsupported, []string{`"text/plain" is not an image index`}},
		{"entry digest", strings.Replace(valid, d2, "sha256:xyz", 1), ociimage.ErrInvalid, []string{"manifests[1].digest", `"sha256:xyz"`}},
		{"entry size", strings.Replace(valid, `"size":10}`, `"size":-10}`, 1), ociimage.ErrInvalid, []string{"manifests[1].size is -10"}},
		{"entry without mediaType", strings.Replace(valid, `"mediaType":"application/vnd.in-toto+json",`, "", 1), ociimage.ErrInvalid, []string{"manifests[1].mediaType is missing"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, err := ociimage.ParseIndex([]byte(tt.in))
			if tt.target == nil {
				if err != nil {
					t.Fatal(err)
				}
				if len(x.Manifests) != 2 || x.Manifests[0].Platform.String() != "linux/arm/v7" {
					t.Errorf("ParseIndex = %+v", x)
				}
				return
			}
			wantErr(t, err, tt.target, tt.words...)
		})
	}
}

func TestParseConfig(t *testing.T) {
	valid := `{"architecture":"amd64","os":"linux","config":{"User":"1000","Env":["PATH=/bin","EMPTY="],` +
		`"Entrypoint":["/app"],"Cmd":["serve"],"WorkingDir":"/srv","ExposedPorts":{"8080/tcp":{}},"Labels":{"a":"b"}},` +
		`"rootfs":{"type":"layers","diff_ids":["` + d1 + `"]},"history":[{"created_by":"x"}]}`
	tests := []struct {
		name   string
		in     string
		target error
		words  []string
	}{
		{"valid", valid, nil, nil},
		{"not JSON", "{,}", ociimage.ErrInvalid, []string{"config: not a JSON object"}},
		{"no os", strings.Replace(valid, `"os":"linux",`, "", 1), ociimage.ErrInvalid, []string{"os is missing"}},
		{"no architecture", strings.Replace(valid, `"architecture":"amd64",`, "", 1), ociimage.ErrInvalid, []string{"architecture is missing"}},
		{"rootfs type", strings.Replace(valid, `"type":"layers"`, `"type":"tarballs"`, 1), ociimage.ErrInvalid, []string{`rootfs.type is "tarballs", want "layers"`}},
		{"diff id", strings.Replace(valid, d1, "sha256:1", 1), ociimage.ErrInvalid, []string{"rootfs.diff_ids[0]"}},
		{"Env without =", strings.Replace(valid, `"EMPTY="`, `"EMPTY"`, 1), ociimage.ErrInvalid, []string{`config.Env[1] "EMPTY" is not KEY=value`}},
		{"Env without key", strings.Replace(valid, `"EMPTY="`, `"=x"`, 1), ociimage.ErrInvalid, []string{"config.Env[1]"}},
		{"NUL in Cmd", strings.Replace(valid, `"serve"`, `"se\u0000rve"`, 1), ociimage.ErrInvalid, []string{"config.Cmd[0]", "NUL"}},
		{"NUL in Entrypoint", strings.Replace(valid, `"/app"`, `"/a\u0000"`, 1), ociimage.ErrInvalid, []string{"config.Entrypoint[0]", "NUL"}},
		{"NUL in User", strings.Replace(valid, `"1000"`, `"1\u0000"`, 1), ociimage.ErrInvalid, []string{"config.User", "NUL"}},
		{"relative WorkingDir", strings.Replace(valid, `"/srv"`, `"srv"`, 1), ociimage.ErrInvalid, []string{"config.WorkingDir", "not an absolute path"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ociimage.ParseConfig([]byte(tt.in))
			if tt.target == nil {
				if err != nil {
					t.Fatal(err)
				}
				cc := c.Config
				if c.Platform().String() != "linux/amd64" || cc.User != "1000" || cc.WorkingDir != "/srv" ||
					len(cc.Env) != 2 || cc.Cmd[0] != "serve" || len(cc.ExposedPorts) != 1 || cc.Labels["a"] != "b" {
					t.Errorf("ParseConfig = %+v", c)
				}
				return
			}
			wantErr(t, err, tt.target, tt.words...)
		})
	}
}

func TestParseReference(t *testing.T) {
	tests := []struct {
		in   string
		want string // String() of the result; "" for an error
		word string // in the error
	}{
		{"nginx", "docker.io/library/nginx:latest", ""},
		{"nginx:1.27", "docker.io/library/nginx:1.27", ""},
		{"bitnami/nginx", "docker.io/bitnami/nginx:latest", ""},
		{"docker.io/nginx", "docker.io/library/nginx:latest", ""},
		{"index.docker.io/library/nginx:1", "docker.io/library/nginx:1", ""},
		{"ghcr.io/owner/app:v1.2.3", "ghcr.io/owner/app:v1.2.3", ""},
		{"ghcr.io/owner/app@" + d1, "ghcr.io/owner/app@" + d1, ""},
		{"ghcr.io/owner/app:v1@" + d1, "ghcr.io/owner/app:v1@" + d1, ""},
		{"localhost/app", "localhost/app:latest", ""},
		{"localhost:5000/a/b/c:x", "localhost:5000/a/b/c:x", ""},
		{"127.0.0.1:5000/app", "127.0.0.1:5000/app:latest", ""},
		{"[::1]:5000/app", "[::1]:5000/app:latest", ""},
		{"reg.example.com/a.b_c__d-e---f:T_1.x-y", "reg.example.com/a.b_c__d-e---f:T_1.x-y", ""},
		{"", "", "is empty"},
		{"ghcr.io/Owner/app", "", "must be lowercase"},
		{"ghcr.io/owner/-app", "", "separated by"},
		{"ghcr.io/owner//app", "", "separated by"},
		{"app:", "", "tag"},
		{"app:.x", "", "tag"},
		{"app:" + strings.Repeat("x", 129), "", "tag"},
		{"app@sha256:abc", "", "digest"},
		{"app@sha512:" + strings.Repeat("a", 128), "", "only sha256"},
		{"ghcr.io:99999/app", "", "registry host"},
		{"ex-.com/app", "", "registry host"},
		{"ghcr.io/", "", "names no repository"},
		{"a b", "", "separated by"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := ociimage.ParseReference(tt.in)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("ParseReference = %s, want an error", r)
				}
				if !strings.Contains(err.Error(), tt.word) {
					t.Errorf("error %q does not mention %q", err, tt.word)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.String() != tt.want {
				t.Errorf("ParseReference = %s, want %s", r, tt.want)
			}
		})
	}
}
