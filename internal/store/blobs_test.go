package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// blobStreamMsgs counts the messages in the object store's stream: chunks
// and metadata. Nothing may be left behind by a rejected upload.
func blobStreamMsgs(t *testing.T, s *Store) uint64 {
	t.Helper()
	st, err := s.js.Stream(t.Context(), "OBJ_"+blobsBucket)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func TestBlobRoundTrip(t *testing.T) {
	s := openStore(t, "")
	ctx := t.Context()
	for _, size := range []int{0, 1, 128 << 10, 300<<10 + 7} {
		content := bytes.Repeat([]byte("wasm"), size/4+1)[:size]
		d := digestOf(content)
		info, err := s.PutBlob(ctx, d, bytes.NewReader(content))
		if err != nil {
			t.Fatalf("PutBlob %d bytes: %v", size, err)
		}
		if info.Digest != d || info.Size != int64(size) {
			t.Errorf("PutBlob info %+v, want %s %d", info, d, size)
		}
		got, err := s.Blob(ctx, d)
		if err != nil {
			t.Fatalf("Blob %d bytes: %v", size, err)
		}
		if !bytes.Equal(got, content) {
			t.Errorf("Blob %d bytes: content differs", size)
		}
		if bi, err := s.BlobInfo(ctx, d); err != nil || bi != info {
			t.Errorf("BlobInfo = %+v, %v; want %+v", bi, err, info)
		}
	}

	// Putting a stored digest again does not read the body.
	content := []byte("again")
	d := digestOf(content)
	if _, err := s.PutBlob(ctx, d, bytes.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	if info, err := s.PutBlob(ctx, d, failingReader{}); err != nil || info.Size != int64(len(content)) {
		t.Errorf("PutBlob of a stored digest = %+v, %v", info, err)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("read must not happen") }

func TestBlobRejected(t *testing.T) {
	s := openStore(t, "", func(o *Options) { o.MaxBlobSize = 200 << 10 })
	ctx := t.Context()
	good := bytes.Repeat([]byte{7}, 150<<10)
	big := bytes.Repeat([]byte{7}, 200<<10+1)
	tests := []struct {
		name    string
		digest  string
		content []byte
		want    error
	}{
		{"mismatch", digestOf([]byte("other")), good, ErrDigestMismatch},
		{"mismatch empty", digestOf([]byte("other")), nil, ErrDigestMismatch},
		{"too large", digestOf(big), big, ErrTooLarge},
		{"uppercase", strings.ToUpper(digestOf(good)), good, ErrInvalidDigest},
		{"no prefix", digestOf(good)[7:], good, ErrInvalidDigest},
		{"sha512", "sha512:" + digestOf(good)[7:], good, ErrInvalidDigest},
		{"short", digestOf(good)[:70], good, ErrInvalidDigest},
		{"traversal", "sha256:../../" + digestOf(good)[20:], good, ErrInvalidDigest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := blobStreamMsgs(t, s)
			if _, err := s.PutBlob(ctx, tt.digest, bytes.NewReader(tt.content)); !errors.Is(err, tt.want) {
				t.Fatalf("PutBlob: %v, want %v", err, tt.want)
			}
			if after := blobStreamMsgs(t, s); after != before {
				t.Errorf("rejected upload left %d messages in the object store", after-before)
			}
			if tt.want != ErrInvalidDigest {
				if _, err := s.BlobInfo(ctx, tt.digest); !errors.Is(err, ErrNotFound) {
					t.Errorf("BlobInfo after a rejected upload: %v, want ErrNotFound", err)
				}
			}
		})
	}
	if _, err := s.Blob(ctx, digestOf([]byte("never stored"))); !errors.Is(err, ErrNotFound) {
		t.Errorf("Blob of a missing digest: %v, want ErrNotFound", err)
	}
	if _, err := s.Blob(ctx, "sha256:nope"); !errors.Is(err, ErrInvalidDigest) {
		t.Errorf("Blob of a bad digest: %v, want ErrInvalidDigest", err)
	}
}

func TestBlobCorrupt(t *testing.T) {
	s := openStore(t, "")
	ctx := t.Context()
	// Content stored under another content's digest, as a disk or a bug
	// could leave it: the object store's own checksum matches, ours not.
	d := digestOf([]byte("the real module"))
	if _, err := s.blobs.Put(ctx, jetstream.ObjectMeta{Name: d}, strings.NewReader("something else")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Blob(ctx, d); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Blob of corrupt content: %v, want ErrCorrupt", err)
	}
	// A stored digest is trusted by PutBlob (no re-upload); Blob is where
	// corruption shows.
	if _, err := s.PutBlob(ctx, d, failingReader{}); err != nil {
		t.Errorf("PutBlob over a stored digest: %v", err)
	}
}

func FuzzCheckDigest(f *testing.F) {
	f.Add(digestOf(nil))
	f.Add("sha256:")
	f.Add("sha256:" + strings.Repeat("g", 64))
	f.Fuzz(func(t *testing.T, d string) {
		err := CheckDigest(d)
		want := len(d) == 71 && strings.HasPrefix(d, "sha256:") && strings.Trim(d[7:], "0123456789abcdef") == ""
		if (err == nil) != want {
			t.Fatalf("CheckDigest(%q) = %v, want valid=%v", d, err, want)
		}
	})
}

var _ io.Reader = (*verifyingReader)(nil)
