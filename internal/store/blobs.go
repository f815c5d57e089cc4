package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/mote-run/mote/api"
)

// blobTimeout bounds PutBlob and Blob when their context has no deadline
// (the NATS client would otherwise apply its 5 s API timeout to the whole
// transfer).
const blobTimeout = 2 * time.Minute

// CheckDigest reports whether digest is "sha256:" followed by 64 lowercase
// hex digits; ErrInvalidDigest if not.
func CheckDigest(digest string) error {
	const prefix = "sha256:"
	if len(digest) != len(prefix)+64 || digest[:len(prefix)] != prefix {
		return fmt.Errorf("%w: %q", ErrInvalidDigest, digest)
	}
	for _, c := range []byte(digest[len(prefix):]) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return fmt.Errorf("%w: %q", ErrInvalidDigest, digest)
		}
	}
	return nil
}

// PutBlob stores the content r yields under digest, hashing it as it
// streams. It returns ErrDigestMismatch if the content does not hash to
// digest and ErrTooLarge once it passes Options.MaxBlobSize; in both cases
// nothing is stored. If the digest is already stored, PutBlob does not read
// r and returns the stored blob's info.
//
// A process that dies during an upload can leave the chunks it wrote behind,
// unreferenced; they are not reclaimed.
func (s *Store) PutBlob(ctx context.Context, digest string, r io.Reader) (api.BlobInfo, error) {
	if err := CheckDigest(digest); err != nil {
		return api.BlobInfo{}, err
	}
	// Two uploads of one digest would each replace the other's chunks,
	// possibly under a reader; one at a time (per process) avoids that.
	mu := &s.blobLocks[hexNibble(digest[7])<<2|hexNibble(digest[8])>>2]
	mu.Lock()
	defer mu.Unlock()

	if info, err := s.BlobInfo(ctx, digest); err == nil {
		return info, nil
	} else if !errors.Is(err, ErrNotFound) {
		return api.BlobInfo{}, fmt.Errorf("put blob %s: %w", digest, err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, blobTimeout)
		defer cancel()
	}
	vr := &verifyingReader{r: r, h: sha256.New(), max: s.opts.MaxBlobSize, want: digest}
	info, err := s.blobs.Put(ctx, jetstream.ObjectMeta{Name: digest}, vr)
	if err != nil {
		if vr.err != nil && (errors.Is(vr.err, ErrDigestMismatch) || errors.Is(vr.err, ErrTooLarge)) {
			return api.BlobInfo{}, fmt.Errorf("put blob %s: %w", digest, vr.err)
		}
		return api.BlobInfo{}, fmt.Errorf("put blob %s: %w", digest, err)
	}
	return api.BlobInfo{Digest: digest, Size: int64(info.Size)}, nil
}

// Blob returns the content stored under digest after checking that it still
// hashes to digest: ErrCorrupt if not, ErrNotFound if there is no such blob.
// The whole blob is read into memory (at most MaxBlobSize when it was put).
func (s *Store) Blob(ctx context.Context, digest string) ([]byte, error) {
	if err := CheckDigest(digest); err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, blobTimeout)
		defer cancel()
	}
	res, err := s.blobs.Get(ctx, digest)
	if err != nil {
		return nil, fmt.Errorf("get blob %s: %w", digest, objErr(err))
	}
	defer res.Close()
	info, err := res.Info()
	if err != nil {
		return nil, fmt.Errorf("get blob %s: %w", digest, objErr(err))
	}
	var buf bytes.Buffer
	buf.Grow(int(info.Size))
	// Never read more than the metadata promises.
	if _, err := io.Copy(&buf, io.LimitReader(res, int64(info.Size)+1)); err != nil {
		if errors.Is(err, jetstream.ErrDigestMismatch) {
			return nil, fmt.Errorf("get blob %s: %w: chunks do not match the object's digest", digest, ErrCorrupt)
		}
		return nil, fmt.Errorf("get blob %s: %w", digest, err)
	}
	if uint64(buf.Len()) != info.Size {
		return nil, fmt.Errorf("get blob %s: %w: read %d bytes, want %d", digest, ErrCorrupt, buf.Len(), info.Size)
	}
	sum := sha256.Sum256(buf.Bytes())
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != digest {
		return nil, fmt.Errorf("get blob %s: %w: content hashes to %s", digest, ErrCorrupt, got)
	}
	return buf.Bytes(), nil
}

// BlobInfo describes the blob stored under digest; ErrNotFound if none.
func (s *Store) BlobInfo(ctx context.Context, digest string) (api.BlobInfo, error) {
	if err := CheckDigest(digest); err != nil {
		return api.BlobInfo{}, err
	}
	info, err := s.blobs.GetInfo(ctx, digest)
	if err != nil {
		return api.BlobInfo{}, fmt.Errorf("blob info %s: %w", digest, objErr(err))
	}
	return api.BlobInfo{Digest: digest, Size: int64(info.Size)}, nil
}

func objErr(err error) error {
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return ErrNotFound
	}
	return err
}

// verifyingReader hashes and counts what it passes on. At EOF it compares
// the hash with want and, instead of io.EOF, returns ErrDigestMismatch when
// they differ; past max bytes it returns ErrTooLarge. The object store
// purges the chunks it wrote when its reader fails, so a bad upload leaves
// nothing behind.
type verifyingReader struct {
	r    io.Reader
	h    hash.Hash
	n    int64
	max  int64
	want string
	err  error
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.r.Read(p)
	v.n += int64(n)
	if v.n > v.max {
		v.err = fmt.Errorf("%w: a blob of more than %d bytes", ErrTooLarge, v.max)
		return 0, v.err
	}
	v.h.Write(p[:n])
	switch {
	case err == io.EOF:
		if got := "sha256:" + hex.EncodeToString(v.h.Sum(nil)); got != v.want {
			v.err = fmt.Errorf("%w: content hashes to %s", ErrDigestMismatch, got)
			return 0, v.err
		}
		return n, io.EOF
	case err != nil:
		v.err = err
	}
	return n, err
}

func hexNibble(c byte) byte {
	if c >= 'a' {
		return c - 'a' + 10
	}
	return c - '0'
}

// MaxBlobSize is the largest blob PutBlob accepts.
func (s *Store) MaxBlobSize() int64 { return s.opts.MaxBlobSize }
