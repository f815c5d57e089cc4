// snoop.c: looks for the host from inside the sandbox and reports what it
// saw, one line per probe: files it tries to read (the first 256 bytes,
// escaped), directories it lists, its environment and argv, the
// preopened directories WASI hands it, raw reads of file descriptors it was
// never given, and writes, mkdirs and symlinks that would plant something
// (then it reads its package file again).
// The test checks that nothing of the host appears.
//
// Rebuild: ./build.sh
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <wasi/api.h>

#include "common.h"

extern char **environ;

// escaped writes s (n bytes) with non-printable bytes as \xHH.
static void escaped(const char *s, size_t n) {
	static const char hex[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			put(STDOUT_FILENO, &s[i], 1);
		} else {
			char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
			put(STDOUT_FILENO, e, 4);
		}
	}
}

static void fail(int e) {
	out("ERR ");
	out(strerror(e));
}

static void cat(const char *path) {
	out("cat ");
	out(path);
	out(": ");
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		fail(errno);
	} else {
		char buf[256];
		ssize_t r = read(fd, buf, sizeof buf);
		if (r < 0) {
			fail(errno);
		} else {
			out("READ ");
			escaped(buf, (size_t)r);
		}
		close(fd);
	}
	out("\n");
}

static void ls(const char *path) {
	out("ls ");
	out(path);
	out(":");
	DIR *d = opendir(path);
	if (d == NULL) {
		out(" ");
		fail(errno);
	} else {
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
				out(" ");
				out(e->d_name);
			}
		}
		closedir(d);
	}
	out("\n");
}

static void result(const char *what, const char *path, int ok) {
	out(what);
	out(" ");
	out(path);
	out(": ");
	if (ok) {
		out("OK");
	} else {
		fail(errno);
	}
	out("\n");
}

int main(int argc, char **argv) {
	out("Content-Type: text/plain\n\n");
	static const char *files[] = {
		"/etc/passwd", "etc/passwd", "../etc/passwd", "../../etc/passwd",
		"../../../../../../../../etc/passwd", "/static/../../../../etc/passwd",
		"/proc/self/environ", "/proc/self/cmdline", "/proc/self/maps",
		"../../admin.token", "../../../admin.token", "/dev/mem", "/static/a.txt",
	};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		cat(files[i]);
	}
	static const char *dirs[] = {"/", ".", "..", "../..", "/..", "/static", "/static/..", "/proc", "/etc", "/tmp"};
	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		ls(dirs[i]);
	}
	for (char **e = environ; *e != NULL; e++) {
		out("env ");
		out(*e);
		out("\n");
	}
	for (int i = 0; i < argc; i++) {
		out("argv ");
		out(argv[i]);
		out("\n");
	}
	// Every fd WASI knows about, preopened directories named.
	for (__wasi_fd_t fd = 0; fd < 64; fd++) {
		__wasi_fdstat_t st;
		if (__wasi_fd_fdstat_get(fd, &st) != 0) {
			continue;
		}
		out("fd ");
		out(u64(fd));
		out(": type ");
		out(u64(st.fs_filetype));
		__wasi_prestat_t ps;
		if (__wasi_fd_prestat_get(fd, &ps) == 0) {
			char name[256];
			size_t n = ps.u.dir.pr_name_len < sizeof name ? ps.u.dir.pr_name_len : sizeof name - 1;
			if (__wasi_fd_prestat_dir_name(fd, (uint8_t *)name, n) == 0) {
				out(" preopen ");
				escaped(name, n);
			}
		}
		out("\n");
	}
	// Reads of descriptors nobody handed out.
	for (int fd = 3; fd < 10; fd++) {
		char b[64];
		ssize_t r = read(fd, b, sizeof b);
		out("read fd ");
		out(u64((unsigned long long)fd));
		out(": ");
		if (r < 0) {
			fail(errno);
		} else {
			out("READ ");
			escaped(b, (size_t)r);
		}
		out("\n");
	}
	// Attempts to plant something.
	int fd = open("/static/planted", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	result("create", "/static/planted", fd >= 0);
	if (fd >= 0) {
		close(fd);
	}
	fd = open("/static/a.txt", O_WRONLY | O_TRUNC);
	result("truncate", "/static/a.txt", fd >= 0);
	if (fd >= 0) {
		result("write", "/static/a.txt", write(fd, "pwned\n", 6) == 6);
		close(fd);
	}
	result("mkdir", "/static/dir", mkdir("/static/dir", 0755) == 0);
	result("symlink", "/static/link", symlink("/etc/passwd", "/static/link") == 0);
	result("unlink", "/static/a.txt", unlink("/static/a.txt") == 0);
	// Whatever the attempts above said, the file must be intact.
	cat("/static/a.txt");
	return 0;
}
