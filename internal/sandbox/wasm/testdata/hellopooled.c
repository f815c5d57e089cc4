// hellopooled.c: the smallest useful pooled guest, for BenchmarkPooledServe:
// it reads the request (as every real guest does) and answers 200
// "Hello from mote" as text/plain.
//
// Rebuild (from this directory):
//   clang --target=wasm32-wasi --sysroot=/usr -O2 -mexec-model=reactor -Wl,--strip-all -o hellopooled.wasm hellopooled.c
#include "mote_v1.h"

static buf req, resp;

__attribute__((export_name("mote_v1_handle"))) int32_t handle(void) {
	int32_t n = mote_request_len();
	req.n = 0;
	buf_grow(&req, (size_t)n);
	mote_request_read(req.p, n);
	if (resp.n == 0) { // the response never changes: encode it once
		response(&resp, 200, 1);
		header(&resp, "Content-Type", "text/plain");
		buf_cstr(&resp, "Hello from mote\n");
	}
	return mote_respond(resp.p, (int32_t)resp.n);
}
