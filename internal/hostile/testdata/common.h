// common.h: output helpers shared by the hostile WAGI guests. Everything is
// written with write(2), never stdio, so what a guest wrote before it traps
// or exits has reached the host.
#include <stddef.h>
#include <string.h>
#include <unistd.h>

// put writes n bytes to fd, retrying short writes; -1 once the host refuses
// more output.
static int put(int fd, const void *p, size_t n) {
	const char *s = p;
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
static void err(const char *s) { put(STDERR_FILENO, s, strlen(s)); }

// u64 formats v in decimal into a static buffer.
static const char *u64(unsigned long long v) {
	static char buf[24];
	char *p = buf + sizeof buf;
	*--p = '\0';
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	return p;
}
