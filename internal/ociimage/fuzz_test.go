package ociimage

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// seedImage is an image the fuzzers start from.
func seedImage(f *testing.F) *Built {
	b, err := Build([]File{{Path: "/hello", Mode: 0o755, Data: []byte("hi")}, {Path: "/bin/sh", Link: "/hello"}},
		ContainerConfig{Entrypoint: []string{"/hello"}, Env: []string{"A=b"}, ExposedPorts: map[string]struct{}{"8080/tcp": {}}},
		Platform{OS: "linux", Architecture: "amd64"})
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// classified checks that a parser's error wraps one of its classes.
func classified(t *testing.T, err error) {
	if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnsupported) {
		t.Fatalf("error %v wraps neither ErrInvalid nor ErrUnsupported", err)
	}
}

func FuzzParseManifest(f *testing.F) {
	b := seedImage(f)
	f.Add(b.Manifest)
	f.Add(bytes.ReplaceAll(b.Manifest, []byte(MediaTypeImageLayerGzip), []byte(MediaTypeImageLayerZstd)))
	f.Add([]byte(`{"schemaVersion":1}`))
	f.Add([]byte(`{"schemaVersion":2,"layers":[{}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			classified(t, err)
			return
		}
		if len(m.Layers) == 0 || len(m.Layers) > MaxLayers || !ValidDigest(m.Config.Digest) {
			t.Fatalf("accepted %+v", m)
		}
		enc := mustMarshal(t, m)
		again, err := ParseManifest(enc)
		if err != nil || !bytes.Equal(mustMarshal(t, again), enc) {
			t.Fatalf("re-encoded manifest parses to %+v, %v; want %+v", again, err, m)
		}
	})
}

func FuzzParseIndex(f *testing.F) {
	b := seedImage(f)
	f.Add(mustMarshal(f, Index{SchemaVersion: 2, MediaType: MediaTypeImageIndex, Manifests: []Descriptor{b.Descriptor()}}))
	f.Add([]byte(`{"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"sha256:1","size":-1}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := ParseIndex(data)
		if err != nil {
			classified(t, err)
			return
		}
		for _, d := range x.Manifests {
			if !ValidDigest(d.Digest) || d.Size < 0 || d.MediaType == "" {
				t.Fatalf("accepted %+v", d)
			}
		}
		enc := mustMarshal(t, x)
		again, err := ParseIndex(enc)
		if err != nil || !bytes.Equal(mustMarshal(t, again), enc) {
			t.Fatalf("re-encoded index parses to %+v, %v; want %+v", again, err, x)
		}
	})
}

func FuzzParseConfig(f *testing.F) {
	b := seedImage(f)
	f.Add(b.Config)
	f.Add([]byte(`{"os":"linux","architecture":"arm64","rootfs":{"type":"layers","diff_ids":[]},"config":{"Env":["A"]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			classified(t, err)
			return
		}
		if c.OS == "" || c.Architecture == "" || c.RootFS.Type != "layers" {
			t.Fatalf("accepted %+v", c)
		}
		if _, err := ParseConfig(mustMarshal(t, c)); err != nil {
			t.Fatalf("re-encoded config does not parse: %v", err)
		}
	})
}

func FuzzParseReference(f *testing.F) {
	for _, s := range []string{"nginx", "ghcr.io/o/a:v1", "localhost:5000/a@sha256:" + string(bytes.Repeat([]byte("a"), 64)),
		"[::1]:80/x:y", "a/b/c", "A:b", "x@sha512:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseReference(s)
		if err != nil {
			classified(t, err)
			return
		}
		again, err := ParseReference(r.String())
		if err != nil || again != r {
			t.Fatalf("ParseReference(%q) = %+v; its String %q parses to %+v, %v", s, r, r.String(), again, err)
		}
	})
}

func FuzzParseDockerManifest(f *testing.F) {
	f.Add([]byte(`[{"Config":"abc.json","RepoTags":["a:1"],"Layers":["x/layer.tar"]}]`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		es, err := parseDockerManifest(data)
		if err != nil {
			classified(t, err)
			return
		}
		if len(es) == 0 {
			t.Fatal("accepted no images")
		}
		for _, e := range es {
			if e.Config == "" || len(e.Layers) == 0 || len(e.Layers) > MaxLayers {
				t.Fatalf("accepted %+v", e)
			}
		}
	})
}

func FuzzParseChallenge(f *testing.F) {
	f.Add(`Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"`)
	f.Add(`Basic realm="x\"y"`)
	f.Fuzz(func(t *testing.T, s string) {
		parseChallenge(s) // must return, without panicking
	})
}

// FuzzResolveArchive feeds archives to the layout and docker-save readers.
func FuzzResolveArchive(f *testing.F) {
	b := seedImage(f)
	var oci bytes.Buffer
	if err := b.WriteArchive(&oci); err != nil {
		f.Fatal(err)
	}
	f.Add(oci.Bytes())
	f.Add([]byte{0x1f, 0x8b, 0, 0})
	f.Add(dockerSaveSeed(f, b))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), "image.tar")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		im, err := Resolve(t.Context(), p, ResolveOptions{Platform: Platform{OS: "linux", Architecture: "amd64"}})
		if err != nil {
			return
		}
		for _, d := range im.Blobs() {
			rc, err := im.Open(t.Context(), d.Digest)
			if err != nil {
				continue
			}
			io.Copy(io.Discard, rc)
			rc.Close()
		}
	})
}

// dockerSaveSeed is a docker-save archive of b whose layer is a symbolic
// link to the tar, as old docker versions wrote repeated layers.
func dockerSaveSeed(t testing.TB, b *Built) []byte {
	var save bytes.Buffer
	tw := tar.NewWriter(&save)
	layer, _ := b.Blob(b.parsed.Layers[0].Digest)
	for _, e := range []struct {
		name, link string
		data       []byte
	}{
		{name: "l/layer.tar", data: layer},
		{name: "m/layer.tar", link: "../l/layer.tar"},
		{name: "c.json", data: b.Config},
		{name: "manifest.json", data: []byte(`[{"Config":"c.json","RepoTags":["a:1"],"Layers":["m/layer.tar"]}]`)},
	} {
		h := &tar.Header{Name: e.name, Typeflag: tar.TypeReg, Size: int64(len(e.data)), Mode: 0o644}
		if e.link != "" {
			h.Typeflag, h.Linkname = tar.TypeSymlink, e.link
		}
		tw.WriteHeader(h)
		tw.Write(e.data)
	}
	tw.Close()
	return save.Bytes()
}

func TestDockerSaveLinkedLayer(t *testing.T) {
	b, err := Build([]File{{Path: "/x", Data: []byte("x")}}, ContainerConfig{}, Platform{OS: "linux", Architecture: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "save.tar")
	if err := os.WriteFile(p, dockerSaveSeed(t, b), 0o644); err != nil {
		t.Fatal(err)
	}
	im, err := Resolve(t.Context(), p, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if l := im.Parsed.Layers[0]; l.Digest != DigestOf(b.Layer) || l.MediaType != MediaTypeImageLayerGzip {
		t.Errorf("layer = %+v, want the gzipped tar, %s", l, DigestOf(b.Layer))
	}
	rc, err := im.Open(t.Context(), im.Parsed.Layers[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if got, err := io.ReadAll(rc); err != nil || !bytes.Equal(got, b.Layer) {
		t.Errorf("Open(layer) = %d bytes, %v", len(got), err)
	}
}

func mustMarshal(t testing.TB, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
