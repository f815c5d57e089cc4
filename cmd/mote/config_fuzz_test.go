package main

import (
	"strings"
	"testing"
)

// FuzzParseConfigArgs: with --secret no error shows what follows a key's
// '=' (or a whole argument without one, which may be a mistyped secret),
// and a value that parses comes back as given.
func FuzzParseConfigArgs(f *testing.F) {
	const mark = "SECRETMARK"
	for _, s := range [][2]string{
		{"TOKEN", "hunter2"},
		{"", "x"},
		{"A", "@/no/such/file"},
		{"A", "@@at"},
		{"A", "-"},
		{"A", "b=c"},
		{"A=", ""},
	} {
		f.Add(s[0], s[1], true)
		f.Add(s[0], s[1], false)
	}
	f.Fuzz(func(t *testing.T, key, rest string, withEquals bool) {
		if strings.Contains(key, mark) || strings.Contains(rest, mark) || strings.Contains(key, "=") {
			t.Skip()
		}
		// The mark goes where the secret is: after the '=', or the whole
		// argument when it has none.
		value := rest + mark
		arg := key + "=" + value
		if !withEquals {
			arg = mark + strings.ReplaceAll(key+rest, "=", "")
		}
		for _, v := range []string{arg, strings.Replace(arg, mark, "@"+mark, 1)} {
			got, err := parseConfigArgs([]string{"OK=1", v}, true, strings.NewReader("stdin"))
			if err != nil {
				if strings.Contains(err.Error(), mark) {
					t.Fatalf("parseConfigArgs(%q): the error shows the secret: %v", v, err)
				}
				continue
			}
			if v == arg && withEquals && !strings.HasPrefix(value, "@") && got[key] != value {
				t.Fatalf("parseConfigArgs(%q) = %q, want %q for key %q", v, got[key], value, key)
			}
		}
	})
}
