package guest

import (
	"io"
	"net/http"
	"testing"

	"github.com/mote-run/mote/guest/abi"
)

// helloHandler and helloRequest are a typical small request to a hello.
var helloHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, "Hello from Go on mote!\n")
	io.WriteString(w, "You asked for "+r.URL.Path+"\n")
})

var helloRequest = abi.AppendRequest(nil, &abi.Request{
	Method: "GET", URL: "/hello-sdk/world", Route: "/hello-sdk", Host: "127.0.0.1:8080",
	RemoteAddr: "127.0.0.1:5000", RequestID: "0123456789abcdef",
	Header: []abi.Header{{Name: "Accept", Value: "*/*"}, {Name: "User-Agent", Value: "wrk"}},
})

// In a guest every allocation and every loop iteration costs far more than
// natively (wazero checks for interruption at each loop back-edge), so the
// per-request work of Handle is held to a budget.
func TestAllocsHello(t *testing.T) {
	out := make([]byte, 0, 4096)
	n := testing.AllocsPerRun(1000, func() {
		if _, err := serve(helloHandler, helloRequest, out[:0]); err != nil {
			t.Fatal(err)
		}
	})
	if n > 32 {
		t.Errorf("serving a hello allocates %v times per request, over the budget of 32", n)
	}
}

// BenchmarkServeHello is the SDK's per-request work for a hello handler,
// natively: decode, build the http.Request, run the handler, encode.
func BenchmarkServeHello(b *testing.B) {
	out := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := serve(helloHandler, helloRequest, out[:0]); err != nil {
			b.Fatal(err)
		}
	}
}
