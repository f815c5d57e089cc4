// wagicaps.c: a WAGI command that uses the mote_v1 host functions.
// PATH_INFO names the function to call (/kv_get, /kv_set, /kv_list,
// /config_get, /log, /request_len, /respond); QUERY_STRING is the key (or
// the log level) and stdin the value (kv_set) or the message (log). It
// answers text/plain "ret=N\n" followed by the result.
//
// Rebuild (from this directory):
//   clang --target=wasm32-wasi --sysroot=/usr -O2 -Wl,--strip-all -o wagicaps.wasm wagicaps.c
#include <stdio.h>
#include <unistd.h>

#include "mote_v1.h"

int main(void) {
	const char *p = getenv("PATH_INFO"), *q = getenv("QUERY_STRING");
	p = p ? p : "";
	q = q ? q : "";
	buf in = {0}, out = {0};
	char chunk[4096];
	ssize_t r;
	while ((r = read(0, chunk, sizeof chunk)) > 0) {
		buf_add(&in, chunk, (size_t)r);
	}
	int32_t qn = (int32_t)strlen(q);
	int64_t ret;
	if (strcmp(p, "/kv_get") == 0) ret = mote_kv_get(q, qn);
	else if (strcmp(p, "/kv_set") == 0) ret = mote_kv_set(q, qn, in.p, (int32_t)in.n, 0);
	else if (strcmp(p, "/kv_list") == 0) ret = mote_kv_list(q, qn);
	else if (strcmp(p, "/config_get") == 0) ret = mote_config_get(q, qn);
	else if (strcmp(p, "/log") == 0) ret = mote_log(atoi(q), in.p, (int32_t)in.n);
	else if (strcmp(p, "/request_len") == 0) ret = mote_request_len();
	else if (strcmp(p, "/respond") == 0) ret = mote_respond("x", 1);
	else {
		fputs("Status: 404\nContent-Type: text/plain\n\nunknown path\n", stdout);
		return 0;
	}
	buf_str(&out, "ret=");
	buf_i64(&out, ret);
	buf_str(&out, "\n");
	result_into(&out);
	fputs("Content-Type: text/plain\n\n", stdout);
	fwrite(out.p, 1, out.n, stdout);
	return 0;
}
