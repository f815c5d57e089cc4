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
