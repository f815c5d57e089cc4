package ociimage

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// maxArchiveEntries bounds the entries of an OCI or docker-save archive.
const maxArchiveEntries = 1 << 16

// store reads the files of a layout directory or an archive by
// slash-separated name relative to its root.
type store interface {
	// open returns the named regular file's content; a missing file is an
	// error wrapping fs.ErrNotExist.
	open(name string) (io.ReadCloser, error)
	// size returns the named regular file's size, or an error wrapping
	// fs.ErrNotExist.
	size(name string) (int64, error)
	// hash returns the sha256 digest, size and first bytes of each named
	// file, reading each once.
	hash(names []string) (map[string]fileSum, error)
}

// fileSum is what store.hash learns about a file.
type fileSum struct {
	digest string
	size   int64
	magic  []byte // the first up to 4 bytes
}

// sum hashes r into a fileSum.
func sum(r io.Reader) (fileSum, error) {
	h := sha256.New()
	br := bufio.NewReader(r)
	magic, _ := br.Peek(4)
	magic = bytes.Clone(magic)
	n, err := io.Copy(h, br)
	if err != nil {
		return fileSum{}, err
	}
	return fileSum{digest: "sha256:" + hex.EncodeToString(h.Sum(nil)), size: n, magic: magic}, nil
}

// readSmall reads a whole file of at most MaxManifestSize bytes from s.
func readSmall(s store, name, what string) ([]byte, error) {
	rc, err := s.open(name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, MaxManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, what, err)
	}
	if len(b) > MaxManifestSize {
		return nil, fmt.Errorf("%w: %s is over the %d MiB limit; %s", ErrInvalid, what, MaxManifestSize>>20, redo)
	}
	return b, nil
}

// cleanName turns a name inside an archive or layout into the form
// store methods take: slash-separated, relative, cleaned. It returns ""
// for names that leave the root.
func cleanName(name string) string {
	name = path.Clean("/" + strings.TrimLeft(name, "/"))
	name = strings.TrimPrefix(name, "/")
	if name == "" || name == "." {
		return ""
	}
	return name
}

// dirStore is a directory: a layout or an unpacked docker-save archive.
// Files are opened through os.Root, so names (untrusted, from manifest.json)
// and symbolic links cannot leave it.
type dirStore struct{ dir string }

func (s dirStore) open(name string) (io.ReadCloser, error) {
	root, err := os.OpenRoot(s.dir)
	if err != nil {
		return nil, err
	}
	defer root.Close() // files opened through it stay open
	n := cleanName(name)
	if n == "" {
		return nil, fmt.Errorf("%s: %w", name, fs.ErrNotExist)
	}
	f, err := root.Open(filepath.FromSlash(n))
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file: %w", name, fs.ErrNotExist)
	}
	return f, nil
}

func (s dirStore) size(name string) (int64, error) {
	root, err := os.OpenRoot(s.dir)
	if err != nil {
		return 0, err
	}
	defer root.Close()
	n := cleanName(name)
	if n == "" {
		return 0, fmt.Errorf("%s: %w", name, fs.ErrNotExist)
	}
	st, err := root.Stat(filepath.FromSlash(n))
	if err != nil {
		return 0, err
	}
	if !st.Mode().IsRegular() {
		return 0, fmt.Errorf("%s is not a regular file: %w", name, fs.ErrNotExist)
	}
	return st.Size(), nil
}

func (s dirStore) hash(names []string) (map[string]fileSum, error) {
	sums := make(map[string]fileSum, len(names))
	for _, n := range names {
		if _, ok := sums[n]; ok {
			continue
		}
		rc, err := s.open(n)
		if err != nil {
			return nil, err
		}
		fsum, err := sum(rc)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", n, err)
		}
		sums[n] = fsum
	}
	return sums, nil
}

// tarStore is an archive: a tar file, optionally gzipped. A plain tar is
// indexed once and its files are read in place; a gzipped one is read from
// its start for each file opened.
type tarStore struct {
	file    string
	gz      bool
	entries map[string]tarEntry
}

// tarEntry is a regular file in the archive: its position among the
// archive's headers (seq), the offset of its data (plain tar only) and its
// size.
type tarEntry struct {
	seq  int
	off  int64
	size int64
}

// Magic numbers at the start of compressed files.
var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// openArchive indexes the archive at file.
func openArchive(file string) (*tarStore, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	magic := make([]byte, 4)
	n, _ := io.ReadFull(f, magic)
	magic = magic[:n]
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	s := &tarStore{file: file, entries: map[string]tarEntry{}}
	var r io.Reader = f
	switch {
	case bytes.HasPrefix(magic, zstdMagic):
		return nil, fmt.Errorf("%w: %s is zstd-compressed; only plain and gzipped archives are supported, decompress it (zstd -d) or save it again", ErrUnsupported, file)
	case bytes.HasPrefix(magic, gzipMagic):
		s.gz = true
		zr, err := gzip.NewReader(bufio.NewReader(f))
		if err != nil {
			return nil, fmt.Errorf("%w: %s: gzip: %v", ErrInvalid, file, err)
		}
		r = zr
	}
	links := map[string]string{}
	tr := tar.NewReader(r)
	for seq := 0; ; seq++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s is not a tar archive (an OCI layout or docker-save archive): %v", ErrInvalid, file, err)
		}
		if seq >= maxArchiveEntries {
			return nil, fmt.Errorf("%w: %s has over %d entries; it is not an image archive", ErrInvalid, file, maxArchiveEntries)
		}
		name := cleanName(hdr.Name)
		if name == "" {
			continue
		}
		switch hdr.Typeflag {
		case tar.TypeReg:
			if sparse(hdr) {
				continue // its data is not stored as is
			}
			e := tarEntry{seq: seq, size: hdr.Size}
			if !s.gz {
				if e.off, err = f.Seek(0, io.SeekCurrent); err != nil {
					return nil, err
				}
			}
			s.entries[name] = e
			delete(links, name)
		case tar.TypeSymlink:
			target := hdr.Linkname
			if !strings.HasPrefix(target, "/") {
				target = path.Join(path.Dir(name), target)
			}
			links[name] = cleanName(target)
		case tar.TypeLink:
			links[name] = cleanName(hdr.Linkname)
		}
	}
	// Old docker-save archives link repeated layers to the first copy.
	for name, target := range links {
		for range 8 {
			if next, ok := links[target]; ok {
				target = next
				continue
			}
			break
		}
		if e, ok := s.entries[target]; ok {
			s.entries[name] = e
		}
	}
	return s, nil
}

func (s *tarStore) lookup(name string) (tarEntry, error) {
	e, ok := s.entries[cleanName(name)]
	if !ok {
		return tarEntry{}, fmt.Errorf("%s in %s: %w", name, s.file, fs.ErrNotExist)
	}
	return e, nil
}

func (s *tarStore) size(name string) (int64, error) {
	e, err := s.lookup(name)
	return e.size, err
}

func (s *tarStore) open(name string) (io.ReadCloser, error) {
	e, err := s.lookup(name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(s.file)
	if err != nil {
		return nil, err
	}
	if !s.gz {
		return readCloser{io.NewSectionReader(f, e.off, e.size), f}, nil
	}
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: %s: gzip: %v", ErrInvalid, s.file, err)
	}
	tr := tar.NewReader(zr)
	for seq := 0; seq <= e.seq; seq++ {
		if _, err := tr.Next(); err != nil {
			f.Close()
			if err == io.EOF {
				err = errors.New("archive changed since it was read")
			}
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, s.file, err)
		}
	}
	return readCloser{tr, f}, nil
}

func (s *tarStore) hash(names []string) (map[string]fileSum, error) {
	sums := make(map[string]fileSum, len(names))
	bySeq := map[int][]string{}
	unique := map[string]bool{}
	for _, n := range names {
		if unique[n] {
			continue
		}
		unique[n] = true
		e, err := s.lookup(n)
		if err != nil {
			return nil, err
		}
		bySeq[e.seq] = append(bySeq[e.seq], n)
	}
	if !s.gz {
		for _, ns := range bySeq {
			rc, err := s.open(ns[0])
			if err != nil {
				return nil, err
			}
			fsum, err := sum(rc)
			rc.Close()
			if err != nil {
				return nil, fmt.Errorf("read %s in %s: %w", ns[0], s.file, err)
			}
			for _, n := range ns {
				sums[n] = fsum
			}
		}
		return sums, nil
	}
	// One pass over a gzipped archive.
	f, err := os.Open(s.file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: gzip: %v", ErrInvalid, s.file, err)
	}
	tr := tar.NewReader(zr)
	for seq := 0; len(sums) < len(unique); seq++ {
		if _, err := tr.Next(); err != nil {
			if err == io.EOF {
				err = errors.New("archive changed since it was read")
			}
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, s.file, err)
		}
		ns, ok := bySeq[seq]
		if !ok {
			continue
		}
		fsum, err := sum(tr)
		if err != nil {
			return nil, fmt.Errorf("read %s in %s: %w", ns[0], s.file, err)
		}
		for _, n := range ns {
			sums[n] = fsum
		}
	}
	return sums, nil
}

// sparse reports whether hdr is a PAX sparse file.
func sparse(hdr *tar.Header) bool {
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// readCloser joins a Reader and the Closer that releases it.
type readCloser struct {
	io.Reader
	io.Closer
}
