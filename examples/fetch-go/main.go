// Command fetch-go fetches the URL in its UPSTREAM configuration value and
// answers with what came back: the status, the Content-Type and the body.
// It reads the URL with config.Get, set on the node without a redeploy:
//
//	mote config set fetch-go UPSTREAM=http://127.0.0.1:8090/
//
// and fetches it with fetch.Do, whose requests the node sends, to the hosts
// mote.toml allows: http = ["127.0.0.1"]. (fetch.Client, an *http.Client
// over the same path, works too, but links net/http's own transport: it
// would double this module's size.)
//
// Rebuild (from this directory):
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -ldflags="-s -w" -o fetch.wasm .
package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/mote-run/mote/guest"
	"github.com/mote-run/mote/guest/config"
	"github.com/mote-run/mote/guest/fetch"
	"github.com/mote-run/mote/guest/log"
)

func init() {
	guest.Serve(http.HandlerFunc(serve))
}

func main() {} // a reactor's main is never called

func serve(w http.ResponseWriter, r *http.Request) {
	upstream, err := config.Get("UPSTREAM")
	if errors.Is(err, guest.ErrNotFound) {
		reply(w, http.StatusServiceUnavailable, errorBody("not_configured", "UPSTREAM is not set; Try: mote config set fetch-go UPSTREAM=http://127.0.0.1:8090/"))
		return
	}
	if err != nil {
		reply(w, http.StatusInternalServerError, errorBody("config_failed", err.Error()))
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, upstream, nil)
	if err != nil {
		reply(w, http.StatusInternalServerError, errorBody("not_configured", "UPSTREAM is not a URL: "+err.Error()))
		return
	}
	resp, err := fetch.Do(req)
	if err != nil {
		// The node's message says what to do, e.g. which host to allow.
		log.Warn("fetch failed", "url", upstream, "err", err)
		reply(w, http.StatusBadGateway, errorBody("fetch_failed", err.Error()))
		return
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.Header().Set("X-Upstream", upstream)
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

// errorBody is the shape of mote's own errors: {"error": {"code", "message"}}.
func errorBody(code, msg string) any {
	return map[string]map[string]string{"error": {"code": code, "message": msg}}
}

// reply writes v as JSON with status.
func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
