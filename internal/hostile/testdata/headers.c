// headers.c: huge or malformed response headers. PATH_INFO picks the
// attack; every one but /hop is a malformed response (502):
//
//   /huge     one header line with a 1 MiB value
//   /many     1000 header lines
//   /badname  a header named "Bad Name"
//   /ctl      a value holding a control byte (0x01)
//   /cr       a value holding a bare CR (response splitting)
//   /nul      a value holding a NUL byte
//   /dup      two Status lines
//   /status   Status: 99
//   /bigstatus Status: 99999999999999999999999
//   /nohdr    a body with no header block
//   /hop      framing headers (Transfer-Encoding, Connection, Content-Length)
//             that the node must drop: 200 with a warning in the logs
//
// Rebuild: ./build.sh
#include <stdlib.h>

#include "common.h"

static void body(void) { out("Content-Type: text/plain\n\nbody\n"); }

int main(void) {
	const char *p = getenv("PATH_INFO");
	if (p == NULL) {
		p = "";
	}
	if (strcmp(p, "/huge") == 0) {
		size_t n = 1 << 20;
		char *v = malloc(n);
		if (v == NULL) {
			abort();
		}
		memset(v, 'a', n);
		out("X-Big: ");
		put(STDOUT_FILENO, v, n);
		out("\n");
		body();
	} else if (strcmp(p, "/many") == 0) {
		for (int i = 0; i < 1000; i++) {
			out("X-N: ");
			out(u64((unsigned long long)i));
			out("\n");
		}
		body();
	} else if (strcmp(p, "/badname") == 0) {
		out("Bad Name: x\n");
		body();
	} else if (strcmp(p, "/ctl") == 0) {
		out("X-Ctl: a\001b\n");
		body();
	} else if (strcmp(p, "/cr") == 0) {
		out("X-Split: a\rSet-Cookie: injected=1\n");
		body();
	} else if (strcmp(p, "/nul") == 0) {
		put(STDOUT_FILENO, "X-Nul: a\0b\n", 11);
		body();
	} else if (strcmp(p, "/dup") == 0) {
		out("Status: 200\nStatus: 201\n");
		body();
	} else if (strcmp(p, "/status") == 0) {
		out("Status: 99\n");
		body();
	} else if (strcmp(p, "/bigstatus") == 0) {
		out("Status: 99999999999999999999999\n");
		body();
	} else if (strcmp(p, "/nohdr") == 0) {
		out("just a body, no header block\n");
	} else if (strcmp(p, "/hop") == 0) {
		out("Transfer-Encoding: chunked\nConnection: close\nContent-Length: 99999\n");
		body();
	} else {
		out("Status: 404\nContent-Type: text/plain\n\nunknown path\n");
	}
	return 0;
}
