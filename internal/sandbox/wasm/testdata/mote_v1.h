// mote_v1.h: the mote_v1 host functions (docs/abi.md) and small helpers
// shared by the C test guests: a growable buffer, the Request decoder and
// the Response encoder. Header-only; every guest includes it once.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MOTE_IMPORT(name) __attribute__((import_module("mote_v1"), import_name(#name)))

MOTE_IMPORT(result_len) int32_t mote_result_len(void);
MOTE_IMPORT(result_read) int32_t mote_result_read(void *ptr, int32_t len);
MOTE_IMPORT(request_len) int32_t mote_request_len(void);
MOTE_IMPORT(request_read) int32_t mote_request_read(void *ptr, int32_t len);
MOTE_IMPORT(respond) int32_t mote_respond(const void *ptr, int32_t len);
MOTE_IMPORT(log) int32_t mote_log(int32_t level, const void *ptr, int32_t len);
MOTE_IMPORT(kv_get) int64_t mote_kv_get(const void *key, int32_t key_len);
MOTE_IMPORT(kv_set) int64_t mote_kv_set(const void *key, int32_t key_len, const void *val, int32_t val_len, int64_t ttl_ms);
MOTE_IMPORT(kv_delete) int64_t mote_kv_delete(const void *key, int32_t key_len);
MOTE_IMPORT(kv_list) int64_t mote_kv_list(const void *prefix, int32_t prefix_len);
MOTE_IMPORT(config_get) int64_t mote_config_get(const void *key, int32_t key_len);
MOTE_IMPORT(http_fetch) int64_t mote_http_fetch(const void *req, int32_t req_len);
MOTE_IMPORT(call) int64_t mote_call(const void *name, int32_t name_len, const void *req, int32_t req_len);

// buf is a growable byte buffer; it aborts when memory runs out.
typedef struct {
	char *p;
	size_t n, cap;
} buf;

static void buf_grow(buf *b, size_t more) {
	if (b->n + more <= b->cap) {
		return;
	}
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->n + more) {
		cap *= 2;
	}
	b->p = realloc(b->p, cap);
	if (b->p == NULL) {
		abort();
	}
	b->cap = cap;
}

static void buf_add(buf *b, const void *s, size_t n) {
	buf_grow(b, n);
	if (n > 0) {
		memcpy(b->p + b->n, s, n);
	}
	b->n += n;
}

static void buf_str(buf *b, const char *s) { buf_add(b, s, strlen(s)); }

static void buf_i64(buf *b, int64_t v) {
	char tmp[24];
	char *p = tmp + sizeof tmp;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u > 0);
	if (v < 0) {
		*--p = '-';
	}
	buf_add(b, p, (size_t)(tmp + sizeof tmp - p));
}

static void buf_u32(buf *b, uint32_t v) {
	unsigned char le[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
	buf_add(b, le, 4);
}

// buf_bytes appends an ABI byte string: a u32 length, then the bytes.
static void buf_bytes(buf *b, const void *s, size_t n) {
	buf_u32(b, (uint32_t)n);
	buf_add(b, s, n);
}

static void buf_cstr(buf *b, const char *s) { buf_bytes(b, s, strlen(s)); }

// result copies the current result into b.
static void result_into(buf *b) {
	int32_t n = mote_result_len();
	if (n <= 0) {
		return;
	}
	buf_grow(b, (size_t)n);
	b->n += (size_t)mote_result_read(b->p + b->n, n);
}

// A string in the request: pointer and length, not NUL-terminated.
typedef struct {
	const char *p;
	uint32_t n;
} str;

typedef struct {
	str method, url, route, host, remote, id;
	uint32_t nheaders;
	str names[64], values[64];
	str body;
} request;

typedef struct {
	const unsigned char *p;
	uint32_t n, off;
	int bad;
} reader;

static uint32_t rd_u32(reader *r) {
	if (r->bad || r->n - r->off < 4) {
		r->bad = 1;
		return 0;
	}
	const unsigned char *q = r->p + r->off;
	r->off += 4;
	return (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
}

static str rd_str(reader *r) {
	str s = {"", 0};
	uint32_t n = rd_u32(r);
	if (r->bad || r->n - r->off < n) {
		r->bad = 1;
		return s;
	}
	s.p = (const char *)r->p + r->off;
	s.n = n;
	r->off += n;
	return s;
}

// parse_request decodes a Request encoding; it returns 0 when it does not
// decode (or has more than 64 headers).
static int parse_request(const void *p, uint32_t n, request *rq) {
	reader r = {p, n, 0, 0};
	if (rd_u32(&r) != 1) {
		return 0;
	}
	rq->method = rd_str(&r);
	rq->url = rd_str(&r);
	rq->route = rd_str(&r);
	rq->host = rd_str(&r);
	rq->remote = rd_str(&r);
	rq->id = rd_str(&r);
	rq->nheaders = rd_u32(&r);
	if (rq->nheaders > 64) {
		return 0;
	}
	for (uint32_t i = 0; i < rq->nheaders; i++) {
		rq->names[i] = rd_str(&r);
		rq->values[i] = rd_str(&r);
	}
	rq->body = rd_str(&r);
	return !r.bad && r.off == n;
}

static int str_eq(str s, const char *c) { return s.n == strlen(c) && memcmp(s.p, c, s.n) == 0; }

// response starts a Response encoding with nheaders headers to follow.
static void response(buf *b, uint32_t status, uint32_t nheaders) {
	buf_u32(b, 1);
	buf_u32(b, status);
	buf_u32(b, nheaders);
}

static void header(buf *b, const char *name, const char *value) {
	buf_cstr(b, name);
	buf_cstr(b, value);
}

// respond_text answers status with a text/plain body.
static int32_t respond_text(uint32_t status, const char *body, size_t n) {
	buf b = {0};
	response(&b, status, 1);
	header(&b, "Content-Type", "text/plain");
	buf_bytes(&b, body, n);
	int32_t ret = mote_respond(b.p, (int32_t)b.n);
	free(b.p);
	return ret;
}
