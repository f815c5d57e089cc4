package apikey

import (
	"net/http"
	"strings"
	"testing"
)

func TestGenerate(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		key, id, hash, err := Generate()
		if err != nil {
			t.Fatal(err)
		}
		if len(key) != Len || !strings.HasPrefix(key, "mk_"+id+"_") {
			t.Fatalf("key %q does not embed id %q", key, id)
		}
		if got, ok := ParseID(key); !ok || got != id {
			t.Fatalf("ParseID(%q) = %q, %v; want %q", key, got, ok, id)
		}
		if hash != Hash(key) || len(hash) != 64 {
			t.Fatalf("hash %q, want Hash(key) = %q", hash, Hash(key))
		}
		if seen[id] || seen[key] {
			t.Fatalf("Generate repeated %q", key)
		}
		seen[id], seen[key] = true, true
	}
}

func TestNewSecret(t *testing.T) {
	const id = "0123456789ab"
	k1, h1, err := NewSecret(id)
	if err != nil {
		t.Fatal(err)
	}
	k2, h2, err := NewSecret(id)
	if err != nil {
		t.Fatal(err)
	}
	if k1 == k2 || h1 == h2 {
		t.Errorf("two rotations gave the same key %q", k1)
	}
	for _, k := range []string{k1, k2} {
		if got, ok := ParseID(k); !ok || got != id {
			t.Errorf("ParseID(%q) = %q, %v; want %s", k, got, ok, id)
		}
	}
	if h1 != Hash(k1) {
		t.Errorf("hash %q, want %q", h1, Hash(k1))
	}
	for _, bad := range []string{"", "0123456789AB", "0123456789a", "0123456789abc", "0123456789a_"} {
		if _, _, err := NewSecret(bad); err == nil {
			t.Errorf("NewSecret(%q) succeeded", bad)
		}
	}
}

func TestHash(t *testing.T) {
	// sha256("abc"), the FIPS 180-2 example.
	if got, want := Hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; got != want {
		t.Errorf("Hash(abc) = %s, want %s", got, want)
	}
}

func TestParseID(t *testing.T) {
	secret := strings.Repeat("0f", 32)
	for _, tc := range []struct {
		key, id string
	}{
		{"mk_0123456789ab_" + secret, "0123456789ab"},
		{"mk_ffffffffffff_" + strings.Repeat("a", 64), "ffffffffffff"},
		{"", ""},
		{"mk_", ""},
		{"MK_0123456789ab_" + secret, ""},
		{"mk-0123456789ab_" + secret, ""},
		{"mk_0123456789AB_" + secret, ""},
		{"mk_0123456789ab_" + strings.ToUpper(secret), ""},
		{"mk_0123456789ab-" + secret, ""},
		{"mk_0123456789a_" + secret + "0", ""},
		{"mk_0123456789ab_" + secret[1:], ""},
		{"mk_0123456789ab_" + secret + "0", ""},
		{"mk_0123456789ab_" + secret[1:] + "g", ""},
		{" mk_0123456789ab_" + secret[1:], ""},
		{"mk_0123456789ab_" + secret[2:] + "\u00e9", ""},
	} {
		t.Run(tc.key, func(t *testing.T) {
			id, ok := ParseID(tc.key)
			if id != tc.id || ok != (tc.id != "") {
				t.Errorf("ParseID = %q, %v; want %q", id, ok, tc.id)
			}
		})
	}
}

func TestFromHeader(t *testing.T) {
	const key = "mk_0123456789ab_secret"
	for _, tc := range []struct {
		name string
		h    http.Header
		want string
	}{
		{"none", http.Header{}, ""},
		{"x-api-key", http.Header{"X-Api-Key": {key}}, key},
		{"x-api-key trimmed", http.Header{"X-Api-Key": {"  " + key + "\t"}}, key},
		{"x-api-key wins", http.Header{"X-Api-Key": {key}, "Authorization": {"Bearer mk_other"}}, key},
		{"x-api-key first value", http.Header{"X-Api-Key": {key, "mk_second"}}, key},
		{"blank x-api-key falls back", http.Header{"X-Api-Key": {"  "}, "Authorization": {"Bearer " + key}}, key},
		{"x-api-key any shape", http.Header{"X-Api-Key": {"garbage"}}, "garbage"},
		{"bearer", http.Header{"Authorization": {"Bearer " + key}}, key},
		{"bearer lowercase", http.Header{"Authorization": {"bearer " + key}}, key},
		{"bearer uppercase", http.Header{"Authorization": {"BEARER " + key}}, key},
		{"bearer spaces", http.Header{"Authorization": {"  Bearer   " + key + " "}}, key},
		{"bearer jwt", http.Header{"Authorization": {"Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig"}}, ""},
		{"bearer jwt with x-api-key", http.Header{"Authorization": {"Bearer eyJ.e30.sig"}, "X-Api-Key": {key}}, key},
		{"bearer empty", http.Header{"Authorization": {"Bearer "}}, ""},
		{"bearer alone", http.Header{"Authorization": {"Bearer"}}, ""},
		{"basic", http.Header{"Authorization": {"Basic " + key}}, ""},
		{"no scheme", http.Header{"Authorization": {key}}, ""},
		{"bearerx", http.Header{"Authorization": {"Bearerx " + key}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := FromHeader(tc.h); got != tc.want {
				t.Errorf("FromHeader(%v) = %q, want %q", tc.h, got, tc.want)
			}
			// Find names the header; without bearer it reads X-API-Key only.
			got, from := Find(tc.h, true)
			if got != tc.want || (got == "") != (from == "") || from != "" && !strings.Contains(strings.Join(tc.h[from], ""), got) {
				t.Errorf("Find(%v, true) = %q from %q", tc.h, got, from)
			}
			xkey := strings.TrimSpace(first(tc.h, HeaderName))
			if got, from := Find(tc.h, false); got != xkey || from != "" && from != HeaderName {
				t.Errorf("Find(%v, false) = %q from %q, want %q", tc.h, got, from, xkey)
			}
		})
	}
}

func FuzzParseID(f *testing.F) {
	key, _, _, _ := Generate()
	for _, s := range []string{key, "", "mk_", "mk_0123456789ab_", key[:len(key)-1] + "G"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		id, ok := ParseID(key)
		if !ok {
			if id != "" {
				t.Fatalf("ParseID(%q) = %q, false", key, id)
			}
			return
		}
		if len(key) != Len || key != Prefix+id+"_"+key[len(Prefix)+IDLen+1:] || !lowerHex(key[len(Prefix):len(Prefix)+IDLen]) {
			t.Fatalf("ParseID accepted %q as %q", key, id)
		}
		// A key that parses can be rotated to another that parses the same.
		k2, _, err := NewSecret(id)
		if err != nil {
			t.Fatalf("NewSecret(%q): %v", id, err)
		}
		if id2, ok := ParseID(k2); !ok || id2 != id {
			t.Fatalf("ParseID(NewSecret(%q)) = %q, %v", id, id2, ok)
		}
	})
}

func FuzzFromHeader(f *testing.F) {
	for _, s := range []string{"Bearer mk_x", "bearer  mk_", "Basic x", "", " ", "Bearer\tmk_x"} {
		f.Add("", s)
		f.Add("mk_key", s)
	}
	f.Fuzz(func(t *testing.T, xkey, auth string) {
		h := http.Header{}
		if xkey != "" {
			h.Set("X-API-Key", xkey)
		}
		if auth != "" {
			h.Set("Authorization", auth)
		}
		got := FromHeader(h)
		if got != strings.TrimSpace(got) {
			t.Fatalf("FromHeader(%q, %q) = %q, not trimmed", xkey, auth, got)
		}
		if strings.TrimSpace(xkey) != "" {
			if got != strings.TrimSpace(xkey) {
				t.Fatalf("FromHeader(%q, %q) = %q, want the X-API-Key", xkey, auth, got)
			}
			return
		}
		if got != "" && (!strings.HasPrefix(got, Prefix) || !strings.Contains(auth, got)) {
			t.Fatalf("FromHeader(%q, %q) = %q", xkey, auth, got)
		}
	})
}
