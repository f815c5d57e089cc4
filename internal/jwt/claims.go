package jwt

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// Claims are a verified token's payload, as encoding/json decodes it with
// UseNumber: string, json.Number, bool, nil, []any or map[string]any. Claims
// a Cache returns share nested values with other callers: do not modify
// them.
type Claims map[string]any

// String renders a claim as text safe for an HTTP header value (the gateway
// passes selected claims to the guest as Mote-Claim-* headers): a string as
// it is, a number in plain decimal (no exponent), true or false, an array as
// its elements rendered the same way and joined by "," (objects and arrays
// inside it as compact JSON), an object as compact JSON. It returns false
// when the claim is absent or null, or when the text would hold a control
// character (C0, DEL or C1: CR and LF among them), so a claim can never
// split or inject a header.
func (c Claims) String(name string) (string, bool) {
	v, ok := c[name]
	if !ok || v == nil {
		return "", false
	}
	var s string
	switch v := v.(type) {
	case []any:
		parts := make([]string, 0, len(v))
		for _, e := range v {
			p, ok := scalarText(e)
			if !ok {
				if p, ok = compactJSON(e); !ok {
					return "", false
				}
			}
			parts = append(parts, p)
		}
		s = strings.Join(parts, ",")
	case map[string]any:
		if s, ok = compactJSON(v); !ok {
			return "", false
		}
	default:
		if s, ok = scalarText(v); !ok {
			return "", false
		}
	}
	if !headerSafe(s) {
		return "", false
	}
	return s, true
}

// scalarText renders a string, number, bool or null; false for the rest.
func scalarText(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case json.Number:
		return plainNumber(v)
	case bool:
		return strconv.FormatBool(v), true
	case nil:
		return "null", true
	}
	return "", false
}

// plainNumber writes n without an exponent: an integer as its digits (all
// of them, however many), anything else through float64.
func plainNumber(n json.Number) (string, bool) {
	s := string(n)
	if !strings.ContainsAny(s, ".eE") {
		return s, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return "", false
	}
	return strconv.FormatFloat(f, 'f', -1, 64), true
}

func compactJSON(v any) (string, bool) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", false
	}
	return strings.TrimSuffix(buf.String(), "\n"), true
}

// headerSafe reports whether s has no control characters.
func headerSafe(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
			return false
		}
	}
	return true
}
