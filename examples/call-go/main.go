// Command call-go calls another service on the same node, counter-go, and
// reports what it answered: GET reads the count (call.Get), POST adds one
// (call.Do with a POST). The call goes through the node in process, with no
// network and no gateway; mote.toml grants it with call = ["counter-go"].
//
// Rebuild (from this directory):
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -ldflags="-s -w" -o call.wasm .
package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/mote-run/mote/guest"
	"github.com/mote-run/mote/guest/call"
	"github.com/mote-run/mote/guest/log"
)

// callee is the service this one calls.
const callee = "counter-go"

func init() {
	guest.Serve(http.HandlerFunc(serve))
}

func main() {} // a reactor's main is never called

// report is what call-go answers when the call went through, whatever
// counter-go's status.
type report struct {
	Service string `json:"service"`
	Status  int    `json:"status"`
	// Body is counter-go's answer: JSON as it sent it, or a string if it
	// was not JSON.
	Body any `json:"body"`
}

func serve(w http.ResponseWriter, r *http.Request) {
	var (
		resp *http.Response
		err  error
	)
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		resp, err = call.Get(callee, "/")
	case http.MethodPost:
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, "/", nil)
		resp, err = call.Do(callee, req)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		reply(w, http.StatusMethodNotAllowed, errorBody("method_not_allowed", "GET reads counter-go's count, POST adds one"))
		return
	}
	if err != nil {
		log.Warn("call failed", "service", callee, "err", err)
		reply(w, http.StatusBadGateway, errorBody("call_failed", explain(err)))
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		reply(w, http.StatusBadGateway, errorBody("call_failed", err.Error()))
		return
	}
	rep := report{Service: callee, Status: resp.StatusCode, Body: string(body)}
	if json.Valid(body) {
		rep.Body = json.RawMessage(body)
	}
	reply(w, http.StatusOK, rep)
}

// explain says what a failed call means and what to do about it. The
// node's messages carry their own hints (a denial names the grant to add);
// a missing callee is this example's to explain.
func explain(err error) string {
	if errors.Is(err, guest.ErrNotFound) {
		return err.Error() + "; Try: mote deploy examples/counter-go"
	}
	return err.Error()
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
