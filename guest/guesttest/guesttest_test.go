package guesttest_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/mote-run/mote/guest"
	"github.com/mote-run/mote/guest/guesttest"
	"github.com/mote-run/mote/guest/kv"
)

func TestDo(t *testing.T) {
	host := guesttest.Install(t, nil)
	h := guest.StripRoute(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := kv.Set("last", body, 0); err != nil {
			panic(err)
		}
		w.Header().Set("X-Id", guest.RequestID(r))
		io.WriteString(w, r.Method+" "+r.URL.Path+" "+r.URL.RawQuery+" "+guest.Route(r)+" "+r.Header.Get("X-In")+" "+r.Host)
	}))
	r := httptest.NewRequest("PUT", "/svc/a%2Fb?x=%20", strings.NewReader("body"))
	r.Header.Set("X-In", "yes")
	resp := guesttest.Do(t, h, "/svc", r)
	body, _ := io.ReadAll(resp.Body)
	if want := "PUT /a/b x=%20 /svc yes example.com"; resp.StatusCode != 200 || string(body) != want {
		t.Errorf("got %d %q, want 200 %q", resp.StatusCode, body, want)
	}
	if id := resp.Header.Get("X-Id"); !strings.HasPrefix(id, "test-") {
		t.Errorf("request id %q", id)
	}
	if got := host.KV(); string(got["last"]) != "body" {
		t.Errorf("KV = %q", got)
	}

	// A request built by hand, without RequestURI.
	r2, _ := http.NewRequest("GET", "http://ignored.example/svc/x?y=1", nil)
	body, _ = io.ReadAll(guesttest.Do(t, h, "/svc", r2).Body)
	if want := "GET /x y=1 /svc  ignored.example"; string(body) != want {
		t.Errorf("got %q, want %q", body, want)
	}

	panicky := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })
	if resp := guesttest.Do(t, panicky, "", httptest.NewRequest("GET", "/", nil)); resp.StatusCode != 500 {
		t.Errorf("a panic: %d", resp.StatusCode)
	}
	logs := host.Logs()
	if len(logs) != 1 || !strings.HasPrefix(logs[0], "ERROR guest: panic serving GET /: boom") {
		t.Errorf("logs = %q", logs)
	}
}

func TestHostKV(t *testing.T) {
	host := guesttest.Install(t, &guesttest.Host{})
	host.SetKV("a", []byte("1"))
	if v, err := kv.Get("a"); err != nil || string(v) != "1" {
		t.Errorf("Get after SetKV: %q, %v", v, err)
	}
	snapshot := host.KV()
	snapshot["a"][0] = 'x'
	if v, _ := kv.Get("a"); string(v) != "1" {
		t.Error("KV() shares memory with the store")
	}
	if keys, _ := kv.List(""); !slices.Equal(keys, []string{"a"}) {
		t.Errorf("List = %q", keys)
	}
}

func TestInstallRestores(t *testing.T) {
	t.Run("installed", func(t *testing.T) {
		guesttest.Install(t, nil)
		if err := kv.Set("k", nil, 0); err != nil {
			t.Fatal(err)
		}
	})
	if err := kv.Set("k", nil, 0); !errors.Is(err, guest.ErrNotInGuest) {
		t.Errorf("after the test: %v, want ErrNotInGuest", err)
	}
}
