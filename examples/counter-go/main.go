// Command counter-go is a pooled service that counts: GET answers the
// count, POST adds one to it. The count lives in the service's key-value
// store (package guest/kv, granted by `kv = true` in mote.toml), so every
// instance sees the same count and it outlives instances and deploys.
//
// Rebuild (from this directory):
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -ldflags="-s -w" -o counter.wasm .
//
// The store has no transactions: two POSTs at the same moment on two
// instances can both read 4 and both write 5. Fine for a demo counter; use
// one key per event, or a real database, when every count matters.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/mote-run/mote/guest"
	"github.com/mote-run/mote/guest/kv"
	"github.com/mote-run/mote/guest/log"
)

// key is where the count is stored.
const key = "count"

func init() {
	guest.Serve(http.HandlerFunc(serve))
}

func main() {} // a reactor's main is never called

// serve answers {"count": N}: the count for GET and HEAD, the count after
// adding one for POST.
func serve(w http.ResponseWriter, r *http.Request) {
	var (
		n   int
		err error
	)
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		n, err = count()
	case http.MethodPost:
		n, err = increment()
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		reply(w, http.StatusMethodNotAllowed, errorBody("method_not_allowed", "GET reads the count, POST adds one"))
		return
	}
	if err != nil {
		log.Error("counting failed", "err", err, "request", guest.RequestID(r))
		reply(w, http.StatusInternalServerError, errorBody("store_failed", err.Error()))
		return
	}
	reply(w, http.StatusOK, map[string]int{"count": n})
}

// count reads the count; a count never stored is 0.
func count() (int, error) {
	v, err := kv.Get(key)
	if errors.Is(err, guest.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(string(v))
	if err != nil {
		return 0, fmt.Errorf("the stored count %q is not a number", v)
	}
	return n, nil
}

// increment adds one to the count and returns it.
func increment() (int, error) {
	n, err := count()
	if err != nil {
		return 0, err
	}
	n++
	return n, kv.Set(key, []byte(strconv.Itoa(n)), 0)
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
