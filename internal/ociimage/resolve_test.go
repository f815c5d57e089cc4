package ociimage_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mote-run/mote/internal/ociimage"
	"github.com/mote-run/mote/internal/ociimage/registrytest"
)

// readAll opens a blob of im and reads it to EOF.
func readAll(ctx context.Context, im *ociimage.Image, digest string) ([]byte, error) {
	rc, err := im.Open(ctx, digest)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// checkImage checks that im is the test image: config, and each blob
// readable and verified, the layer holding /hello.
func checkImage(t *testing.T, im *ociimage.Image, p ociimage.Platform) {
	t.Helper()
	if got := im.Config.Platform(); got != p {
		t.Errorf("config platform = %s, want %s", got, p)
	}
	if !slices.Equal(im.Config.Config.Entrypoint, []string{"/hello"}) || im.Config.Config.User != "65532:65532" {
		t.Errorf("config = %+v", im.Config.Config)
	}
	if im.Digest != ociimage.DigestOf(im.Manifest) {
		t.Errorf("Digest %s is not the manifest's digest %s", im.Digest, ociimage.DigestOf(im.Manifest))
	}
	blobs := im.Blobs()
	if len(blobs) != 2 || blobs[0].Digest != im.Parsed.Config.Digest {
		t.Fatalf("Blobs() = %+v, want the config and one layer", blobs)
	}
	cfg, err := readAll(t.Context(), im, blobs[0].Digest)
	if err != nil || !bytes.Equal(cfg, im.ConfigBytes) {
		t.Errorf("Open(config) = %d bytes, %v; want ConfigBytes", len(cfg), err)
	}
	layer, err := readAll(t.Context(), im, blobs[1].Digest)
	if err != nil {
		t.Fatalf("Open(layer): %v", err)
	}
	if blobs[1].MediaType != ociimage.MediaTypeImageLayer {
		layer = gunzip(t, layer)
	}
	if ociimage.DigestOf(layer) != im.Config.RootFS.DiffIDs[0] {
		t.Errorf("uncompressed layer digest %s, config's diff ID %s", ociimage.DigestOf(layer), im.Config.RootFS.DiffIDs[0])
	}
	if names := tarFiles(t, layer); !slices.Contains(names, "hello") {
		t.Errorf("layer holds %v, want hello", names)
	}
}

// dockerManifest rewrites b's manifest with Docker v2 media types.
func dockerManifest(t *testing.T, b *ociimage.Built) []byte {
	var m ociimage.Manifest
	if err := json.Unmarshal(b.Manifest, &m); err != nil {
		t.Fatal(err)
	}
	m.MediaType = ociimage.MediaTypeDockerManifest
	m.Config.MediaType = ociimage.MediaTypeDockerConfig
	m.Layers[0].MediaType = ociimage.MediaTypeDockerLayer
	return mustJSON(t, m)
}

func TestResolveFormats(t *testing.T) {
	amd := build(t, linuxAMD64)
	arm := build(t, linuxARM64)
	type setup func(t *testing.T, dir string) (ref string, opts ociimage.ResolveOptions)
	tests := []struct {
		name string
		// want is the platform of the image resolved, for linux/amd64 by
		// default.
		want ociimage.Platform
		// docker is set when the image is converted from docker-save, so
		// its manifest is not amd's.
		docker bool
		setup  setup
	}{
		{name: "layout dir, ./ relative to Dir", setup: func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			layout(t, dir, amd)
			return "./layout", ociimage.ResolveOptions{Dir: dir}
		}},
		{name: "layout dir, absolute", setup: func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			return layout(t, dir, amd), ociimage.ResolveOptions{}
		}},
		{name: "layout dir, bare name that exists", setup: func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			layout(t, dir, amd)
			return "layout", ociimage.ResolveOptions{Dir: dir}
		}},
		{name: "layout with two named images, by :name", setup: func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			p := layout(t, dir, amd)
			if err := arm.WriteLayout(p); err != nil {
				t.Fatal(err)
			}
			a, b := amd.Descriptor(), arm.Descriptor()
			a.Platform, b.Platform = nil, nil
			a.Annotations = map[string]string{ociimage.AnnotationRefName: "v1"}
			b.Annotations = map[string]string{ociimage.AnnotationContainerdName: "docker.io/library/app:v2"}
			writeFile(t, p, "index.json", mustJSON(t, ociimage.Index{SchemaVersion: 2, Manifests: []ociimage.Descriptor{a, b}}))
			return "./layout:v1", ociimage.ResolveOptions{Dir: dir}
		}},
		{name: "layout with two named images, by containerd name", want: linuxARM64, setup: func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			p := layout(t, dir, amd)
			if err := arm.WriteLayout(p); err != nil {
				t.Fatal(err)
			}
			a, b := amd.Descriptor(), arm.Descriptor()
			a.Platform, b.Platform = nil, nil
			a.Annotations = map[string]string{ociimage.AnnotationRefName: "v1"}
			b.Annotations = map[string]string{ociimage.AnnotationContainerdName: "docker.io/library/app:v2"}
			writeFile(t, p, "index.json", mustJSON(t, ociimage.Index{SchemaVersion: 2, Manifests: []ociimage.Descriptor{a, b}}))
			return p + ":app:v2", ociimage.ResolveOptions{Platform: linuxARM64}
		}},
		{name: "layout holding a multi-platform index", want: linuxARM64, setup: func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			p := layout(t, dir, amd)
			if err := arm.WriteLayout(p); err != nil {
				t.Fatal(err)
			}
			x := mustJSON(t, ociimage.Index{SchemaVersion: 2, MediaType: ociimage.MediaTypeImageIndex, Manifests: []ociimage.Descriptor{amd.Descriptor(), arm.Descriptor()}})
			writeFile(t, p, "blobs/sha256/"+strings.TrimPrefix(ociimage.DigestOf(x), "sha256:"), x)
			top := ociimage.Descriptor{MediaType: ociimage.MediaTypeImageIndex, Digest: ociimage.DigestOf(x), Size: int64(len(x))}
			writeFile(t, p, "index.json", mustJSON(t, ociimage.Index{SchemaVersion: 2, Manifests: []ociimage.Descriptor{top}}))
			return p, ociimage.ResolveOptions{Platform: ociimage.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}
		}},
		{name: "OCI archive", setup: func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			var buf bytes.Buffer
			if err := amd.WriteArchive(&buf); err != nil {
				t.Fatal(err)
			}
			return writeFile(t, dir, "image.tar", buf.Bytes()), ociimage.ResolveOptions{}
		}},
		{name: "gzipped OCI archive", setup: func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			var buf bytes.Buffer
			if err := amd.WriteArchive(&buf); err != nil {
				t.Fatal(err)
			}
			writeFile(t, dir, "image.tar.gz", gzipBytes(t, buf.Bytes()))
			return "./image.tar.gz", ociimage.ResolveOptions{Dir: dir}
		}},
		{name: "docker-save archive", docker: true, setup: func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			return writeFile(t, dir, "save.tar", makeTar(t, dockerSave(t, amd, "app:latest"))), ociimage.ResolveOptions{}
		}},
		{name: "gzipped docker-save archive with two images, by tag", docker: true, setup: func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			entries := dockerSave(t, amd, "app:latest")
			other := dockerSave(t, arm, "app:arm")
			var m []map[string]any
			json.Unmarshal(entries[2].data, &m)
			var m2 []map[string]any
			json.Unmarshal(other[2].data, &m2)
			m2[0]["Layers"] = []string{"def/layer.tar"}
			entries[2].data = mustJSON(t, append(m, m2...))
			entries = append(entries, tarEntry{name: "def/layer.tar", data: other[0].data}, other[1])
			writeFile(t, dir, "save.tar.gz", gzipBytes(t, makeTar(t, entries)))
			return "./save.tar.gz:latest", ociimage.ResolveOptions{Dir: dir}
		}},
		{name: "unpacked docker-save directory", docker: true, setup: func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			for _, e := range dockerSave(t, amd) {
				writeFile(t, dir, "save/"+e.name, e.data)
			}
			return "./save", ociimage.ResolveOptions{Dir: dir}
		}},
		{name: "registry by tag", setup: func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			reg := registrytest.New(t)
			reg.Push("team/app", "v1", amd)
			return reg.Host() + "/team/app:v1", ociimage.ResolveOptions{}
		}},
		{name: "registry by digest", setup: func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			reg := registrytest.New(t)
			reg.Push("app", "", amd)
			return reg.Host() + "/app@" + amd.Digest, ociimage.ResolveOptions{}
		}},
		{name: "registry index, arm64 chosen", want: linuxARM64, setup: func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			reg := registrytest.New(t)
			reg.PushIndex("app", "v1", amd, arm)
			return reg.Host() + "/app:v1", ociimage.ResolveOptions{Platform: linuxARM64}
		}},
		{name: "registry index, amd64 chosen", setup: func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			reg := registrytest.New(t)
			reg.PushIndex("app", "v1", arm, amd)
			return reg.Host() + "/app:v1", ociimage.ResolveOptions{Platform: linuxAMD64}
		}},
		{name: "registry Docker v2 manifest list", setup: func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			reg := registrytest.New(t)
			reg.Push("app", "", amd)
			dm := dockerManifest(t, amd)
			d := reg.PutManifest("app", "", ociimage.MediaTypeDockerManifest, dm)
			attest := ociimage.Descriptor{MediaType: ociimage.MediaTypeImageManifest, Digest: arm.Digest, Size: int64(len(arm.Manifest)),
				Platform: &ociimage.Platform{OS: "unknown", Architecture: "unknown"}}
			list := ociimage.Index{SchemaVersion: 2, MediaType: ociimage.MediaTypeDockerManifestList, Manifests: []ociimage.Descriptor{
				attest,
				{MediaType: ociimage.MediaTypeDockerManifest, Digest: d, Size: int64(len(dm)), Platform: &linuxAMD64},
			}}
			reg.PutManifest("app", "latest", ociimage.MediaTypeDockerManifestList, mustJSON(t, list))
			return reg.Host() + "/app", ociimage.ResolveOptions{}
		}},
		{name: "registry bearer token auth", setup: func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			reg := registrytest.New(t, registrytest.WithBearerAuth("ann", "s3cret"))
			reg.Push("private/app", "v1", amd)
			creds := func(host string) (string, string, bool) { return "ann", "s3cret", host == reg.Host() }
			return reg.Host() + "/private/app:v1", ociimage.ResolveOptions{Credentials: creds}
		}},
		{name: "registry basic auth and blob redirects", setup: func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			reg := registrytest.New(t, registrytest.WithBasicAuth("ann", "s3cret"), registrytest.WithBlobRedirect())
			reg.Push("app", "v1", amd)
			creds := func(host string) (string, string, bool) { return "ann", "s3cret", true }
			return reg.Host() + "/app:v1", ociimage.ResolveOptions{Credentials: creds}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref, opts := tt.setup(t, t.TempDir())
			if opts.Platform == (ociimage.Platform{}) {
				opts.Platform = linuxAMD64
			}
			im, err := ociimage.Resolve(t.Context(), ref, opts)
			if err != nil {
				t.Fatalf("Resolve(%s): %v", ref, err)
			}
			want := tt.want
			if want == (ociimage.Platform{}) {
				want = linuxAMD64
			}
			checkImage(t, im, want)
			wantBuilt := amd
			if want == linuxARM64 {
				wantBuilt = arm
			}
			switch {
			case tt.docker:
				if im.Parsed.MediaType != ociimage.MediaTypeImageManifest || im.Parsed.Layers[0].Digest != im.Config.RootFS.DiffIDs[0] {
					t.Errorf("converted manifest %s: want OCI, with the layer tar's digest", im.Manifest)
				}
			case im.Parsed.MediaType == ociimage.MediaTypeDockerManifest:
				if !bytes.Equal(im.ConfigBytes, wantBuilt.Config) {
					t.Errorf("config is not the image's")
				}
			case im.Digest != wantBuilt.Digest:
				t.Errorf("Digest = %s, want %s", im.Digest, wantBuilt.Digest)
			}
		})
	}
}

// TestRegistryLazy checks that Resolve reads no layer, that Open streams
// one, and that an expired token is renewed.
func TestRegistryLazy(t *testing.T) {
	b := build(t, linuxAMD64)
	reg := registrytest.New(t, registrytest.WithBearerAuth("u", "p"))
	reg.Push("app", "v1", b)
	creds := func(string) (string, string, bool) { return "u", "p", true }
	im, err := ociimage.Resolve(t.Context(), reg.Host()+"/app:v1", ociimage.ResolveOptions{Credentials: creds, Platform: linuxAMD64})
	if err != nil {
		t.Fatal(err)
	}
	layer := im.Parsed.Layers[0].Digest
	for _, r := range reg.Requests() {
		if strings.Contains(r, layer) {
			t.Errorf("Resolve fetched the layer: %s", r)
		}
	}
	reg.ExpireTokens()
	got, err := readAll(t.Context(), im, layer)
	if err != nil || !bytes.Equal(got, b.Layer) {
		t.Fatalf("Open(layer) after the token expired = %d bytes, %v", len(got), err)
	}
}

// TestResolveOtherPlatform checks that a layout's lone image is resolved
// whatever its platform, and that CheckPlatform says what is wrong.
func TestResolveOtherPlatform(t *testing.T) {
	p := layout(t, t.TempDir(), build(t, linuxARM64))
	im, err := ociimage.Resolve(t.Context(), p, ociimage.ResolveOptions{Platform: linuxAMD64})
	if err != nil {
		t.Fatal(err)
	}
	err = ociimage.CheckPlatform(im.Config, linuxAMD64)
	wantErr(t, err, ociimage.ErrPlatform, "image is linux/arm64 but this node runs linux/amd64; build or pull the image for linux/amd64")
}

func TestResolveDefaults(t *testing.T) {
	b := build(t, ociimage.DefaultPlatform())
	dir := t.TempDir()
	layout(t, dir, b)
	t.Chdir(dir)
	im, err := ociimage.Resolve(t.Context(), "layout", ociimage.ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if im.Digest != b.Digest {
		t.Errorf("Digest = %s, want %s", im.Digest, b.Digest)
	}
	if err := ociimage.CheckPlatform(im.Config, ociimage.DefaultPlatform()); err != nil {
		t.Error(err)
	}
}

// corrupt flips the last byte of a file, keeping its size.
func corrupt(t *testing.T, p string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 0xff
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestResolveErrors(t *testing.T) {
	amd := build(t, linuxAMD64)
	arm := build(t, linuxARM64)
	twoImages := func(t *testing.T, dir string) string {
		p := layout(t, dir, amd)
		arm.WriteLayout(p)
		a, b := amd.Descriptor(), arm.Descriptor()
		a.Platform, b.Platform = nil, nil
		a.Annotations = map[string]string{ociimage.AnnotationRefName: "one"}
		b.Annotations = map[string]string{ociimage.AnnotationRefName: "two"}
		writeFile(t, p, "index.json", mustJSON(t, ociimage.Index{SchemaVersion: 2, Manifests: []ociimage.Descriptor{a, b}}))
		return p
	}
	// pushManifest pushes amd with its manifest changed by edit.
	pushManifest := func(t *testing.T, edit func(m map[string]any)) string {
		reg := registrytest.New(t)
		reg.Push("app", "", amd)
		var m map[string]any
		json.Unmarshal(amd.Manifest, &m)
		edit(m)
		reg.PutManifest("app", "v1", ociimage.MediaTypeImageManifest, mustJSON(t, m))
		return reg.Host() + "/app:v1"
	}
	tests := []struct {
		name   string
		setup  func(t *testing.T, dir string) (string, ociimage.ResolveOptions)
		target error
		words  []string
	}{
		{"path missing", func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			return "./nope", ociimage.ResolveOptions{Dir: dir}
		}, ociimage.ErrNotFound, []string{"does not exist", "[build]"}},
		{"directory that is no image", func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			writeFile(t, dir, "x/readme", []byte("x"))
			return "./x", ociimage.ResolveOptions{Dir: dir}
		}, ociimage.ErrInvalid, []string{"neither an OCI image layout", "docker-save"}},
		{"layout without index.json", func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			p := layout(t, dir, amd)
			os.Remove(filepath.Join(p, "index.json"))
			return p, ociimage.ResolveOptions{}
		}, ociimage.ErrInvalid, []string{"no index.json"}},
		{"layout of another version", func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			p := layout(t, dir, amd)
			writeFile(t, p, "oci-layout", []byte(`{"imageLayoutVersion":"2.0.0"}`))
			return p, ociimage.ResolveOptions{}
		}, ociimage.ErrUnsupported, []string{"imageLayoutVersion", "2.0.0"}},
		{"layout index.json malformed", func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			p := layout(t, dir, amd)
			writeFile(t, p, "index.json", []byte(`{"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"sha256:abc","size":1}]}`))
			return p, ociimage.ResolveOptions{}
		}, ociimage.ErrInvalid, []string{"index.json", "manifests[0].digest", "sha256:abc"}},
		{"layout layer missing", func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			p := layout(t, dir, amd)
			os.Remove(blobFile(p, amd.Image().Parsed.Layers[0].Digest))
			return p, ociimage.ResolveOptions{}
		}, ociimage.ErrNotFound, []string{"layers[0]", "missing from the layout"}},
		{"layout layer of the wrong size", func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			p := layout(t, dir, amd)
			f, _ := os.OpenFile(blobFile(p, amd.Image().Parsed.Layers[0].Digest), os.O_APPEND|os.O_WRONLY, 0)
			f.Write([]byte("x"))
			f.Close()
			return p, ociimage.ResolveOptions{}
		}, ociimage.ErrDigest, []string{"layers[0]", "bytes, the manifest says"}},
		{"layout config corrupt", func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			p := layout(t, dir, amd)
			corrupt(t, blobFile(p, amd.Image().Parsed.Config.Digest))
			return p, ociimage.ResolveOptions{}
		}, ociimage.ErrDigest, []string{"config sha256:", "has digest"}},
		{"layout manifest corrupt", func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			p := layout(t, dir, amd)
			corrupt(t, blobFile(p, amd.Digest))
			return p, ociimage.ResolveOptions{}
		}, ociimage.ErrDigest, []string{"manifest " + amd.Digest}},
		{"layout manifest missing", func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			p := layout(t, dir, amd)
			os.Remove(blobFile(p, amd.Digest))
			return p, ociimage.ResolveOptions{}
		}, ociimage.ErrNotFound, []string{amd.Digest, "missing from the layout"}},
		{"layout with two images, no name", func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			return twoImages(t, dir), ociimage.ResolveOptions{}
		}, ociimage.ErrAmbiguous, []string{"2 images", "one, two", "PATH:NAME"}},
		{"layout with two images, unknown name", func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			return twoImages(t, dir) + ":three", ociimage.ResolveOptions{}
		}, ociimage.ErrNotFound, []string{`"three"`, "one, two"}},
		{"layout with two images for other platforms", func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			p := layout(t, dir, arm)
			arm7 := build(t, ociimage.Platform{OS: "linux", Architecture: "arm", Variant: "v7"})
			arm7.WriteLayout(p)
			writeFile(t, p, "index.json", mustJSON(t, ociimage.Index{SchemaVersion: 2, Manifests: []ociimage.Descriptor{arm.Descriptor(), arm7.Descriptor()}}))
			return p, ociimage.ResolveOptions{Platform: linuxAMD64}
		}, ociimage.ErrPlatform, []string{"no image for linux/amd64", "only for linux/arm/v7, linux/arm64"}},
		{"archive that is no tar", func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			return writeFile(t, dir, "x.tar", bytes.Repeat([]byte("not a tar "), 100)), ociimage.ResolveOptions{}
		}, ociimage.ErrInvalid, []string{"not a tar archive"}},
		{"zstd archive", func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			return writeFile(t, dir, "x.tar.zst", []byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0}), ociimage.ResolveOptions{}
		}, ociimage.ErrUnsupported, []string{"zstd"}},
		{"OCI archive missing its layer", func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			var buf bytes.Buffer
			amd.WriteArchive(&buf)
			var entries []tarEntry
			for _, n := range tarFiles(t, buf.Bytes()) {
				if strings.HasPrefix(n, "blobs/sha256/") && n != "blobs/sha256/" {
					d := "sha256:" + strings.TrimPrefix(n, "blobs/sha256/")
					if data, _ := amd.Blob(d); d != amd.Image().Parsed.Layers[0].Digest {
						entries = append(entries, tarEntry{name: n, data: data})
					}
				}
			}
			entries = append(entries, tarEntry{name: "oci-layout", data: []byte(`{"imageLayoutVersion":"1.0.0"}`)},
				tarEntry{name: "index.json", data: mustJSON(t, ociimage.Index{SchemaVersion: 2, Manifests: []ociimage.Descriptor{amd.Descriptor()}})})
			return writeFile(t, dir, "x.tar", makeTar(t, entries)), ociimage.ResolveOptions{}
		}, ociimage.ErrNotFound, []string{"layers[0]", "missing"}},
		{"docker-save with a layer missing", func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			return writeFile(t, dir, "save.tar", makeTar(t, dockerSave(t, amd)[1:])), ociimage.ResolveOptions{}
		}, ociimage.ErrNotFound, []string{"layer", "missing", "save the image again"}},
		{"docker-save with two images", func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			entries := dockerSave(t, amd, "a:1")
			var m []map[string]any
			json.Unmarshal(entries[2].data, &m)
			m = append(m, map[string]any{"Config": m[0]["Config"], "Layers": m[0]["Layers"], "RepoTags": []string{"b:2"}})
			entries[2].data = mustJSON(t, m)
			return writeFile(t, dir, "save.tar", makeTar(t, entries)), ociimage.ResolveOptions{}
		}, ociimage.ErrAmbiguous, []string{"2 images", "a:1, b:2", "PATH:TAG"}},
		{"docker-save manifest.json malformed", func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			entries := dockerSave(t, amd)
			entries[2].data = []byte(`[{"Config":"","Layers":["x"]}]`)
			return writeFile(t, dir, "save.tar", makeTar(t, entries)), ociimage.ResolveOptions{}
		}, ociimage.ErrInvalid, []string{"manifest.json", "[0].Config"}},
		{"registry tag unknown", func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			reg := registrytest.New(t)
			reg.Push("app", "v1", amd)
			return reg.Host() + "/app:v2", ociimage.ResolveOptions{}
		}, ociimage.ErrNotFound, []string{"MANIFEST_UNKNOWN", "app", "check the repository, tag"}},
		{"registry repository unknown", func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			return registrytest.New(t).Host() + "/nope", ociimage.ResolveOptions{}
		}, ociimage.ErrNotFound, []string{"NAME_UNKNOWN"}},
		{"registry bearer auth without credentials", func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			reg := registrytest.New(t, registrytest.WithBearerAuth("u", "p"))
			reg.Push("app", "v1", amd)
			return reg.Host() + "/app:v1", ociimage.ResolveOptions{}
		}, ociimage.ErrAuth, []string{"no anonymous access", "give credentials"}},
		{"registry bearer auth, wrong password", func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			reg := registrytest.New(t, registrytest.WithBearerAuth("u", "p"))
			reg.Push("app", "v1", amd)
			return reg.Host() + "/app:v1", ociimage.ResolveOptions{Credentials: func(string) (string, string, bool) { return "u", "wrong", true }}
		}, ociimage.ErrAuth, []string{"refused the credentials"}},
		{"registry basic auth without credentials", func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			reg := registrytest.New(t, registrytest.WithBasicAuth("u", "p"))
			reg.Push("app", "v1", amd)
			return reg.Host() + "/app:v1", ociimage.ResolveOptions{}
		}, ociimage.ErrAuth, []string{"asks for a user name and password"}},
		{"registry basic auth, wrong password", func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			reg := registrytest.New(t, registrytest.WithBasicAuth("u", "p"))
			reg.Push("app", "v1", amd)
			return reg.Host() + "/app:v1", ociimage.ResolveOptions{Credentials: func(string) (string, string, bool) { return "u", "wrong", true }}
		}, ociimage.ErrAuth, []string{"refused", "check the credentials"}},
		{"registry manifest does not match the digest asked for", func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			reg := registrytest.New(t)
			reg.Push("app", "", amd)
			reg.PutManifest("app", arm.Digest, ociimage.MediaTypeImageManifest, amd.Manifest)
			return reg.Host() + "/app@" + arm.Digest, ociimage.ResolveOptions{}
		}, ociimage.ErrDigest, []string{"whose digest is " + amd.Digest}},
		{"registry index without the platform", func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			reg := registrytest.New(t)
			reg.PushIndex("app", "v1", arm)
			return reg.Host() + "/app:v1", ociimage.ResolveOptions{Platform: linuxAMD64}
		}, ociimage.ErrPlatform, []string{"no image for linux/amd64, only for linux/arm64", "build or pull the image for linux/amd64"}},
		{"registry index entry is corrupt", func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			reg := registrytest.New(t)
			reg.Push("app", "", amd)
			reg.PutManifest("app", amd.Digest, ociimage.MediaTypeImageManifest, arm.Manifest)
			reg.PutManifest("app", "v1", ociimage.MediaTypeImageIndex, mustJSON(t, ociimage.Index{SchemaVersion: 2, Manifests: []ociimage.Descriptor{amd.Descriptor()}}))
			return reg.Host() + "/app:v1", ociimage.ResolveOptions{}
		}, ociimage.ErrDigest, []string{"manifest " + amd.Digest, "has digest"}},
		{"registry zstd layer", func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			return pushManifest(t, func(m map[string]any) {
				m["layers"].([]any)[0].(map[string]any)["mediaType"] = ociimage.MediaTypeImageLayerZstd
			}), ociimage.ResolveOptions{}
		}, ociimage.ErrUnsupported, []string{"layers[0].mediaType", "zstd", "gzip"}},
		{"registry artifact, not an image", func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			return pushManifest(t, func(m map[string]any) {
				m["config"].(map[string]any)["mediaType"] = "application/vnd.wasm.config.v0+json"
			}), ociimage.ResolveOptions{}
		}, ociimage.ErrUnsupported, []string{"config.mediaType", "not a container image config"}},
		{"registry schema 1", func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			reg := registrytest.New(t)
			reg.PutManifest("app", "v1", ociimage.MediaTypeDockerSchema1Signed, []byte(`{"schemaVersion":1,"name":"app","tag":"v1","fsLayers":[]}`))
			return reg.Host() + "/app:v1", ociimage.ResolveOptions{}
		}, ociimage.ErrNotFound, []string{"Accept header"}},
		{"registry schema 1 sent as schema 2", func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			reg := registrytest.New(t)
			reg.PutManifest("app", "v1", ociimage.MediaTypeDockerManifest, []byte(`{"schemaVersion":1,"name":"app","tag":"v1","fsLayers":[]}`))
			return reg.Host() + "/app:v1", ociimage.ResolveOptions{}
		}, ociimage.ErrUnsupported, []string{"schema 1", "push the image again"}},
		{"registry config missing", func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			reg := registrytest.New(t)
			reg.Push("app", "v1", amd)
			reg.DeleteBlob("app", amd.Image().Parsed.Config.Digest)
			return reg.Host() + "/app:v1", ociimage.ResolveOptions{}
		}, ociimage.ErrNotFound, []string{"BLOB_UNKNOWN", "blob sha256:"}},
		{"registry config corrupt", func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			reg := registrytest.New(t)
			reg.Push("app", "v1", amd)
			bad := bytes.Clone(amd.Config)
			bad[0] = ' '
			reg.SetBlob("app", amd.Image().Parsed.Config.Digest, bad)
			return reg.Host() + "/app:v1", ociimage.ResolveOptions{}
		}, ociimage.ErrDigest, []string{"config sha256:", "has digest"}},
		{"config with fewer diff IDs than layers", func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			return pushManifest(t, func(m map[string]any) {
				l := m["layers"].([]any)
				m["layers"] = append(l, l[0])
			}), ociimage.ResolveOptions{}
		}, ociimage.ErrInvalid, []string{"1 rootfs.diff_ids for the manifest's 2 layers"}},
		{"malformed reference", func(t *testing.T, dir string) (string, ociimage.ResolveOptions) {
			return "ghcr.io/Owner/app:1", ociimage.ResolveOptions{Dir: dir}
		}, ociimage.ErrInvalid, []string{"must be lowercase"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref, opts := tt.setup(t, t.TempDir())
			if opts.Platform == (ociimage.Platform{}) {
				opts.Platform = linuxAMD64
			}
			im, err := ociimage.Resolve(t.Context(), ref, opts)
			if err == nil {
				t.Fatalf("Resolve(%s) = image %s, want an error", ref, im.Digest)
			}
			wantErr(t, err, tt.target, tt.words...)
		})
	}
}

// TestOpenErrors covers blobs that go wrong after Resolve: corrupt,
// longer than their size, missing, and digests that are not the image's.
func TestOpenErrors(t *testing.T) {
	b := build(t, linuxAMD64)
	layerDigest := b.Image().Parsed.Layers[0].Digest
	tests := []struct {
		name   string
		setup  func(t *testing.T) *ociimage.Image
		digest string
		target error
		words  []string
	}{
		{"layout layer corrupt", func(t *testing.T) *ociimage.Image {
			p := layout(t, t.TempDir(), b)
			corrupt(t, blobFile(p, layerDigest))
			im, err := ociimage.Resolve(t.Context(), p, ociimage.ResolveOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return im
		}, layerDigest, ociimage.ErrDigest, []string{"blob " + layerDigest + " of /", "has digest", "corrupt"}},
		{"layout layer removed after Resolve", func(t *testing.T) *ociimage.Image {
			p := layout(t, t.TempDir(), b)
			im, err := ociimage.Resolve(t.Context(), p, ociimage.ResolveOptions{})
			if err != nil {
				t.Fatal(err)
			}
			os.Remove(blobFile(p, layerDigest))
			return im
		}, layerDigest, ociimage.ErrNotFound, []string{"missing from the layout"}},
		{"registry layer corrupt", func(t *testing.T) *ociimage.Image {
			reg := registrytest.New(t)
			reg.Push("app", "v1", b)
			bad := bytes.Clone(b.Layer)
			bad[len(bad)/2] ^= 1
			reg.SetBlob("app", layerDigest, bad)
			im, err := ociimage.Resolve(t.Context(), reg.Host()+"/app:v1", ociimage.ResolveOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return im
		}, layerDigest, ociimage.ErrDigest, []string{"has digest"}},
		{"registry layer longer than its size", func(t *testing.T) *ociimage.Image {
			reg := registrytest.New(t)
			reg.Push("app", "v1", b)
			reg.SetBlob("app", layerDigest, append(bytes.Clone(b.Layer), 0))
			im, err := ociimage.Resolve(t.Context(), reg.Host()+"/app:v1", ociimage.ResolveOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return im
		}, layerDigest, ociimage.ErrDigest, []string{"its descriptor says"}},
		{"registry layer missing", func(t *testing.T) *ociimage.Image {
			reg := registrytest.New(t)
			reg.Push("app", "v1", b)
			reg.DeleteBlob("app", layerDigest)
			im, err := ociimage.Resolve(t.Context(), reg.Host()+"/app:v1", ociimage.ResolveOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return im
		}, layerDigest, ociimage.ErrNotFound, []string{"BLOB_UNKNOWN"}},
		{"digest not in the image", func(t *testing.T) *ociimage.Image { return b.Image() },
			ociimage.DigestOf([]byte("other")), ociimage.ErrNotFound, []string{"not part of image"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			im := tt.setup(t)
			_, err := readAll(t.Context(), im, tt.digest)
			wantErr(t, err, tt.target, tt.words...)
		})
	}
}

func TestCheckPlatform(t *testing.T) {
	tests := []struct {
		have, want ociimage.Platform
		ok         bool
	}{
		{linuxAMD64, linuxAMD64, true},
		{linuxARM64, ociimage.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, true},
		{ociimage.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}, ociimage.Platform{OS: "linux", Architecture: "arm"}, true},
		{ociimage.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}, ociimage.Platform{OS: "linux", Architecture: "arm"}, false},
		{linuxARM64, linuxAMD64, false},
		{ociimage.Platform{OS: "windows", Architecture: "amd64"}, linuxAMD64, false},
	}
	for _, tt := range tests {
		t.Run(tt.have.String()+" on "+tt.want.String(), func(t *testing.T) {
			c := ociimage.Config{OS: tt.have.OS, Architecture: tt.have.Architecture, Variant: tt.have.Variant}
			err := ociimage.CheckPlatform(c, tt.want)
			if tt.ok {
				if err != nil {
					t.Errorf("CheckPlatform: %v", err)
				}
				return
			}
			wantErr(t, err, ociimage.ErrPlatform, "image is "+tt.have.String()+" but this node runs "+tt.want.String(), "build or pull the image for "+tt.want.String())
		})
	}
}
