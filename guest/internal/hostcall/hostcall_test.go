//go:build !wasip1

package hostcall

import (
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/mote-run/mote/guest/abi"
)

func TestFail(t *testing.T) {
	tests := []struct {
		code  int
		msg   string
		class error
		text  string
	}{
		{abi.ErrDenied, "kv is not granted", ErrDenied, "kv_get: denied: kv is not granted"},
		{abi.ErrNotFound, "", ErrNotFound, "kv_get: not found"},
		{abi.ErrTooLarge, "m", ErrTooLarge, "kv_get: too large: m"},
		{abi.ErrInvalid, "m", ErrInvalid, "kv_get: invalid argument: m"},
		{abi.ErrTimeout, "m", ErrTimeout, "kv_get: timed out: m"},
		{abi.ErrFailed, "m", ErrFailed, "kv_get: failed: m"},
		{abi.ErrDepth, "m", ErrDepth, "kv_get: call depth limit: m"},
		{abi.ErrMemory, "m", ErrInvalid, "kv_get: invalid argument: m"},
		{99, "m", ErrFailed, "kv_get: failed: unknown error code 99: m"},
		{0, "m", ErrFailed, "kv_get: failed: unknown error code 0: m"},
	}
	for _, tt := range tests {
		err := Fail("kv_get", tt.code, tt.msg)
		if !errors.Is(err, tt.class) || err.Error() != tt.text {
			t.Errorf("Fail(%d, %q) = %q, want %q matching %v", tt.code, tt.msg, err, tt.text, tt.class)
		}
	}
}

func TestNoHost(t *testing.T) {
	calls := map[string]func() error{
		"request_read": func() error { _, err := ReadRequest(nil); return err },
		"respond":      func() error { return Respond(nil) },
		"kv_get":       func() error { _, err := KVGet("k"); return err },
		"kv_set":       func() error { return KVSet("k", nil, 0) },
		"kv_delete":    func() error { return KVDelete("k") },
		"kv_list":      func() error { _, err := KVList(""); return err },
		"config_get":   func() error { _, err := ConfigGet("k"); return err },
		"http_fetch":   func() error { _, err := Fetch(&abi.Request{}); return err },
		"call":         func() error { _, err := Call("s", &abi.Request{}); return err },
	}
	for op, call := range calls {
		if err := call(); !errors.Is(err, ErrNotInGuest) || !strings.HasPrefix(err.Error(), op+": ") {
			t.Errorf("%s outside a guest: %v, want ErrNotInGuest", op, err)
		}
	}
}

// fakeHost answers every call with the fields' values.
type fakeHost struct {
	noHost
	raw  []byte
	sent []byte
}

func (h *fakeHost) KVList(string) ([]byte, error)    { return h.raw, nil }
func (h *fakeHost) Fetch(req []byte) ([]byte, error) { h.sent = req; return h.raw, nil }
func (h *fakeHost) ConfigGet(string) ([]byte, error) { return h.raw, nil }
func (h *fakeHost) Call(_ string, req []byte) ([]byte, error) {
	h.sent = req
	return h.raw, nil
}

func TestDecodesResults(t *testing.T) {
	h := &fakeHost{}
	defer SetHost(h)()

	h.raw = abi.AppendList(nil, []string{"a", "b/c", ""})
	if keys, err := KVList(""); err != nil || !reflect.DeepEqual(keys, []string{"a", "b/c", ""}) {
		t.Errorf("KVList = %q, %v", keys, err)
	}
	h.raw = []byte{1, 0, 0, 0} // one key, missing
	if _, err := KVList(""); !errors.Is(err, ErrFailed) {
		t.Errorf("KVList of a bad list: %v, want ErrFailed", err)
	}

	h.raw = []byte("v")
	if v, err := ConfigGet("k"); err != nil || v != "v" {
		t.Errorf("ConfigGet = %q, %v", v, err)
	}

	req := &abi.Request{Method: "GET", URL: "https://x.example/", Header: []abi.Header{{Name: "A", Value: "1"}}, Body: []byte("b")}
	want := &abi.Response{Status: 201, Header: []abi.Header{{Name: "B", Value: "2"}}, Body: []byte("ok")}
	h.raw = abi.AppendResponse(nil, want)
	for name, send := range map[string]func() (*abi.Response, error){
		"Fetch": func() (*abi.Response, error) { return Fetch(req) },
		"Call":  func() (*abi.Response, error) { return Call("svc", req) },
	} {
		h.sent = nil
		got, err := send()
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %+v, %v; want %+v", name, got, err, want)
		}
		if sent, err := abi.DecodeRequest(h.sent); err != nil || !reflect.DeepEqual(sent, req) {
			t.Errorf("%s sent %+v, %v; want %+v", name, sent, err, req)
		}
	}
	h.raw = []byte("junk")
	if _, err := Fetch(req); !errors.Is(err, ErrFailed) || !strings.HasPrefix(err.Error(), "http_fetch: ") {
		t.Errorf("Fetch of a bad response: %v, want http_fetch: ErrFailed", err)
	}
	if _, err := Call("svc", req); !errors.Is(err, ErrFailed) {
		t.Errorf("Call of a bad response: %v, want ErrFailed", err)
	}
}

func TestSetHostRestores(t *testing.T) {
	h := &fakeHost{raw: []byte("x")}
	restore := SetHost(h)
	inner := SetHost(nil)
	if _, err := ConfigGet("k"); !errors.Is(err, ErrNotInGuest) {
		t.Errorf("SetHost(nil) did not restore the default: %v", err)
	}
	inner()
	if v, _ := ConfigGet("k"); v != "x" {
		t.Errorf("restore did not bring back the fake: %q", v)
	}
	restore()
	if _, err := ConfigGet("k"); !errors.Is(err, ErrNotInGuest) {
		t.Errorf("restore did not bring back the default: %v", err)
	}
}

type closeTracker struct {
	io.Reader
	closed bool
}

func (c *closeTracker) Close() error { c.closed = true; return nil }

func TestOutboundRequest(t *testing.T) {
	body := &closeTracker{Reader: strings.NewReader("payload\x00\xff")}
	r, _ := http.NewRequest("", "http://example.com/x?y=1", nil)
	r.Body = body
	r.Host = "virtual.example"
	r.Header.Add("X-B", "2")
	r.Header.Add("X-A", "1")
	r.Header.Add("X-A", "0")
	r.Header["X-None"] = nil
	got, err := OutboundRequest(r, "/x?y=1")
	if err != nil {
		t.Fatal(err)
	}
	want := &abi.Request{
		Method: "GET", URL: "/x?y=1", Host: "virtual.example",
		Header: []abi.Header{{Name: "X-A", Value: "1"}, {Name: "X-A", Value: "0"}, {Name: "X-B", Value: "2"}},
		Body:   []byte("payload\x00\xff"),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("OutboundRequest = %+v, want %+v", got, want)
	}
	if !body.closed {
		t.Error("the body was not closed")
	}
	bad, _ := http.NewRequest("POST", "/", io.NopCloser(iotestErrReader{}))
	if _, err := OutboundRequest(bad, "/"); err == nil {
		t.Error("a body that fails to read is not an error")
	}
}

type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, errors.New("broken") }

func TestHTTPResponse(t *testing.T) {
	req, _ := http.NewRequest("GET", "http://x/", nil)
	resp := HTTPResponse(req, &abi.Response{
		Status: 404, Header: []abi.Header{{Name: "content-type", Value: "text/plain"}, {Name: "Set-Cookie", Value: "a"}, {Name: "set-cookie", Value: "b"}}, Body: []byte("nope"),
	})
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 404 || resp.Status != "404 Not Found" || resp.Proto != "HTTP/1.1" || resp.ContentLength != 4 || string(body) != "nope" || resp.Request != req {
		t.Errorf("HTTPResponse = %+v, body %q", resp, body)
	}
	if resp.Header.Get("Content-Type") != "text/plain" || !reflect.DeepEqual(resp.Header["Set-Cookie"], []string{"a", "b"}) {
		t.Errorf("header = %v", resp.Header)
	}
	if empty := HTTPResponse(req, &abi.Response{Status: 299}); empty.Body != http.NoBody || empty.Status != "299" {
		t.Errorf("empty response: body %v status %q", empty.Body, empty.Status)
	}
}
