package rootfs

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// maxAccountFile bounds how much of /etc/passwd or /etc/group is read.
const maxAccountFile = 16 << 20

// LookupUser resolves an image's User ("", "user", "user:group"; each a
// name or a number) to a uid and gid, reading /etc/passwd and /etc/group of
// the root filesystem in root through os.Root, symlinks resolved inside it.
//
// "" is 0:0. A numeric user needs no /etc/passwd; without a group its gid
// is the one /etc/passwd gives that uid, else 0. A named user or group
// must be in its file: otherwise the error wraps [ErrUnknownUser] and names
// the file. Numbers are decimal, below 4294967295.
func LookupUser(root string, user string) (uid, gid uint32, err error) {
	if user == "" {
		return 0, 0, nil
	}
	u, g, hasGroup := strings.Cut(user, ":")
	if u == "" || hasGroup && g == "" {
		return 0, 0, fmt.Errorf("rootfs: user %q: want user, user:group", user)
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return 0, 0, fmt.Errorf("rootfs: user %q: %w", user, err)
	}
	defer r.Close()

	if n, ok := parseID(u); ok {
		uid = n
		if !hasGroup {
			// The user's group if /etc/passwd has the uid; 0 if not.
			lines, err := readAccounts(r, "/etc/passwd")
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return 0, 0, fmt.Errorf("rootfs: user %q: %w", user, err)
			}
			for _, f := range lines {
				if len(f) < 4 {
					continue
				}
				id, ok1 := parseID(f[2])
				gi, ok2 := parseID(f[3])
				if ok1 && ok2 && id == uid {
					gid = gi
					break
				}
			}
		}
	} else {
		lines, err := readAccounts(r, "/etc/passwd")
		if err != nil {
			return 0, 0, fmt.Errorf("rootfs: user %q: %w", user, err)
		}
		found := false
		for _, f := range lines {
			if len(f) < 4 || f[0] != u {
				continue
			}
			id, ok1 := parseID(f[2])
			gi, ok2 := parseID(f[3])
			if ok1 && ok2 {
				uid, gid, found = id, gi, true
				break
			}
		}
		if !found {
			return 0, 0, fmt.Errorf("%w: user %q is not in /etc/passwd", ErrUnknownUser, u)
		}
	}

	if !hasGroup {
		return uid, gid, nil
	}
	if n, ok := parseID(g); ok {
		return uid, n, nil
	}
	lines, err := readAccounts(r, "/etc/group")
	if err != nil {
		return 0, 0, fmt.Errorf("rootfs: user %q: %w", user, err)
	}
	for _, f := range lines {
		if len(f) >= 3 && f[0] == g {
			if id, ok := parseID(f[2]); ok {
				return uid, id, nil
			}
		}
	}
	return 0, 0, fmt.Errorf("%w: group %q is not in /etc/group", ErrUnknownUser, g)
}

// parseID parses a decimal uid or gid; (uid_t)-1 is not one.
func parseID(s string) (uint32, bool) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 1<<32-1 {
		return 0, false
	}
	return uint32(n), true
}

// readAccounts reads the colon-separated lines of an account file (name
// is absolute in the image), skipping blank lines, comments and NIS
// "+"/"-" lines. A missing file wraps fs.ErrNotExist and names the file.
func readAccounts(r *os.Root, name string) ([][]string, error) {
	p, missing, err := resolve(r, strings.TrimPrefix(name, "/"))
	if err == nil && missing {
		err = fs.ErrNotExist
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	f, err := r.Open(p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer f.Close()
	var lines [][]string
	sc := bufio.NewScanner(io.LimitReader(f, maxAccountFile))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '+' || line[0] == '-' {
			continue
		}
		lines = append(lines, strings.Split(line, ":"))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return lines, nil
}
