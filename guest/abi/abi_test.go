package abi

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	req := &Request{
		Method: "POST", URL: "/hello/a%20b?x=1&x=2", Route: "/hello", Host: "example.com:8080",
		RemoteAddr: "192.0.2.1:5555", RequestID: "0123456789abcdef",
		Header: []Header{{"Content-Type", "application/octet-stream"}, {"X-Two", "a"}, {"X-Two", "b"}},
		Body:   []byte{0, 1, 2, 255, '\n', '\r'},
	}
	got, err := DecodeRequest(AppendRequest(nil, req))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, req) {
		t.Errorf("request round trip:\n got %+v\nwant %+v", got, req)
	}
	resp := &Response{Status: 201, Header: []Header{{"Set-Cookie", "a=1"}, {"Set-Cookie", "b=2"}}, Body: bytes.Repeat([]byte{7}, 100000)}
	gotResp, err := DecodeResponse(AppendResponse(nil, resp))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotResp, resp) {
		t.Errorf("response round trip differs")
	}
	list := []string{"", "a", "b/c", string([]byte{0, 255})}
	gotList, err := DecodeList(AppendList(nil, list))
	if err != nil || !reflect.DeepEqual(gotList, list) {
		t.Errorf("list round trip: %q, %v", gotList, err)
	}
}

func TestEmpty(t *testing.T) {
	r, err := DecodeRequest(AppendRequest(nil, &Request{}))
	if err != nil || r.Header != nil || len(r.Body) != 0 {
		t.Fatalf("%+v %v", r, err)
	}
}

func TestMalformed(t *testing.T) {
	good := AppendResponse(nil, &Response{Status: 200, Body: []byte("ok")})
	tests := map[string][]byte{
		"empty":          nil,
		"short version":  {1, 0},
		"wrong version":  append([]byte{2, 0, 0, 0}, good[4:]...),
		"truncated":      good[:len(good)-1],
		"trailing":       append(append([]byte{}, good...), 0),
		"huge count":     {1, 0, 0, 0, 200, 0, 0, 0, 255, 255, 255, 255},
		"huge string":    {1, 0, 0, 0, 200, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 127},
		"status too low": AppendResponse(nil, &Response{Status: 42}),
	}
	for name, b := range tests {
		if _, err := DecodeResponse(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", name, err)
		}
	}
}

func FuzzDecodeRequest(f *testing.F) {
	f.Add(AppendRequest(nil, &Request{Method: "GET", URL: "/", Header: []Header{{"A", "b"}}, Body: []byte("x")}))
	f.Add([]byte{1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRequest(b)
		if err != nil {
			return
		}
		// What decodes re-encodes to the same bytes.
		if again := AppendRequest(nil, r); !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs")
		}
	})
}

func FuzzDecodeResponse(f *testing.F) {
	f.Add(AppendResponse(nil, &Response{Status: 200, Header: []Header{{"A", "b"}}, Body: []byte("x")}))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeResponse(b)
		if err != nil {
			return
		}
		if again := AppendResponse(nil, r); !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs")
		}
	})
}

func FuzzDecodeList(f *testing.F) {
	f.Add(AppendList(nil, []string{"a", "bc"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		items, err := DecodeList(b)
		if err != nil {
			return
		}
		if again := AppendList(nil, items); !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs")
		}
	})
}
