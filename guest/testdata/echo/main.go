// echo is the Go SDK's round-trip test guest: it answers every request
// with the request's body, byte for byte, and describes the rest of the
// request as JSON in the X-Echo header. X-Status sets the answer's status,
// and every X-Set-* request header comes back without the X-Set- prefix.
//
// It lives under testdata, so `go build ./...` skips it. Rebuild from this
// directory:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -ldflags="-s -w" -o ../echo.wasm .
package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/mote-run/mote/guest"
)

func init() {
	guest.Serve(http.HandlerFunc(echo))
}

func main() {}

func echo(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	info, _ := json.Marshal(map[string]any{
		"method":     r.Method,
		"path":       r.URL.Path,
		"raw_path":   r.URL.EscapedPath(),
		"query":      r.URL.RawQuery,
		"host":       r.Host,
		"header":     r.Header,
		"length":     r.ContentLength,
		"request_id": guest.RequestID(r),
		"route":      guest.Route(r),
	})
	h := w.Header()
	h.Set("X-Echo", string(info))
	h.Set("Content-Type", "application/octet-stream")
	for name, values := range r.Header {
		if rest, ok := strings.CutPrefix(name, "X-Set-"); ok {
			h[rest] = values
		}
	}
	status := http.StatusOK
	if s := r.Header.Get("X-Status"); s != "" {
		status, _ = strconv.Atoi(s)
	}
	w.WriteHeader(status)
	w.Write(body)
}
