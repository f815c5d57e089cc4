// guest.c: one WAGI test guest for the sandbox driver; PATH_INFO picks what
// it does (README.md lists every path).
//
// Rebuild (from this directory; Debian: clang lld wasi-libc libclang-rt-14-dev-wasm32):
//   clang --target=wasm32-wasi --sysroot=/usr -O2 -Wl,--strip-all -o guest.wasm guest.c
//
// Output goes through write(2), never stdio, so nothing is buffered: what a
// path writes before it exits or traps has reached the host.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

// put writes n bytes to fd, retrying short writes; it returns -1 when the
// host refuses more output.
static int put(int fd, const char *s, size_t n) {
	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w <= 0) {
			return -1;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

static void out(const char *s) { put(STDOUT_FILENO, s, strlen(s)); }

static void out_u64(unsigned long long v) {
	char buf[24];
	char *p = buf + sizeof buf;
	*--p = '\0';
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	out(p);
}

static void text_headers(void) { out("Content-Type: text/plain\n\n"); }

// read_body reads stdin to the end into a malloc'd buffer; *len gets its size.
static char *read_body(size_t *len) {
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	if (buf == NULL) {
		abort();
	}
	for (;;) {
		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (buf == NULL) {
				abort();
			}
		}
		ssize_t r = read(STDIN_FILENO, buf + n, cap - n);
		if (r <= 0) {
			break;
		}
		n += (size_t)r;
	}
	*len = n;
	return buf;
}

static int hexval(char c) {
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

// query_path returns QUERY_STRING with %XX escapes decoded, in a malloc'd string.
static char *query_path(void) {
	const char *q = getenv("QUERY_STRING");
	if (q == NULL) {
		q = "";
	}
	char *dst = malloc(strlen(q) + 1), *d = dst;
	if (dst == NULL) {
		abort();
	}
	for (; *q != '\0'; q++) {
		int hi, lo;
		if (q[0] == '%' && (hi = hexval(q[1])) >= 0 && (lo = hexval(q[2])) >= 0) {
			*d++ = (char)(hi * 16 + lo);
			q += 2;
		} else {
			*d++ = *q;
		}
	}
	*d = '\0';
	return dst;
}

static void err_line(int e) {
	out("ERR ");
	out(strerror(e));
	out("\n");
}

static int do_env(int argc, char **argv) {
	text_headers();
	for (char **e = environ; *e != NULL; e++) {
		out(*e);
		out("\n");
	}
	for (int i = 0; i < argc; i++) {
		out("argv[");
		out_u64((unsigned long long)i);
		out("]=");
		out(argv[i]);
		out("\n");
	}
	size_t n;
	char *body = read_body(&n);
	out("stdin=");
	put(STDOUT_FILENO, body, n);
	return 0;
}

static int do_argv(int argc, char **argv) {
	text_headers();
	out("argc=");
	out_u64((unsigned long long)argc);
	out("\n");
	for (int i = 0; i < argc; i++) {
		out("argv[");
		out_u64((unsigned long long)i);
		out("]=");
		out(argv[i]);
		out("\n");
	}
	return 0;
}

static int do_echo(void) {
	size_t n;
	char *body = read_body(&n);
	const char *ct = getenv("CONTENT_TYPE");
	out("Content-Type: ");
	out(ct != NULL && *ct != '\0' ? ct : "application/octet-stream");
	out("\n\n");
	put(STDOUT_FILENO, body, n);
	return 0;
}

static int do_stderr(void) {
	// Three lines in two writes, so a host's line splitting is exercised.
	put(STDERR_FILENO, "stderr line 1\nstderr line 2\n", 28);
	put(STDERR_FILENO, "stderr line 3\n", 14);
	text_headers();
	out("wrote 3 lines to stderr\n");
	return 0;
}

static volatile unsigned long long spin;

static int do_loop(void) {
	for (;;) {
		spin++;
	}
}

static int do_sleep(void) {
	for (;;) {
		sleep(1);
	}
}

// do_nap sleeps QUERY_STRING milliseconds in one nanosleep (one
// poll_oneoff), then answers "rested".
static int do_nap(void) {
	const char *q = getenv("QUERY_STRING");
	long long ms = q == NULL ? 0 : atoll(q);
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
	nanosleep(&ts, NULL);
	text_headers();
	out("rested\n");
	return 0;
}

// last holds the newest chunk and each chunk points to the one before, so
// the compiler cannot drop the allocations as unused.
static void *volatile last;

static int do_grow(void) {
	unsigned long long mib = 0;
	for (;;) {
		char *p = malloc(1 << 20);
		if (p == NULL) {
			break;
		}
		memset(p, 1, 1 << 20); // touch every page
		*(void **)p = last;
		last = p;
		mib++;
	}
	text_headers();
	out("grew ");
	out_u64(mib);
	out(" MiB\n");
	return 0;
}

// recurse never returns: stop is never reached, and the store after the call
// keeps the compiler from turning the recursion into a loop. It needs no
// shadow-stack space, so what runs out is the engine's call stack.
static volatile int stop = -1;
static volatile int sink;

__attribute__((noinline)) static int recurse(int depth) {
	if (depth == stop) {
		return 0;
	}
	int r = recurse(depth + 1);
	sink = r;
	return r + depth;
}

static int do_flood(void) {
	static char chunk[64 << 10];
	memset(chunk, 'x', sizeof chunk);
	out("Content-Type: application/octet-stream\n\n");
	for (int i = 0; i < (256 << 20) / (int)sizeof chunk; i++) {
		if (put(STDOUT_FILENO, chunk, sizeof chunk) != 0) {
			return 1; // the host stopped taking output
		}
	}
	return 0;
}

static int do_bighdr(void) {
	size_t n = 1 << 20;
	char *v = malloc(n);
	if (v == NULL) {
		abort();
	}
	memset(v, 'a', n);
	out("X-Big: ");
	put(STDOUT_FILENO, v, n);
	out("\nContent-Type: text/plain\n\nbig header\n");
	return 0;
}

static int do_cat(void) {
	char *path = query_path();
	text_headers();
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		err_line(errno);
		return 0;
	}
	char buf[4096];
	ssize_t r;
	while ((r = read(fd, buf, sizeof buf)) > 0) {
		put(STDOUT_FILENO, buf, (size_t)r);
	}
	if (r < 0) {
		err_line(errno);
	}
	close(fd);
	return 0;
}

static int cmp_names(const void *a, const void *b) {
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int do_ls(void) {
	char *path = query_path();
	text_headers();
	DIR *d = opendir(path);
	if (d == NULL) {
		err_line(errno);
		return 0;
	}
	size_t n = 0, cap = 16;
	char **names = malloc(cap * sizeof *names);
	struct dirent *e;
	while (names != NULL && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
			continue;
		}
		if (n == cap) {
			cap *= 2;
			names = realloc(names, cap * sizeof *names);
			if (names == NULL) {
				break;
			}
		}
		names[n++] = strdup(e->d_name);
	}
	closedir(d);
	if (names == NULL) {
		abort();
	}
	qsort(names, n, sizeof *names, cmp_names);
	for (size_t i = 0; i < n; i++) {
		out(names[i]);
		out("\n");
	}
	return 0;
}

static int do_write(void) {
	char *path = query_path();
	text_headers();
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		err_line(errno);
		return 0;
	}
	if (put(fd, "written by guest\n", 17) != 0) {
		err_line(errno);
	} else {
		out("OK\n");
	}
	close(fd);
	return 0;
}

static int do_time(void) {
	struct timespec mono;
	unsigned char rnd[16];
	static const char hex[] = "0123456789abcdef";
	char rhex[2 * sizeof rnd + 1];
	text_headers();
	out("time=");
	out_u64((unsigned long long)time(NULL));
	out("\nmonotonic=");
	clock_gettime(CLOCK_MONOTONIC, &mono);
	out_u64((unsigned long long)mono.tv_sec * 1000000000ull + (unsigned long long)mono.tv_nsec);
	out("\nrandom=");
	if (getentropy(rnd, sizeof rnd) != 0) {
		err_line(errno);
		return 0;
	}
	for (size_t i = 0; i < sizeof rnd; i++) {
		rhex[2 * i] = hex[rnd[i] >> 4];
		rhex[2 * i + 1] = hex[rnd[i] & 15];
	}
	rhex[2 * sizeof rnd] = '\0';
	out(rhex);
	out("\n");
	return 0;
}

int main(int argc, char **argv) {
	const char *p = getenv("PATH_INFO");
	if (p == NULL) {
		p = "";
	}
	if (strcmp(p, "/env") == 0) return do_env(argc, argv);
	if (strcmp(p, "/argv") == 0) return do_argv(argc, argv);
	if (strcmp(p, "/echo") == 0) return do_echo();
	if (strncmp(p, "/status/", 8) == 0) {
		out("Status: ");
		out(p + 8);
		out("\nContent-Type: text/plain\n\nstatus ");
		out(p + 8);
		out("\n");
		return 0;
	}
	if (strcmp(p, "/location") == 0) {
		out("Location: http://example.com/x\n\n");
		return 0;
	}
	if (strcmp(p, "/headers") == 0) {
		out("Content-Type: text/plain\nX-One: 1\nSet-Cookie: a=1\nSet-Cookie: b=2\n\nheaders\n");
		return 0;
	}
	if (strcmp(p, "/nohdr") == 0) {
		out("this body has no headers\n");
		return 0;
	}
	if (strcmp(p, "/empty") == 0) return 0;
	if (strcmp(p, "/exit3") == 0) {
		text_headers();
		out("exiting with 3\n");
		exit(3);
	}
	if (strcmp(p, "/trap") == 0) __builtin_trap();
	if (strcmp(p, "/stderr") == 0) return do_stderr();
	if (strcmp(p, "/loop") == 0) return do_loop();
	if (strcmp(p, "/sleep") == 0) return do_sleep();
	if (strcmp(p, "/nap") == 0) return do_nap();
	if (strcmp(p, "/grow") == 0) return do_grow();
	if (strcmp(p, "/recurse") == 0) return recurse(0);
	if (strcmp(p, "/flood") == 0) return do_flood();
	if (strcmp(p, "/bighdr") == 0) return do_bighdr();
	if (strcmp(p, "/cat") == 0) return do_cat();
	if (strcmp(p, "/ls") == 0) return do_ls();
	if (strcmp(p, "/write") == 0) return do_write();
	if (strcmp(p, "/time") == 0) return do_time();
	out("Status: 404\nContent-Type: text/plain\n\nunknown path ");
	out(p);
	out("\n");
	return 0;
}
