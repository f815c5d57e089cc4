package client

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mote-run/mote/api"
)

func TestInvoke(t *testing.T) {
	f := newFakeNode(t)
	c := f.client(t)
	deployHello(t, c)
	f.requests()

	tests := []struct {
		name                 string
		req                  InvokeRequest
		wantPath, wantQuery  string // as the node sees them
		wantStatus           int
		wantMethod, wantBody string
	}{
		{name: "root", req: InvokeRequest{}, wantPath: "/v1/services/hello/invoke/", wantStatus: 200, wantMethod: "GET"},
		{name: "post with body", req: InvokeRequest{Method: "POST", Path: "/greet", Body: strings.NewReader(`{"name":"Ana"}`),
			Header: http.Header{"Content-Type": {"application/json"}, "X-Foo": {"bar"}}},
			wantPath: "/v1/services/hello/invoke/greet", wantStatus: 200, wantMethod: "POST", wantBody: `{"name":"Ana"}`},
		{name: "status verbatim", req: InvokeRequest{Path: "teapot?status=418&x=1"},
			wantPath: "/v1/services/hello/invoke/teapot", wantQuery: "status=418&x=1", wantStatus: 418, wantMethod: "GET"},
		{name: "server error verbatim", req: InvokeRequest{Method: "DELETE", Path: "/x?status=500"},
			wantPath: "/v1/services/hello/invoke/x", wantQuery: "status=500", wantStatus: 500, wantMethod: "DELETE"},
		{name: "dot segments stay below the route", req: InvokeRequest{Path: "/a/../../../v1/info"},
			wantPath: "/v1/services/hello/invoke/v1/info", wantStatus: 200, wantMethod: "GET"},
		{name: "escaped dots are dots", req: InvokeRequest{Path: "/%2e%2E/%2E./x%2Fy/%7e"},
			wantPath: "/v1/services/hello/invoke/x%2Fy/~", wantStatus: 200, wantMethod: "GET"},
		{name: "trailing slash kept", req: InvokeRequest{Path: "/dir/"},
			wantPath: "/v1/services/hello/invoke/dir/", wantStatus: 200, wantMethod: "GET"},
		{name: "escaping", req: InvokeRequest{Path: "/a b/%41?q=two words&é=1&pct=%zz&ok=%2F#frag"},
			wantPath: "/v1/services/hello/invoke/a%20b/A", wantQuery: "q=two%20words&%C3%A9=1&pct=%25zz&ok=%2F",
			wantStatus: 200, wantMethod: "GET"},
		{name: "custom method", req: InvokeRequest{Method: "PATCH", Path: "/p", Body: bytes.NewReader([]byte("patch"))},
			wantPath: "/v1/services/hello/invoke/p", wantStatus: 200, wantMethod: "PATCH", wantBody: "patch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := c.Invoke(t.Context(), "hello", tt.req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus || string(body) != tt.wantBody {
				t.Errorf("status %d body %q, want %d %q", resp.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
			if resp.Header.Get("X-Request-Id") == "" || resp.Header.Get("X-Echo-Method") != tt.wantMethod {
				t.Errorf("headers %v", resp.Header)
			}
			if e := ResponseError(resp); e != nil {
				t.Errorf("ResponseError = %v for the service's own answer", e)
			}
			r := f.requests()[0]
			if r.Path != tt.wantPath || r.RawQuery != tt.wantQuery || r.Method != tt.wantMethod {
				t.Errorf("node saw %s %s?%s, want %s %s?%s", r.Method, r.Path, r.RawQuery, tt.wantMethod, tt.wantPath, tt.wantQuery)
			}
			for k, v := range tt.req.Header {
				if r.Header.Get(k) != v[0] {
					t.Errorf("header %s = %q, want %q", k, r.Header.Get(k), v[0])
				}
			}
		})
	}
}

func TestInvokeAuthorization(t *testing.T) {
	f := newFakeNode(t)
	c := f.client(t)
	deployHello(t, c)
	f.requests()
	h := http.Header{"Authorization": {"Bearer guest-key"}, "User-Agent": {"curl/8"}}
	resp, err := c.Invoke(t.Context(), "hello", InvokeRequest{Header: h})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	r := f.requests()[0]
	if r.Auth != "Bearer "+fakeToken || r.UserAgent != "curl/8" {
		t.Errorf("Authorization %q User-Agent %q: want the admin token and the caller's agent", r.Auth, r.UserAgent)
	}
	if h.Get("Authorization") != "Bearer guest-key" {
		t.Error("Invoke changed the caller's header")
	}
}

func TestInvokePlatformErrors(t *testing.T) {
	f := newFakeNode(t)
	c := f.client(t)
	deployHello(t, c)
	tests := []struct {
		name, svc, path string
		wantStatus      int
		wantCode        string // "" when the answer is the service's own
	}{
		{"guest failed", "hello", "/fail", 502, api.CodeGuestFailed},
		{"unknown service", "ghost", "/", 404, api.CodeNotFound},
		{"service's own JSON error", "hello", "/own-error", 404, ""},
		{"service's own 404", "hello", "/?status=404", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := c.Invoke(t.Context(), tt.svc, InvokeRequest{Path: tt.path})
			if err != nil {
				t.Fatalf("Invoke: %v; a platform error must come back as a response", err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			e := ResponseError(resp)
			switch {
			case tt.wantCode == "" && e != nil:
				t.Errorf("ResponseError = %v, want nil", e)
			case tt.wantCode != "" && (e == nil || e.Code != tt.wantCode || e.Status != tt.wantStatus):
				t.Errorf("ResponseError = %+v, want code %s status %d", e, tt.wantCode, tt.wantStatus)
			}
			// The body is still whole.
			body, _ := io.ReadAll(resp.Body)
			if tt.wantCode != "" && !strings.Contains(string(body), `"code":"`+tt.wantCode+`"`) {
				t.Errorf("body after ResponseError: %q", body)
			}
		})
	}
	// Invoke with a wrong token answers 401 as a response too.
	bad, err := New(f.srv.URL, WithToken("wrong"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := bad.Invoke(t.Context(), "hello", InvokeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if e := ResponseError(resp); e == nil || e.Code != api.CodeUnauthorized {
		t.Errorf("ResponseError = %v, want unauthorized", e)
	}
}

// TestResponseError checks which responses are platform errors and that
// the body stays readable in full either way.
func TestResponseError(t *testing.T) {
	platform := `{"error":{"code":"guest_timeout","message":"took over 10s","hint":"raise limits.timeout"}}`
	tests := []struct {
		name, contentType, body string
		status                  int
		want                    string // the code, or "" for nil
	}{
		{"platform error", "application/json", platform, 504, api.CodeGuestTimeout},
		{"json with charset", "application/json; charset=utf-8", platform, 504, api.CodeGuestTimeout},
		{"status 200", "application/json", platform, 200, ""},
		{"status 302", "application/json", platform, 302, ""},
		{"text", "text/plain", platform, 504, ""},
		{"no content type", "", platform, 504, ""},
		{"unknown code", "application/json", `{"error":{"code":"oops","message":"x"}}`, 500, ""},
		{"not an error body", "application/json", `{"message":"x"}`, 500, ""},
		{"broken json", "application/json", `{"error":`, 500, ""},
		{"array", "application/json", `[1,2]`, 400, ""},
		{"error then more", "application/json", platform + "\ntrailing data", 504, api.CodeGuestTimeout},
		{"big", "application/json", `{"error":{"code":"internal","message":"` + strings.Repeat("x", 2<<20) + `"}}`, 500, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: tt.status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(tt.body))}
			if tt.contentType != "" {
				resp.Header.Set("Content-Type", tt.contentType)
			}
			e := ResponseError(resp)
			switch {
			case tt.want == "" && e != nil:
				t.Errorf("ResponseError = %+v, want nil", e)
			case tt.want != "" && (e == nil || e.Code != tt.want || e.Status != tt.status || e.Hint == ""):
				t.Errorf("ResponseError = %+v, want code %s", e, tt.want)
			}
			body, _ := io.ReadAll(resp.Body)
			if string(body) != tt.body {
				t.Errorf("body after ResponseError is %d bytes, want the %d bytes it had", len(body), len(tt.body))
			}
		})
	}
	if ResponseError(nil) != nil {
		t.Error("ResponseError(nil) != nil")
	}
}
