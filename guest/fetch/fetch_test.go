package fetch_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mote-run/mote/guest"
	"github.com/mote-run/mote/guest/fetch"
	"github.com/mote-run/mote/guest/guesttest"
)

func TestClient(t *testing.T) {
	var got *http.Request
	var gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		w.Header().Add("Set-Cookie", "a=1")
		w.Header().Add("Set-Cookie", "b=2")
		w.WriteHeader(http.StatusTeapot)
		io.WriteString(w, "short and stout\x00")
	}))
	defer srv.Close()
	guesttest.Install(t, &guesttest.Host{Fetch: http.DefaultTransport})

	resp, err := fetch.Client.Get(srv.URL + "/x%20y?a=1&a=2")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 418 || resp.Status != "418 I'm a teapot" || string(body) != "short and stout\x00" || resp.ContentLength != 16 {
		t.Errorf("response %q %d %q", resp.Status, resp.ContentLength, body)
	}
	if cs := resp.Header["Set-Cookie"]; len(cs) != 2 || cs[1] != "b=2" {
		t.Errorf("Set-Cookie = %q", cs)
	}
	if got.Method != "GET" || got.URL.EscapedPath() != "/x%20y" || got.URL.RawQuery != "a=1&a=2" {
		t.Errorf("server got %s %s", got.Method, got.URL)
	}

	req, _ := http.NewRequest("POST", srv.URL+"/post", strings.NewReader("payload"))
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Add("X-Multi", "1")
	req.Header.Add("X-Multi", "2")
	req.Host = "virtual.example"
	resp, err = fetch.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got.Method != "POST" || gotBody != "payload" || got.Header.Get("Content-Type") != "text/plain" ||
		len(got.Header["X-Multi"]) != 2 || got.Host != "virtual.example" {
		t.Errorf("server got %s %q %v host %q", got.Method, gotBody, got.Header, got.Host)
	}
}

func TestTransportErrors(t *testing.T) {
	if _, err := fetch.Client.Get("http://example.com/"); !errors.Is(err, guest.ErrNotInGuest) {
		t.Errorf("outside a guest: %v, want ErrNotInGuest", err)
	}
	guesttest.Install(t, nil) // Fetch is nil: denied
	if _, err := fetch.Client.Get("http://example.com/"); !errors.Is(err, guest.ErrDenied) || !strings.Contains(err.Error(), "http_fetch: denied") {
		t.Errorf("without a grant: %v, want ErrDenied", err)
	}
	rel, _ := http.NewRequest("GET", "/relative", strings.NewReader("x"))
	if _, err := (fetch.Transport{}).RoundTrip(rel); !errors.Is(err, guest.ErrInvalid) {
		t.Errorf("a relative URL: %v, want ErrInvalid", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	done, _ := http.NewRequestWithContext(ctx, "GET", "http://example.com/", nil)
	if _, err := (fetch.Transport{}).RoundTrip(done); !errors.Is(err, context.Canceled) {
		t.Errorf("a canceled request: %v, want context.Canceled", err)
	}
}

func TestGetAndDo(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Method+" "+r.URL.RequestURI())
	}))
	defer srv.Close()
	guesttest.Install(t, &guesttest.Host{Fetch: http.DefaultTransport})
	resp, err := fetch.Get(srv.URL + "/a?b=c")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "GET /a?b=c" {
		t.Errorf("Get: %q", body)
	}
	req, _ := http.NewRequest("DELETE", srv.URL+"/x", nil)
	resp, err = fetch.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	if string(body) != "DELETE /x" {
		t.Errorf("Do: %q", body)
	}
	if _, err := fetch.Get("http://a b/"); !errors.Is(err, guest.ErrInvalid) {
		t.Errorf("Get of a bad URL: %v, want ErrInvalid", err)
	}
	if _, err := fetch.Get("/relative"); !errors.Is(err, guest.ErrInvalid) {
		t.Errorf("Get of a relative URL: %v, want ErrInvalid", err)
	}
}
