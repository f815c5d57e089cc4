// pooled.c: the pooled (reactor) test guest for the sandbox driver; the path
// below the route picks what it does (README.md lists every path).
//
// Rebuild (from this directory; Debian: clang lld wasi-libc libclang-rt-14-dev-wasm32):
//   clang --target=wasm32-wasi --sysroot=/usr -O2 -mexec-model=reactor -Wl,--strip-all -o pooled.wasm pooled.c
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mote_v1.h"

// served counts the requests this instance has handled: it survives between
// requests only if the instance is reused.
static int64_t served;

// A bad pointer: far past any memory this guest has.
#define BAD ((void *)0xFFFFFF00u)

static int hexval(char c) {
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

// unescape decodes %XX escapes of s into b.
static void unescape(buf *b, str s) {
	for (uint32_t i = 0; i < s.n; i++) {
		int hi, lo;
		if (s.p[i] == '%' && i + 2 < s.n && (hi = hexval(s.p[i + 1])) >= 0 && (lo = hexval(s.p[i + 2])) >= 0) {
			char c = (char)(hi * 16 + lo);
			buf_add(b, &c, 1);
			i += 2;
		} else {
			buf_add(b, &s.p[i], 1);
		}
	}
}

static int64_t parse_i64(str s) {
	int64_t v = 0;
	int neg = 0;
	uint32_t i = 0;
	if (s.n > 0 && s.p[0] == '-') {
		neg = 1;
		i = 1;
	}
	for (; i < s.n && s.p[i] >= '0' && s.p[i] <= '9'; i++) {
		v = v * 10 + (s.p[i] - '0');
	}
	return neg ? -v : v;
}

// header_value returns the first value of the request header name, or an
// empty str.
static str header_value(const request *rq, const char *name) {
	for (uint32_t i = 0; i < rq->nheaders; i++) {
		if (str_eq(rq->names[i], name)) {
			return rq->values[i];
		}
	}
	str none = {"", 0};
	return none;
}

// report appends "name ret result\n".
static void report(buf *out, const char *name, int64_t ret) {
	buf_str(out, name);
	buf_str(out, " ");
	buf_i64(out, ret);
	buf_str(out, " ");
	result_into(out);
	buf_str(out, "\n");
}

// fetch_request encodes a GET of url.
static void fetch_request(buf *b, const char *url) {
	buf_u32(b, 1);
	buf_cstr(b, "GET");
	buf_cstr(b, url);
	buf_cstr(b, ""); // route
	buf_cstr(b, ""); // host
	buf_cstr(b, ""); // remote addr
	buf_cstr(b, ""); // request id
	buf_u32(b, 1);
	header(b, "Accept", "text/plain");
	buf_cstr(b, ""); // body
}

static int do_echo(const request *rq) {
	buf body = {0}, r = {0};
	const str *fields[] = {&rq->method, &rq->url, &rq->route, &rq->host, &rq->remote, &rq->id};
	const char *labels[] = {"method=", "url=", "route=", "host=", "remote=", "id="};
	for (int i = 0; i < 6; i++) {
		buf_str(&body, labels[i]);
		buf_add(&body, fields[i]->p, fields[i]->n);
		buf_str(&body, "\n");
	}
	for (uint32_t i = 0; i < rq->nheaders; i++) {
		buf_str(&body, "header=");
		buf_add(&body, rq->names[i].p, rq->names[i].n);
		buf_str(&body, ": ");
		buf_add(&body, rq->values[i].p, rq->values[i].n);
		buf_str(&body, "\n");
	}
	buf_str(&body, "body=");
	buf_add(&body, rq->body.p, rq->body.n);

	response(&r, 201, 6 + rq->nheaders);
	header(&r, "Content-Type", "text/plain");
	header(&r, "set-cookie", "a=1");
	header(&r, "Set-Cookie", "b=2");
	header(&r, "Connection", "close");
	header(&r, "Content-Length", "999");
	buf count = {0};
	buf_i64(&count, served);
	buf_add(&count, "", 1);
	header(&r, "X-Served", count.p);
	for (uint32_t i = 0; i < rq->nheaders; i++) {
		buf name = {0};
		buf_str(&name, "X-Echo-");
		buf_add(&name, rq->names[i].p, rq->names[i].n);
		buf_bytes(&r, name.p, name.n);
		buf_bytes(&r, rq->values[i].p, rq->values[i].n);
	}
	buf_bytes(&r, body.p, body.n);
	return mote_respond(r.p, (int32_t)r.n) == 0 ? 0 : 5;
}

// do_caps calls every capability once with fixed arguments.
static int do_caps(void) {
	buf out = {0}, req = {0};
	report(&out, "log", mote_log(1, "caps log line", 13));
	report(&out, "kv_set", mote_kv_set("k", 1, "v", 1, 1500));
	report(&out, "kv_get", mote_kv_get("k", 1));
	report(&out, "kv_delete", mote_kv_delete("k", 1));
	report(&out, "kv_list", mote_kv_list("p", 1));
	report(&out, "config_get", mote_config_get("c", 1));
	fetch_request(&req, "http://api.example.com/x");
	report(&out, "http_fetch", mote_http_fetch(req.p, (int32_t)req.n));
	req.n = 0;
	fetch_request(&req, "/x");
	report(&out, "call", mote_call("users", 5, req.p, (int32_t)req.n));
	return respond_text(200, out.p, out.n) == 0 ? 0 : 5;
}

// do_one calls the capability named by the path with the query (unescaped)
// and the body as arguments, and answers "ret=N\n" and the result.
static int do_one(const request *rq, str fn, str query) {
	buf arg = {0}, out = {0};
	unescape(&arg, query);
	const char *a = arg.p ? arg.p : "";
	int32_t an = (int32_t)arg.n;
	int64_t ret;
	if (str_eq(fn, "kv_get")) {
		ret = mote_kv_get(a, an);
	} else if (str_eq(fn, "kv_set")) {
		ret = mote_kv_set(a, an, rq->body.p, (int32_t)rq->body.n, parse_i64(header_value(rq, "X-Ttl")));
	} else if (str_eq(fn, "kv_delete")) {
		ret = mote_kv_delete(a, an);
	} else if (str_eq(fn, "kv_list")) {
		ret = mote_kv_list(a, an);
	} else if (str_eq(fn, "config_get")) {
		ret = mote_config_get(a, an);
	} else if (str_eq(fn, "http_fetch")) {
		ret = mote_http_fetch(rq->body.p, (int32_t)rq->body.n);
	} else if (str_eq(fn, "call")) {
		ret = mote_call(a, an, rq->body.p, (int32_t)rq->body.n);
	} else if (str_eq(fn, "log")) {
		ret = mote_log((int32_t)parse_i64(query), rq->body.p, (int32_t)rq->body.n);
	} else {
		return respond_text(404, "no such function", 16) == 0 ? 0 : 5;
	}
	buf_str(&out, "ret=");
	buf_i64(&out, ret);
	buf_str(&out, "\n");
	result_into(&out);
	return respond_text(200, out.p, out.n) == 0 ? 0 : 5;
}

// do_badptr passes a pointer outside memory to every host function that
// takes one, and reports what each returned.
static int do_badptr(void) {
	buf out = {0}, req = {0};
	fetch_request(&req, "/x");
	mote_kv_get("", 0); // a failure, so the result is not empty
	report(&out, "result_read", mote_result_read(BAD, 100));
	report(&out, "request_read", mote_request_read(BAD, 100));
	report(&out, "respond", mote_respond(BAD, 100));
	report(&out, "log", mote_log(1, BAD, 100));
	report(&out, "kv_get", mote_kv_get(BAD, 100));
	report(&out, "kv_set.key", mote_kv_set(BAD, 100, "v", 1, 0));
	report(&out, "kv_set.value", mote_kv_set("k", 1, BAD, 100, 0));
	report(&out, "kv_delete", mote_kv_delete(BAD, 100));
	report(&out, "kv_list", mote_kv_list(BAD, 100));
	report(&out, "config_get", mote_config_get(BAD, 100));
	report(&out, "http_fetch", mote_http_fetch(BAD, 100));
	report(&out, "call.name", mote_call(BAD, 100, req.p, (int32_t)req.n));
	report(&out, "call.request", mote_call("users", 5, BAD, 100));
	report(&out, "kv_get.huge", mote_kv_get("k", -1));
	return respond_text(200, out.p, out.n) == 0 ? 0 : 5;
}

static volatile unsigned long long spin;

__attribute__((export_name("mote_v1_handle"))) int32_t handle(void) {
	served++;
	// The request's buffer is reused from one request to the next.
	static buf raw;
	int32_t n = mote_request_len();
	raw.n = 0;
	buf_grow(&raw, (size_t)n);
	if (mote_request_read(raw.p, n) != n) {
		return 2;
	}
	static request rq;
	if (!parse_request(raw.p, (uint32_t)n, &rq)) {
		return 3;
	}
	// The path below the route, and the query.
	str path = rq.url, query = {"", 0};
	if (path.n >= rq.route.n && memcmp(path.p, rq.route.p, rq.route.n) == 0) {
		path.p += rq.route.n;
		path.n -= rq.route.n;
	}
	for (uint32_t i = 0; i < path.n; i++) {
		if (path.p[i] == '?') {
			query.p = path.p + i + 1;
			query.n = path.n - i - 1;
			path.n = i;
			break;
		}
	}

	if (str_eq(path, "/echo")) return do_echo(&rq);
	if (str_eq(path, "/counter")) {
		buf b = {0};
		buf_str(&b, "served=");
		buf_i64(&b, served);
		return respond_text(200, b.p, b.n) == 0 ? 0 : 5;
	}
	if (str_eq(path, "/env")) {
		const char *g = getenv("GREETING"), *m = getenv("REQUEST_METHOD");
		buf b = {0};
		buf_str(&b, "GREETING=");
		buf_str(&b, g ? g : "(unset)");
		buf_str(&b, "\nREQUEST_METHOD=");
		buf_str(&b, m ? m : "(unset)");
		return respond_text(200, b.p, b.n) == 0 ? 0 : 5;
	}
	if (str_eq(path, "/stdio")) {
		write(1, "to stdout\n", 10);
		write(2, "to stderr\n", 10);
		return respond_text(200, "ok", 2) == 0 ? 0 : 5;
	}
	if (str_eq(path, "/trap")) __builtin_trap();
	if (str_eq(path, "/ret1")) {
		respond_text(200, "then failed", 11);
		return 1;
	}
	if (str_eq(path, "/norespond")) return 0;
	if (str_eq(path, "/malformed")) {
		mote_respond("\1\0\0\0\xff", 5);
		return 0;
	}
	if (str_eq(path, "/badstatus")) {
		buf r = {0};
		response(&r, 101, 0);
		buf_cstr(&r, "");
		mote_respond(r.p, (int32_t)r.n);
		return 0;
	}
	if (str_eq(path, "/badheader")) {
		buf r = {0};
		response(&r, 200, 1);
		header(&r, "Bad Name", "x");
		buf_cstr(&r, "");
		mote_respond(r.p, (int32_t)r.n);
		return 0;
	}
	if (str_eq(path, "/twice")) {
		respond_text(200, "first", 5);
		int32_t second = mote_respond("garbage", 7);
		buf b = {0};
		buf_str(&b, "second respond: ");
		buf_i64(&b, second);
		buf_str(&b, " ");
		result_into(&b);
		mote_log(2, b.p, (int32_t)b.n);
		return 0;
	}
	if (str_eq(path, "/big")) {
		size_t size = (size_t)parse_i64(query);
		char *body = malloc(size);
		if (body == NULL) {
			return 4;
		}
		memset(body, 'b', size);
		respond_text(200, body, size);
		free(body);
		return 0;
	}
	if (str_eq(path, "/bigret") || str_eq(path, "/bigexit")) {
		// As the Go SDK does: give up when the response is refused.
		size_t size = (size_t)parse_i64(query);
		char *body = malloc(size);
		if (body == NULL) {
			return 4;
		}
		memset(body, 'b', size);
		int32_t ret = respond_text(200, body, size);
		free(body);
		if (ret != 0 && str_eq(path, "/bigexit")) {
			exit(2);
		}
		return ret != 0 ? 1 : 0;
	}
	if (str_eq(path, "/exit0")) {
		respond_text(200, "responded, then exited", 22);
		exit(0);
	}
	if (str_eq(path, "/loop")) {
		for (;;) {
			spin++;
		}
	}
	if (str_eq(path, "/sleep")) {
		for (;;) {
			sleep(1);
		}
	}
	if (str_eq(path, "/nap")) {
		int64_t ms = parse_i64(query);
		struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
		nanosleep(&ts, NULL);
		return respond_text(200, "rested", 6) == 0 ? 0 : 5;
	}
	if (str_eq(path, "/caps")) return do_caps();
	if (str_eq(path, "/badptr")) return do_badptr();
	if (path.n > 5 && memcmp(path.p, "/one/", 5) == 0) {
		str fn = {path.p + 5, path.n - 5};
		return do_one(&rq, fn, query);
	}
	return respond_text(404, "unknown path", 12) == 0 ? 0 : 5;
}
