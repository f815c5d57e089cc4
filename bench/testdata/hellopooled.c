// hellopooled.c: the pooled C hello that the gateway suite drives (go run
// ./bench -suite gateway). A reactor exporting mote_v1_handle that reads the
// request and answers 200 text/plain "Hello from mote\nYou asked for PATH\n"
// (the bare Go server's answer) for a few instructions: no libc, no
// allocation, fixed buffers. The guest costs next to nothing, so what the
// suite measures is mote's gateway and sandbox, not the guest's language.
// A request whose encoding is over 16 KiB gets a 502 (return 1).
//
// Rebuild (from this directory; Debian: clang lld wasi-libc libclang-rt-14-dev-wasm32):
//   clang --target=wasm32-wasi --sysroot=/usr -O2 -mexec-model=reactor -Wl,--strip-all -o hellopooled.wasm hellopooled.c
#include <stdint.h>

#define MOTE_IMPORT(name) __attribute__((import_module("mote_v1"), import_name(#name)))

MOTE_IMPORT(request_len) int32_t mote_request_len(void);
MOTE_IMPORT(request_read) int32_t mote_request_read(void *ptr, int32_t len);
MOTE_IMPORT(respond) int32_t mote_respond(const void *ptr, int32_t len);

#define MAX_REQUEST 16384

static unsigned char req[MAX_REQUEST];
static unsigned char resp[MAX_REQUEST + 256];

static uint32_t get_u32(const unsigned char *p) {
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static unsigned char *put_u32(unsigned char *p, uint32_t v) {
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
	return p + 4;
}

static unsigned char *put(unsigned char *p, const void *s, uint32_t n) {
	const unsigned char *c = s;
	for (uint32_t i = 0; i < n; i++) {
		p[i] = c[i];
	}
	return p + n;
}

#define PUT_LIT(p, s) put((p), (s), sizeof(s) - 1)

__attribute__((export_name("mote_v1_handle"))) int32_t handle(void) {
	int32_t n = mote_request_len();
	if (n < 12 || n > MAX_REQUEST || mote_request_read(req, n) != n) {
		return 1;
	}
	// Request = u32 version (1) | bytes method | bytes url | …
	uint32_t size = (uint32_t)n, off = 4;
	if (get_u32(req) != 1) {
		return 1;
	}
	uint32_t mlen = get_u32(req + off);
	off += 4;
	if (mlen > size - off || size - off - mlen < 4) {
		return 1;
	}
	off += mlen;
	uint32_t ulen = get_u32(req + off);
	off += 4;
	if (ulen > size - off) {
		return 1;
	}
	const unsigned char *url = req + off;
	uint32_t plen = 0;
	while (plen < ulen && url[plen] != '?') {
		plen++;
	}

	// Response = u32 version | u32 status | u32 n | n × (name, value) | bytes body
	static const char hello[] = "Hello from mote\nYou asked for ";
	unsigned char *p = resp;
	p = put_u32(p, 1);
	p = put_u32(p, 200);
	p = put_u32(p, 1);
	p = put_u32(p, 12);
	p = PUT_LIT(p, "Content-Type");
	p = put_u32(p, 10);
	p = PUT_LIT(p, "text/plain");
	p = put_u32(p, (uint32_t)(sizeof hello - 1) + plen + 1);
	p = PUT_LIT(p, hello);
	p = put(p, url, plen);
	*p++ = '\n';
	return mote_respond(resp, (int32_t)(p - resp));
}
