package httpguard_test

import (
	"net"
	"net/http"

	"github.com/mote-run/mote/internal/httpguard"
)

// The gateway's wiring: the wrapped listener, ConnContext, and Check first
// thing in the handler.
func ExampleCheck() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return
	}
	srv := &http.Server{
		ConnContext: httpguard.ConnContext,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := httpguard.Check(r); err != nil {
				w.Header().Set("Connection", "close")
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			httpguard.StripHopByHop(r.Header)
			httpguard.StripReserved(r.Header, "Mote-")
			// ... route, authenticate, call the guest.
		}),
	}
	go srv.Serve(httpguard.Listen(ln))
	srv.Close()
}
