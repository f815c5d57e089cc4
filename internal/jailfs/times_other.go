//go:build !linux

package jailfs

import experimentalsys "github.com/tetratelabs/wazero/experimental/sys"

// futimens sets the file's times by name through the root: os has no
// descriptor-based Chtimes. If the file was renamed since it was opened,
// this touches whatever the name now resolves to, still inside the root.
func futimens(f *file, atim, mtim int64) experimentalsys.Errno {
	return errnoOf(f.jail.root.Chtimes(f.name, timeOf(atim), timeOf(mtim)))
}
