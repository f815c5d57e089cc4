package httpguard

import (
	"bytes"
	"hash/maphash"
)

// seed keys the request-line hashes that match verdicts to requests.
var seed = maphash.MakeSeed()

// verdict is what the sniffer saw in one request's header block.
type verdict struct {
	line  uint64 // maphash of the request line (method SP target SP version)
	flags flags
}

type flags uint8

const (
	flagCLAndTE  flags = 1 << iota // both Content-Length and Transfer-Encoding
	flagMultiCL                    // more than one Content-Length line
	flagObsFold                    // a header line started with SP or HTAB
	flagTEHTTP10                   // Transfer-Encoding in an HTTP/1.0 request
)

// state is where the sniffer is in the byte stream.
type state uint8

const (
	stReqLine      state = iota // request line (hashing)
	stReqLineCR                 // a CR was held back at the end of a read
	stLineStart                 // start of a header line
	stLineCR                    // CR at the start of a header line: end of block
	stName                      // header name
	stValue                     // header value of a framing header (parsed)
	stSkipLine                  // rest of an uninteresting header line
	stBody                      // Content-Length body
	stChunkSize                 // chunk-size hex digits
	stChunkSizeOWS              // whitespace after chunk-size
	stChunkExt                  // chunk extension up to CR
	stChunkSizeLF               // LF after the chunk-size line's CR
	stChunkData                 // chunk data
	stChunkDataCR               // CR after chunk data
	stChunkDataLF               // LF after chunk data
	stTrailerStart              // start of a trailer line
	stTrailerCR                 // CR at the start of a trailer line
	stTrailerLine               // rest of a trailer line
	stLost                      // out of sync: stop looking for good
)

// header says which framing header a header line carries.
type header uint8

const (
	hOther header = iota
	hCL
	hTE
)

// Value parser states shared by Content-Length and Transfer-Encoding.
const (
	vLead  = iota // leading whitespace
	vBody         // digits, or letters of "chunked"
	vTrail        // trailing whitespace
	vBad          // not a valid value
)

const maxNameLen = len("transfer-encoding")

// sniffer follows HTTP/1.x request framing (RFC 9112) over a byte stream
// the way Go's net/http server reads it, and records a verdict per request
// header block. It never copies or buffers the stream: per request it keeps
// a running hash of the request line and a few counters. When the stream
// stops looking like HTTP/1.x requests (or uses framing that Go's server
// would refuse, after which Go closes the connection), it enters stLost and
// ignores the rest of the connection.
type sniffer struct {
	state state
	hash  maphash.Hash
	last8 uint64 // last 8 bytes of the request line: "HTTP/1.1"
	first uint64 // first 5 bytes of the request line, to spot "POST "
	n     int    // bytes of the request line seen
	// skipCRLF is how many leading CR/LF bytes Go's server discards before
	// the next request line (up to 4 after a POST).
	skipCRLF int

	http10  bool
	nheader int // header lines seen in this block
	flags   flags
	clCount int
	teCount int
	cl      int64 // the first Content-Length value
	clBad   bool  // some Content-Length value was invalid or differed
	teOK    bool  // the Transfer-Encoding value was exactly "chunked"

	hdr    header // the header line being read
	name   [maxNameLen]byte
	nlen   int
	vstate int
	num    int64 // Content-Length digits, or letters of "chunked" matched

	remain int64 // body or chunk bytes left
	digits int   // chunk-size hex digits seen

	verdicts func(verdict) // receives each finished header block's verdict
}

func (s *sniffer) reset() {
	s.hash.SetSeed(seed)
	s.startRequest()
}

func (s *sniffer) startRequest() {
	s.state = stReqLine
	s.hash.Reset()
	s.last8, s.first, s.n = 0, 0, 0
	s.http10, s.nheader, s.flags = false, 0, 0
	s.clCount, s.teCount, s.cl, s.clBad, s.teOK = 0, 0, 0, false, false
}

// lineBytes adds b to the request line.
func (s *sniffer) lineBytes(b []byte) {
	s.hash.Write(b)
	for i := 0; s.n+i < 5 && i < len(b); i++ {
		s.first = s.first<<8 | uint64(b[i])
	}
	for _, c := range b[max(0, len(b)-8):] {
		s.last8 = s.last8<<8 | uint64(c)
	}
	s.n += len(b)
}

const (
	http1x    = uint64('H')<<56 | uint64('T')<<48 | uint64('T')<<40 | uint64('P')<<32 | uint64('/')<<24 | uint64('1')<<16 | uint64('.')<<8
	postSpace = uint64('P')<<32 | uint64('O')<<24 | uint64('S')<<16 | uint64('T')<<8 | ' '
)

// endRequestLine checks the version of a finished request line.
func (s *sniffer) endRequestLine() {
	minor := byte(s.last8)
	if s.last8&^0xff != http1x || minor < '0' || minor > '9' || s.n < len("M / HTTP/1.1") {
		s.state = stLost
		return
	}
	s.http10 = minor == '0'
	s.skipCRLF = 0
	if s.n >= 5 && s.first == postSpace {
		s.skipCRLF = 4
	}
	s.state = stLineStart
}

// endHeaderLine finishes the header line just read (called when the next
// line does not continue it).
func (s *sniffer) endHeaderLine() {
	switch s.hdr {
	case hCL:
		if s.vstate == vLead || s.vstate == vBad {
			s.clBad = true
		} else if s.clCount == 1 {
			s.cl = s.num
		} else if s.num != s.cl {
			s.clBad = true
		}
	case hTE:
		s.teOK = s.teCount == 1 && (s.vstate == vBody || s.vstate == vTrail) && s.num == int64(len("chunked"))
	}
	s.hdr = hOther
}

// endHeaders decides the body framing as Go's server does and records the
// verdict.
func (s *sniffer) endHeaders() {
	if s.nheader > 0 {
		s.endHeaderLine()
	}
	if s.clCount > 0 && s.teCount > 0 {
		s.flags |= flagCLAndTE
	}
	if s.clCount > 1 {
		s.flags |= flagMultiCL
	}
	if s.http10 && s.teCount > 0 {
		s.flags |= flagTEHTTP10
	}
	s.verdicts(verdict{line: s.hash.Sum64(), flags: s.flags})
	skip := s.skipCRLF
	switch {
	case s.teCount > 0 && !s.http10:
		if !s.teOK {
			s.state = stLost // Go answers 501 and closes
			return
		}
		s.startRequest()
		s.state, s.digits = stChunkSize, 0
	case s.clCount > 0:
		if s.clBad {
			s.state = stLost // Go answers 400 and closes
			return
		}
		n := s.cl
		s.startRequest()
		if n > 0 {
			s.state, s.remain = stBody, n
		}
	default:
		s.startRequest()
	}
	s.skipCRLF = skip
}

// feed advances the sniffer over bytes read from the connection.
func (s *sniffer) feed(p []byte) {
	for len(p) > 0 {
		switch s.state {
		case stLost:
			return

		case stReqLine:
			if s.skipCRLF > 0 {
				if c := p[0]; c == '\r' || c == '\n' {
					s.skipCRLF--
					p = p[1:]
					continue
				}
				s.skipCRLF = 0
			}
			if s.n == 0 && (p[0] >= 0x80 || !tchar[p[0]]) {
				s.state = stLost // not a method: TLS, HTTP/2 frames, garbage
				return
			}
			i := bytes.IndexByte(p, '\n')
			line := p
			if i >= 0 {
				line = p[:i]
			}
			held := len(line) > 0 && line[len(line)-1] == '\r'
			if held {
				line = line[:len(line)-1]
			}
			if bytes.IndexByte(line, '\r') >= 0 {
				s.state = stLost // a CR inside the request line: Go refuses it
				return
			}
			s.lineBytes(line)
			if i < 0 {
				if held {
					s.state = stReqLineCR
				}
				return
			}
			p = p[i+1:]
			s.endRequestLine()

		case stReqLineCR:
			if p[0] != '\n' {
				s.state = stLost // a CR inside the request line: Go refuses it
				return
			}
			p = p[1:]
			s.endRequestLine()

		case stLineStart:
			switch c := p[0]; c {
			case '\n':
				p = p[1:]
				s.endHeaders()
			case '\r':
				p = p[1:]
				s.state = stLineCR
			case ' ', '\t':
				if s.nheader == 0 {
					s.state = stLost // Go refuses a folded first header line
					return
				}
				s.flags |= flagObsFold
				if s.hdr == hOther {
					s.state = stSkipLine
				} else {
					// Go joins the continuation to the value with a space.
					s.value(' ')
					s.state = stValue
				}
				p = p[1:]
			default:
				if s.nheader > 0 {
					s.endHeaderLine()
				}
				s.nheader++
				s.nlen, s.hdr = 0, hOther
				s.state = stName
			}

		case stLineCR:
			if p[0] != '\n' {
				s.state = stLost
				return
			}
			p = p[1:]
			s.endHeaders()

		case stName:
			i := 0
			for ; i < len(p) && p[i] != ':'; i++ {
				c := p[i]
				if c >= 0x80 || !tchar[c] {
					s.state = stLost // Go refuses a malformed header name
					return
				}
				if s.nlen < maxNameLen {
					s.name[s.nlen] = lower(c)
				}
				s.nlen++
			}
			if i == len(p) {
				return
			}
			p = p[i+1:]
			s.startValue()

		case stSkipLine:
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				return
			}
			p = p[i+1:]
			s.state = stLineStart

		case stValue:
			i := 0
			for ; i < len(p) && p[i] != '\n'; i++ {
				s.value(p[i])
			}
			if i == len(p) {
				return
			}
			p = p[i+1:]
			s.state = stLineStart

		case stBody:
			n := int64(len(p))
			if n > s.remain {
				n = s.remain
			}
			s.remain -= n
			p = p[n:]
			if s.remain == 0 {
				s.state = stReqLine
			}

		case stChunkSize:
			c := p[0]
			var d int64
			switch {
			case c >= '0' && c <= '9':
				d = int64(c - '0')
			case c >= 'a' && c <= 'f':
				d = int64(c-'a') + 10
			case c >= 'A' && c <= 'F':
				d = int64(c-'A') + 10
			case s.digits == 0:
				s.state = stLost
				return
			case c == ';':
				s.state = stChunkExt
			case c == ' ' || c == '\t':
				s.state = stChunkSizeOWS
			case c == '\r':
				s.state = stChunkSizeLF
			default:
				s.state = stLost
				return
			}
			p = p[1:]
			if s.state == stChunkSize {
				if s.digits == 15 { // Go refuses 16 or more hex digits
					s.state = stLost
					return
				}
				s.digits++
				s.remain = s.remain<<4 | d
			}

		case stChunkSizeOWS:
			switch p[0] {
			case ' ', '\t':
			case '\r':
				s.state = stChunkSizeLF
			default:
				s.state = stLost
				return
			}
			p = p[1:]

		case stChunkExt:
			i := bytes.IndexAny(p, "\r\n")
			if i < 0 {
				return
			}
			if p[i] == '\n' {
				s.state = stLost // Go refuses a bare LF in a chunk line
				return
			}
			p = p[i+1:]
			s.state = stChunkSizeLF

		case stChunkSizeLF:
			if p[0] != '\n' {
				s.state = stLost
				return
			}
			p = p[1:]
			if s.remain == 0 {
				s.state = stTrailerStart
			} else {
				s.state = stChunkData
			}

		case stChunkData:
			n := int64(len(p))
			if n > s.remain {
				n = s.remain
			}
			s.remain -= n
			p = p[n:]
			if s.remain == 0 {
				s.state = stChunkDataCR
			}

		case stChunkDataCR, stChunkDataLF:
			want := byte('\r')
			if s.state == stChunkDataLF {
				want = '\n'
			}
			if p[0] != want {
				s.state = stLost
				return
			}
			p = p[1:]
			if s.state == stChunkDataCR {
				s.state = stChunkDataLF
			} else {
				s.state, s.digits = stChunkSize, 0
			}

		case stTrailerStart:
			switch p[0] {
			case '\r':
				s.state = stTrailerCR
			case '\n':
				s.state = stLost // Go wants the trailer section to end in CRLF
				return
			default:
				s.state = stTrailerLine
			}
			p = p[1:]

		case stTrailerCR:
			if p[0] != '\n' {
				s.state = stLost
				return
			}
			p = p[1:]
			s.state = stReqLine // skipCRLF was kept by endHeaders

		case stTrailerLine:
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				return
			}
			p = p[i+1:]
			s.state = stTrailerStart
		}
	}
}

// startValue classifies the header name just read and starts its value.
func (s *sniffer) startValue() {
	s.hdr = hOther
	s.state = stSkipLine
	if s.nlen == 0 {
		s.state = stLost // Go refuses an empty header name
		return
	}
	switch string(s.name[:min(s.nlen, maxNameLen)]) {
	case "content-length":
		if s.nlen != len("content-length") {
			return
		}
		s.hdr, s.clCount = hCL, s.clCount+1
	case "transfer-encoding":
		if s.nlen != len("transfer-encoding") {
			return
		}
		s.hdr, s.teCount = hTE, s.teCount+1
	default:
		return
	}
	s.vstate, s.num = vLead, 0
	s.state = stValue
}

// value feeds one byte of a Content-Length or Transfer-Encoding value.
// Surrounding spaces, tabs and CRs are trimmed, as Go's textproto does.
func (s *sniffer) value(c byte) {
	if s.vstate == vBad {
		return
	}
	if c == ' ' || c == '\t' || c == '\r' {
		if s.vstate == vBody {
			s.vstate = vTrail
		}
		return
	}
	if s.vstate == vTrail {
		s.vstate = vBad
		return
	}
	s.vstate = vBody
	switch s.hdr {
	case hCL:
		if c < '0' || c > '9' || s.num > (1<<63-1-9)/10 {
			s.vstate = vBad
			return
		}
		s.num = s.num*10 + int64(c-'0')
	case hTE:
		const chunked = "chunked"
		if s.num >= int64(len(chunked)) || lower(c) != chunked[s.num] {
			s.vstate = vBad
			return
		}
		s.num++
	}
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// tchar marks the bytes of an RFC 9110 token.
var tchar = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()
