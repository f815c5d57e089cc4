package manifest

import (
	"path"
	"strings"
)

// Match reports whether name, a slash-separated path relative to the
// manifest's directory, is selected by pattern, an entry of [wasm] files or
// [build] watch. Each '/'-separated element of pattern is matched against
// one element of name with path.Match syntax (*, ?, [a-z], \ escapes), with
// two additions: an element "**" matches any number of elements (zero or
// more), and a pattern that matches a directory selects everything under
// it, so "static" selects "static/css/site.css". The error is
// path.ErrBadPattern for a malformed pattern; Parse rejects those.
func Match(pattern, name string) (bool, error) {
	if _, err := path.Match(pattern, ""); err != nil {
		return false, err
	}
	pattern = strings.TrimRight(pattern, "/")
	return matchElems(strings.Split(pattern, "/"), strings.Split(name, "/")), nil
}

// matchElems matches pattern elements against a prefix of name's elements.
func matchElems(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for i := 0; i <= len(name); i++ {
				if matchElems(pat[1:], name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, _ := path.Match(pat[0], name[0]); !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return true
}

// MatchesUnder reports whether pattern can select dir (a slash-separated
// directory path relative to the manifest's directory) or anything under
// it, so a walk looking for matches must enter dir. It errs toward true; a
// malformed pattern selects nothing.
func MatchesUnder(pattern, dir string) bool {
	if _, err := path.Match(pattern, ""); err != nil {
		return false
	}
	if dir == "." || dir == "" {
		return true
	}
	pat := strings.Split(strings.TrimRight(pattern, "/"), "/")
	for _, elem := range strings.Split(dir, "/") {
		if len(pat) == 0 || pat[0] == "**" {
			return true
		}
		if ok, _ := path.Match(pat[0], elem); !ok {
			return false
		}
		pat = pat[1:]
	}
	return true
}
