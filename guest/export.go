//go:build wasip1

package guest

import (
	"github.com/mote-run/mote/guest/abi"
	"github.com/mote-run/mote/guest/internal/hostcall"
)

// keepBuffer is the largest request or response buffer an instance keeps
// for the next request; a larger one is left to the garbage collector.
const keepBuffer = 1 << 20

// reqBuf and respBuf are reused from one request to the next: an instance
// serves one request at a time.
var reqBuf, respBuf []byte

// moteV1Handle is the pooled ABI's entry point: mote calls it once per
// request. It reads the request, serves it with the handler and answers;
// it returns non-zero (a 502, and the instance is discarded) only when the
// host's side of that exchange fails.
//
//go:wasmexport mote_v1_handle
func moteV1Handle() int32 {
	raw, err := hostcall.ReadRequest(reqBuf)
	if err != nil {
		hostcall.Log(abi.LevelError, "guest: reading the request: "+err.Error())
		return 1
	}
	if cap(raw) <= keepBuffer {
		reqBuf = raw[:0]
	}
	out, err := serve(handler, raw, respBuf[:0])
	if err != nil {
		hostcall.Log(abi.LevelError, "guest: "+err.Error())
		return 1
	}
	if cap(out) <= keepBuffer {
		respBuf = out[:0]
	}
	if err := hostcall.Respond(out); err != nil {
		hostcall.Log(abi.LevelError, "guest: answering: "+err.Error())
		return 1
	}
	return 0
}
