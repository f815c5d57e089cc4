// Package rootfs turns the layers of an OCI image into a root filesystem
// directory for runc.
//
// [Apply] applies one layer (a tar stream, plain or gzip-compressed) onto a
// directory through an [os.Root], with the changeset semantics of the OCI
// image spec: whiteouts, opaque directories, an entry replacing one of
// another type. Entries that could reach outside the directory, device
// files and other hostile entries are refused with [ErrRefused]. [Cache]
// keeps unpacked root filesystems keyed by the chain of layer digests, and
// [LookupUser] resolves an image's User against its /etc/passwd and
// /etc/group.
//
// Paths inside a layer are resolved the way the kernel resolves them inside
// the container: a symlink met on the way is followed, an absolute target
// starts again at the root, and ".." never goes above the root. The last
// component of an entry's name is never followed, so an entry always
// replaces what is at its own name. The package only uses the standard
// library; fifos need Linux.
package rootfs

import (
	"errors"
)

// Errors. Each is wrapped with the entry, layer or user it is about.
var (
	// ErrRefused is returned for a layer entry this package will not
	// write: a path or link that climbs out of the root, a device file, a
	// hardlink whose target does not exist, a name with NUL, a negative
	// size, an unknown entry type.
	ErrRefused = errors.New("rootfs: entry refused")
	// ErrLimit is returned when a layer (or a chain of layers in [Cache])
	// writes more than Options.MaxBytes or holds more than
	// Options.MaxEntries entries.
	ErrLimit = errors.New("rootfs: layer exceeds a limit")
	// ErrUnsupported is returned for a layer compressed in a format this
	// package cannot read (zstd).
	ErrUnsupported = errors.New("rootfs: unsupported layer format")
	// ErrDigest is returned by [Cache.Get] for a layer whose digest is
	// malformed or of an unsupported algorithm, or whose content does not
	// match it.
	ErrDigest = errors.New("rootfs: layer digest")
	// ErrNotInCache is returned by [Cache.Remove] and [Cache.Keep] for a
	// path that is not a root filesystem of the cache.
	ErrNotInCache = errors.New("rootfs: not a path of the cache")
	// ErrUnknownUser is returned by [LookupUser] for a user or group name
	// that is not in the image's /etc/passwd or /etc/group.
	ErrUnknownUser = errors.New("rootfs: unknown user or group")
)

// Defaults of [Options].
const (
	DefaultMaxBytes   = 8 << 30   // 8 GiB of file content
	DefaultMaxEntries = 1_000_000 // tar entries
)

// maxShiftedID is the highest uid or gid that can be shifted: the user
// namespace maps 65536 ids.
const maxShiftedID = 65535

// Options control how a layer is applied. The zero value applies without
// changing ownership, with the default limits.
type Options struct {
	// Chown sets the owner of every entry to its header's uid and gid plus
	// UIDShift and GIDShift (symlinks with lchown). It needs root. When
	// false, entries belong to the calling user and the shift is unused.
	Chown bool
	// UIDShift and GIDShift are added to every uid and gid when Chown is
	// set (the host ids the container's user namespace maps 0 to). When
	// either is not zero, an id above 65535 is refused.
	UIDShift, GIDShift uint32
	// MaxBytes limits the content of the entries: files written, and the
	// content of whiteouts, read but not written. 0 or less means
	// DefaultMaxBytes. In [Cache.Get] it limits the whole chain.
	MaxBytes int64
	// MaxEntries limits the number of tar entries; 0 or less means
	// DefaultMaxEntries. In [Cache.Get] it limits the whole chain.
	MaxEntries int64
}

// Stats counts what a layer held.
type Stats struct {
	Entries int64 // tar entries read, including skipped ones
	Bytes   int64 // bytes of file content written
}

// budget is what is left of the limits, shared by the layers of a chain.
type budget struct {
	bytes, entries int64
}

func (o Options) budget() budget {
	b := budget{bytes: o.MaxBytes, entries: o.MaxEntries}
	if b.bytes <= 0 {
		b.bytes = DefaultMaxBytes
	}
	if b.entries <= 0 {
		b.entries = DefaultMaxEntries
	}
	return b
}
