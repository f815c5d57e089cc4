package manifest

import "strings"

// keyLines maps every key and table of a TOML document to the 1-based line
// that defines it, keyed by pathKey. It is a forgiving scanner, not a
// parser: it reads table headers and "key =" lines, skips over values
// (strings, multi-line strings, arrays, inline tables and comments), and
// gives keys inside inline tables the line of the key that holds the table.
// It runs only on documents the TOML parser accepted.
type keyLines map[string]int

// pathKey joins a key path into a map key.
func pathKey(path []string) string { return strings.Join(path, "\x00") }

// line returns the line of path or, failing that, of its longest defined
// prefix; 0 when none is known.
func (kl keyLines) line(path []string) int {
	for n := len(path); n > 0; n-- {
		if l, ok := kl[pathKey(path[:n])]; ok {
			return l
		}
	}
	return 0
}

// scanLines builds the keyLines of a document.
func scanLines(doc string) keyLines {
	s := &lineScanner{doc: doc, line: 1, lines: keyLines{}}
	s.run()
	return s.lines
}

type lineScanner struct {
	doc   string
	pos   int
	line  int
	table []string
	lines keyLines
}

func (s *lineScanner) record(path []string) {
	for n := 1; n <= len(path); n++ {
		k := pathKey(path[:n])
		if _, ok := s.lines[k]; !ok {
			s.lines[k] = s.line
		}
	}
}

func (s *lineScanner) peek() byte {
	if s.pos < len(s.doc) {
		return s.doc[s.pos]
	}
	return 0
}

func (s *lineScanner) skipBlank() {
	for s.pos < len(s.doc) && (s.doc[s.pos] == ' ' || s.doc[s.pos] == '\t') {
		s.pos++
	}
}

// skipLine moves past the end of the current line.
func (s *lineScanner) skipLine() {
	for s.pos < len(s.doc) {
		c := s.doc[s.pos]
		s.pos++
		if c == '\n' {
			s.line++
			return
		}
	}
}

func (s *lineScanner) run() {
	for s.pos < len(s.doc) {
		s.skipBlank()
		switch c := s.peek(); {
		case c == 0:
			return
		case c == '\n':
			s.pos++
			s.line++
		case c == '#' || c == '\r':
			s.skipLine()
		case c == '[':
			s.header()
			s.skipLine()
		default:
			path := s.key()
			s.skipBlank()
			if len(path) == 0 || s.peek() != '=' {
				s.skipLine()
				continue
			}
			s.pos++
			s.record(append(append([]string(nil), s.table...), path...))
			s.value()
		}
	}
}

// header reads "[a.b]" or "[[a.b]]" and makes it the current table.
func (s *lineScanner) header() {
	s.pos++
	if s.peek() == '[' {
		s.pos++
	}
	s.skipBlank()
	s.table = s.key()
	s.record(s.table)
}

// key reads a dotted key of bare, "basic" and 'literal' parts.
func (s *lineScanner) key() []string {
	var path []string
	for {
		s.skipBlank()
		var part string
		var ok bool
		switch s.peek() {
		case '"':
			part, ok = s.basicString()
		case '\'':
			part, ok = s.literalString()
		default:
			start := s.pos
			for s.pos < len(s.doc) && isBareKeyByte(s.doc[s.pos]) {
				s.pos++
			}
			part, ok = s.doc[start:s.pos], s.pos > start
		}
		if !ok {
			return nil
		}
		path = append(path, part)
		s.skipBlank()
		if s.peek() != '.' {
			return path
		}
		s.pos++
	}
}

func isBareKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// basicString reads a one-line "..." string and decodes its simple escapes;
// \u escapes are kept as written (such keys are only named, never looked up).
func (s *lineScanner) basicString() (string, bool) {
	s.pos++
	var b strings.Builder
	for s.pos < len(s.doc) {
		c := s.doc[s.pos]
		s.pos++
		switch c {
		case '"':
			return b.String(), true
		case '\n':
			s.line++
			return "", false
		case '\\':
			if s.pos < len(s.doc) {
				e := s.doc[s.pos]
				s.pos++
				switch e {
				case 'n':
					b.WriteByte('\n')
				case 't':
					b.WriteByte('\t')
				case 'r':
					b.WriteByte('\r')
				case 'b':
					b.WriteByte('\b')
				case 'f':
					b.WriteByte('\f')
				default:
					if e == 'u' || e == 'U' {
						b.WriteByte('\\')
					}
					b.WriteByte(e)
				}
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", false
}

func (s *lineScanner) literalString() (string, bool) {
	s.pos++
	start := s.pos
	for s.pos < len(s.doc) {
		switch s.doc[s.pos] {
		case '\'':
			s.pos++
			return s.doc[start : s.pos-1], true
		case '\n':
			return "", false
		}
		s.pos++
	}
	return "", false
}

// value skips a value, which may span lines inside brackets or multi-line
// strings, and the rest of its line.
func (s *lineScanner) value() {
	depth := 0
	for s.pos < len(s.doc) {
		c := s.doc[s.pos]
		switch {
		case strings.HasPrefix(s.doc[s.pos:], `"""`):
			s.skipMultiline(`"""`, true)
		case strings.HasPrefix(s.doc[s.pos:], `'''`):
			s.skipMultiline(`'''`, false)
		case c == '"':
			s.basicString()
		case c == '\'':
			s.literalString()
		case c == '[' || c == '{':
			depth++
			s.pos++
		case c == ']' || c == '}':
			depth--
			s.pos++
		case c == '#':
			for s.pos < len(s.doc) && s.doc[s.pos] != '\n' {
				s.pos++
			}
		case c == '\n':
			s.pos++
			s.line++
			if depth <= 0 {
				return
			}
		default:
			s.pos++
		}
	}
}

func (s *lineScanner) skipMultiline(delim string, escapes bool) {
	s.pos += len(delim)
	for s.pos < len(s.doc) {
		switch {
		case escapes && s.doc[s.pos] == '\\':
			s.pos++
			if s.pos < len(s.doc) && s.doc[s.pos] == '\n' {
				s.line++
			}
			s.pos++
		case strings.HasPrefix(s.doc[s.pos:], delim):
			s.pos += len(delim)
			// A closing delimiter may be followed by up to two more quotes
			// that belong to the string.
			for i := 0; i < 2 && s.pos < len(s.doc) && s.doc[s.pos] == delim[0]; i++ {
				s.pos++
			}
			return
		default:
			if s.doc[s.pos] == '\n' {
				s.line++
			}
			s.pos++
		}
	}
}
