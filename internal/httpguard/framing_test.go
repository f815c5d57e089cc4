package httpguard

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// sniff feeds data in pieces of at most n bytes and returns the verdicts
// and the final state.
func sniff(data []byte, n int) ([]verdict, state) {
	var vs []verdict
	s := sniffer{verdicts: func(v verdict) { vs = append(vs, v) }}
	s.reset()
	for len(data) > 0 {
		k := min(n, len(data))
		s.feed(data[:k])
		data = data[k:]
	}
	return vs, s.state
}

// goRequests returns the request-line hashes of the requests Go's parser
// reads from data, in order, reading each body to the end, with the
// server's tolerance for CR/LF after a POST.
func goRequests(data []byte) []uint64 {
	br := bufio.NewReader(bytes.NewReader(data))
	var lines []uint64
	post := false
	for {
		if post {
			peek, _ := br.Peek(4)
			n := 0
			for n < len(peek) && (peek[n] == '\r' || peek[n] == '\n') {
				n++
			}
			br.Discard(n)
		}
		req, err := http.ReadRequest(br)
		if err != nil {
			return lines
		}
		lines = append(lines, requestLineHash(req))
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			return lines
		}
		post = req.Method == "POST"
	}
}

var sniffCases = map[string]string{
	"get":       "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
	"cl":        "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n\r\n",
	"chunked":   "POST /p HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1a;x=y\r\n" + strings.Repeat("z", 26) + "\r\n0\r\nT: 1\r\n\r\nGET / HTTP/1.0\r\n\r\n",
	"clte":      "POST /p HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /n HTTP/1.1\r\n\r\n",
	"fold":      "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n",
	"postcrlf":  "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n",
	"garbage":   "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
	"h2":        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	"bigchunk":  "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffff\r\n",
	"bad te":    "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\nGET / HTTP/1.1\r\n\r\n",
	"bare lf":   "POST / HTTP/1.1\nTransfer-Encoding: chunked\n\n0\n\nGET / HTTP/1.1\r\n\r\n",
	"te twice":  "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"cl differ": "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
}

func TestSnifferSplitInvariant(t *testing.T) {
	for name, raw := range sniffCases {
		t.Run(name, func(t *testing.T) {
			want, wantState := sniff([]byte(raw), len(raw))
			for n := 1; n < len(raw); n++ {
				got, st := sniff([]byte(raw), n)
				if !slices.Equal(got, want) || st != wantState {
					t.Fatalf("pieces of %d: %v (state %d), whole: %v (state %d)", n, got, st, want, wantState)
				}
			}
			goLines := goRequests([]byte(raw))
			for i := range min(len(goLines), len(want)) {
				if want[i].line != goLines[i] {
					t.Fatalf("request %d: framing differs from Go's", i)
				}
			}
		})
	}
}

func TestSnifferLosesSync(t *testing.T) {
	tests := map[string]string{
		"tls":                  sniffCases["garbage"],
		"h2 preface":           sniffCases["h2"],
		"http/0.9":             "GET /\r\n",
		"cr in request line":   "GET /a\rb HTTP/1.1\r\n",
		"folded first header":  "GET / HTTP/1.1\r\n x: y\r\n",
		"space in header name": "GET / HTTP/1.1\r\nContent-Length : 1\r\n",
		"no colon":             "GET / HTTP/1.1\r\nHost\r\n\r\n",
		"unsupported coding":   sniffCases["bad te"],
		"bad content-length":   "POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
		"empty content-length": "POST / HTTP/1.1\r\nContent-Length: \r\n\r\n",
		"bare LF chunk line":   sniffCases["bare lf"],
		"16 hex digits":        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0000000000000001\r\n",
		"missing chunk CRLF":   "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n",
	}
	for name, raw := range tests {
		t.Run(name, func(t *testing.T) {
			if _, st := sniff([]byte(raw), len(raw)); st != stLost {
				t.Fatalf("state %d, want lost", st)
			}
		})
	}
}

func TestSnifferVerdicts(t *testing.T) {
	vs, st := sniff([]byte(sniffCases["chunked"]+sniffCases["clte"]+sniffCases["fold"]), 1000)
	want := []flags{0, 0, flagCLAndTE, 0, flagObsFold}
	if st == stLost || len(vs) != len(want) {
		t.Fatalf("state %d, %d verdicts", st, len(vs))
	}
	for i, v := range vs {
		if v.flags != want[i] {
			t.Errorf("verdict %d: flags %b, want %b", i, v.flags, want[i])
		}
	}
}

// FuzzSniffer feeds arbitrary bytes to the sniffer: it must not panic,
// must give the same verdicts however the bytes are split, and every
// verdict it gives must belong to the request Go's parser reads at that
// position.
func FuzzSniffer(f *testing.F) {
	for _, raw := range sniffCases {
		f.Add([]byte(raw), uint8(3))
	}
	f.Fuzz(func(t *testing.T, data []byte, split uint8) {
		// A sniffer that loops forever fails here instead of stalling the fuzzer.
		watchdog := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("hang on %q", data)) })
		defer watchdog.Stop()
		whole, st := sniff(data, len(data)+1)
		pieces, st2 := sniff(data, int(split%32)+1)
		if !slices.Equal(whole, pieces) || st != st2 {
			t.Fatalf("split %d: %v (state %d), whole: %v (state %d)", split%32+1, pieces, st2, whole, st)
		}
		goLines := goRequests(data)
		for i := range min(len(goLines), len(whole)) {
			if whole[i].line != goLines[i] {
				t.Fatalf("request %d: framing differs from Go's", i)
			}
		}
	})
}

// memConn is a net.Conn whose reads replay a stream.
type memConn struct {
	net.Conn
	data []byte
	off  int
}

func (m *memConn) Read(p []byte) (int, error) {
	if m.off == len(m.data) {
		return 0, io.EOF
	}
	n := copy(p, m.data[m.off:])
	m.off += n
	return n, nil
}

func (m *memConn) SetReadDeadline(time.Time) error { return nil }

func benchStream(b *testing.B, req string, sniffed bool) {
	stream := []byte(strings.Repeat(req, 1000))
	mc := &memConn{data: stream}
	var c net.Conn = mc
	var sc *conn
	if sniffed {
		sc = newConn(mc)
		c = sc
	}
	buf := make([]byte, 4096)
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	defer lockThread()()
	cpu0 := threadCPU()
	for b.Loop() {
		mc.off = 0
		if sc != nil {
			sc.pending = sc.pending[:0]
		}
		for {
			if _, err := c.Read(buf); err != nil {
				break
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/request")
	b.ReportMetric(float64((threadCPU()-cpu0).Nanoseconds())/float64(b.N*1000), "cpu-ns/request")
}

const (
	benchGET = "GET /hello/world?name=mote HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: bench/1.0\r\n" +
		"Accept: application/json\r\nAccept-Encoding: gzip\r\nX-Api-Key: mk_0123456789ab_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\r\n\r\n"
	benchChunked = "POST /upload HTTP/1.1\r\nHost: api.example.com\r\nContent-Type: application/json\r\n" +
		"Transfer-Encoding: chunked\r\n\r\n100\r\n" + "" // body added in init
)

var benchChunkedReq = benchChunked + strings.Repeat("x", 256) + "\r\n80\r\n" + strings.Repeat("y", 128) + "\r\n0\r\n\r\n"

func BenchmarkStream(b *testing.B) {
	for _, s := range []struct{ name, req string }{{"GET", benchGET}, {"chunkedPOST", benchChunkedReq}} {
		b.Run(s.name+"/raw", func(b *testing.B) { benchStream(b, s.req, false) })
		b.Run(s.name+"/sniffed", func(b *testing.B) { benchStream(b, s.req, true) })
	}
}

func BenchmarkCheck(b *testing.B) {
	sc := newConn(&memConn{})
	r, _ := http.NewRequest("GET", "/hello/world?name=mote", nil)
	r.RequestURI = "/hello/world?name=mote"
	r = r.WithContext(ConnContext(b.Context(), sc))
	line := []byte("GET /hello/world?name=mote HTTP/1.1\r\nHost: x\r\n\r\n")
	b.ReportAllocs()
	defer lockThread()()
	cpu0 := threadCPU()
	for b.Loop() {
		sc.s.feed(line)
		sc.lastReq = nil
		if err := Check(r); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((threadCPU()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}
