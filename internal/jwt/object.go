package jwt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// parseObject decodes a JSON object strictly: valid UTF-8 (encoding/json
// would quietly replace bad bytes), an object at the top level, no member
// name twice at the top level (RFC 7515 §5.2 lets a parser either refuse
// or take the last; taking one silently lets two parsers disagree on which,
// so we refuse), and nothing after it. Numbers stay json.Number, so large
// integers keep every digit. Duplicate names inside nested objects are
// resolved by encoding/json (the last wins); they are no claim of ours.
func parseObject(raw []byte) (map[string]any, error) {
	if !utf8.Valid(raw) {
		return nil, errors.New("not valid UTF-8")
	}
	start := skipSpace(raw, 0)
	if start == len(raw) || raw[start] != '{' {
		return nil, errors.New("not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, jsonErr(err)
	}
	if end := int(dec.InputOffset()); skipSpace(raw, end) != len(raw) {
		return nil, errors.New("data after the JSON object")
	}
	// encoding/json keeps the last of two members with one name; the
	// object had a duplicate if it has more members than the map.
	if len(m) > 0 && topLevelCommas(raw[start:])+1 != len(m) {
		return parseObjectSlow(raw) // to name the duplicate
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON whitespace.
func skipSpace(raw []byte, i int) int {
	for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\n' || raw[i] == '\r') {
		i++
	}
	return i
}

// topLevelCommas counts the commas between the members of the valid JSON
// object obj, skipping strings and nested values.
func topLevelCommas(obj []byte) int {
	n, depth, inString := 0, 0, false
	for i := 0; i < len(obj); i++ {
		c := obj[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case ',':
			if depth == 1 {
				n++
			}
		}
	}
	return n
}

// parseObjectSlow is parseObject member by member; it finds which name is
// duplicated, and the fuzz test checks both agree.
func parseObjectSlow(raw []byte) (map[string]any, error) {
	if !utf8.Valid(raw) {
		return nil, errors.New("not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, jsonErr(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	m := make(map[string]any, 8)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, jsonErr(err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, errors.New("not a JSON object")
		}
		if _, dup := m[name]; dup {
			return nil, fmt.Errorf("member %s appears twice", quote(name))
		}
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, jsonErr(err)
		}
		m[name] = v
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, jsonErr(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return m, nil
}

// jsonErr keeps encoding/json's message but not its echo of input bytes.
func jsonErr(err error) error {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Errorf("invalid JSON at byte %d", syn.Offset)
	}
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("truncated JSON")
	}
	return errors.New("invalid JSON")
}

// checkObject is parseObject for callers that decode into a struct after.
func checkObject(raw []byte) error {
	_, err := parseObject(raw)
	return err
}

func fmtQ(s string) string { return strconv.Quote(s) }
