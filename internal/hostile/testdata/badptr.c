// badptr.c: a pooled (reactor) guest that hands every mote_v1 host function
// pointers and lengths outside its memory. The path below the route picks
// what it does:
//
//   /calls    every pointer-taking function with every bad range below;
//             answers 200 with one line per call: "fn range ptr len ret".
//             Every ret must be -8 (memory): an error, never a trap or a
//             host crash.
//   /respond  calls respond with a bad range, then returns 0 without a
//             response: 502.
//   /loop     spins forever: [limits] timeout stops it (504) and the
//             instance is discarded.
//   /ok       answers 200 "ok N", N counting this instance's requests.
//
// It shares mote_v1.h (the import declarations and the Request/Response
// encoders) with the sandbox driver's test guests.
//
// Rebuild: ./build.sh
// (clang --target=wasm32-wasi --sysroot=/usr -O2 -mexec-model=reactor -Wl,--strip-all -o badptr.wasm badptr.c)
#include "../../sandbox/wasm/testdata/mote_v1.h"

static int64_t served;
static volatile uint64_t spin;

typedef struct {
	const char *name;
	uint32_t ptr, len;
	int inside_ok; // the pointer is inside memory and only the length is huge
} range;

static buf lines;

static void report(const char *fn, const range *r, int64_t ret) {
	buf_str(&lines, fn);
	buf_str(&lines, " ");
	buf_str(&lines, r->name);
	buf_str(&lines, " ");
	buf_i64(&lines, r->ptr);
	buf_str(&lines, " ");
	buf_i64(&lines, r->len);
	buf_str(&lines, " ");
	buf_i64(&lines, ret);
	buf_str(&lines, "\n");
}

#define P(r) ((void *)(uintptr_t)(r)->ptr)
#define L(r) ((int32_t)(r)->len)

static void calls(void) {
	uint32_t mem = (uint32_t)__builtin_wasm_memory_size(0) * 65536u;
	range ranges[] = {
		{"last-byte", 0xFFFFFFFFu, 1, 0},
		{"top", 0xFFFFFF00u, 256, 0},
		{"straddle", mem - 4, 8, 0},
		{"at-end", mem, 1, 0},
		{"half", 0x80000000u, 0x80000000u, 0},
		{"huge-len", 16, 0x7FFFFFFFu, 1},
		{"all", 0, 0xFFFFFFFFu, 1},
	};
	lines.n = 0;
	for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
		const range *r = &ranges[i];
		report("log", r, mote_log(2, P(r), L(r)));
		report("kv_get", r, mote_kv_get(P(r), L(r)));
		report("kv_set.key", r, mote_kv_set(P(r), L(r), "v", 1, 0));
		report("kv_set.value", r, mote_kv_set("k", 1, P(r), L(r), 0));
		report("kv_delete", r, mote_kv_delete(P(r), L(r)));
		report("kv_list", r, mote_kv_list(P(r), L(r)));
		report("config_get", r, mote_config_get(P(r), L(r)));
		report("http_fetch", r, mote_http_fetch(P(r), L(r)));
		report("call.name", r, mote_call(P(r), L(r), "x", 1));
		report("call.request", r, mote_call("users", 5, P(r), L(r)));
		report("respond", r, mote_respond(P(r), L(r)));
		if (!r->inside_ok) {
			// Reads into guest memory copy at most what there is, so only
			// a pointer outside memory must fail. The result holds the
			// last call's error message.
			report("result_read", r, mote_result_read(P(r), L(r)));
			report("request_read", r, mote_request_read(P(r), L(r)));
		}
	}
}

__attribute__((export_name("mote_v1_handle"))) int32_t handle(void) {
	served++;
	int32_t n = mote_request_len();
	char *raw = malloc((size_t)n);
	request rq;
	if (raw == NULL || mote_request_read(raw, n) != n || !parse_request(raw, (uint32_t)n, &rq)) {
		return 1;
	}
	// The path below the route, without the query.
	str path = {rq.url.p + rq.route.n, rq.url.n - rq.route.n};
	for (uint32_t i = 0; i < path.n; i++) {
		if (path.p[i] == '?') {
			path.n = i;
		}
	}
	int32_t ret = 0;
	if (str_eq(path, "/calls")) {
		calls();
		ret = respond_text(200, lines.p, lines.n);
	} else if (str_eq(path, "/respond")) {
		mote_respond((void *)0xFFFFFFF0u, 64);
	} else if (str_eq(path, "/loop")) {
		for (;;) {
			spin++;
		}
	} else if (str_eq(path, "/ok")) {
		buf b = {0};
		buf_str(&b, "ok ");
		buf_i64(&b, served);
		ret = respond_text(200, b.p, b.n);
		free(b.p);
	} else {
		ret = respond_text(404, "unknown path", 12);
	}
	free(raw);
	return ret == 0 ? 0 : 1;
}
