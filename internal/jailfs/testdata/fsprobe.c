// fsprobe runs file operations given as arguments and prints one line per
// operation, so a Go test can check what a WASI libc program sees.
//
// Rebuild (Debian clang, lld, wasi-libc, libclang-rt-14-dev-wasm32):
//
//	clang --target=wasm32-wasi --sysroot=/usr -O2 -Wl,--strip-all \
//	    -o testdata/fsprobe.wasm testdata/fsprobe.c
//
// Usage: fsprobe OP ARG... [OP ARG...]...
//
//	cat PATH            print the contents ("\n" escaped)
//	ls PATH             list entries sorted, "/" after directories, "@" after symlinks
//	stat PATH           type and size, following symlinks
//	lstat PATH          type and size of the link itself
//	readlink PATH       the link's text
//	write PATH TEXT     create or truncate, then write
//	append PATH TEXT    open with O_APPEND (creating), then write
//	creat-ro PATH       open(O_RDONLY|O_CREAT)
//	trunc-ro PATH       open(O_RDONLY|O_TRUNC)
//	mkdir PATH | rmdir PATH | rm PATH
//	mv FROM TO | symlink TARGET LINK | link OLD NEW
//
// Each line is "OP ARG...: ok[ RESULT]" or "OP ARG...: error ENAME".
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *ename(int e) {
	switch (e) {
	case EACCES: return "EACCES";
	case EBADF: return "EBADF";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case EINVAL: return "EINVAL";
	case EIO: return "EIO";
	case EISDIR: return "EISDIR";
	case ELOOP: return "ELOOP";
	case EMFILE: return "EMFILE";
	case ENAMETOOLONG: return "ENAMETOOLONG";
	case ENOENT: return "ENOENT";
	case ENOSYS: return "ENOSYS";
	case ENOTCAPABLE: return "ENOTCAPABLE";
	case ENOTDIR: return "ENOTDIR";
	case ENOTEMPTY: return "ENOTEMPTY";
	case ENOTSUP: return "ENOTSUP";
	case EPERM: return "EPERM";
	case ERANGE: return "ERANGE";
	case EROFS: return "EROFS";
	case EXDEV: return "EXDEV";
	default: {
		static char buf[16];
		snprintf(buf, sizeof buf, "E%d", e);
		return buf;
	}
	}
}

static int fail(void) {
	printf(": error %s\n", ename(errno));
	return 0;
}

static const char *kind(mode_t m) {
	if (S_ISREG(m)) return "file";
	if (S_ISDIR(m)) return "dir";
	if (S_ISLNK(m)) return "link";
	return "other";
}

static int cmp(const void *a, const void *b) {
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int do_cat(const char *p) {
	int fd = open(p, O_RDONLY);
	if (fd < 0) return fail();
	static char buf[65536];
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, buf + n, sizeof buf - n);
		if (r < 0) {
			int e = errno;
			close(fd);
			errno = e;
			return fail();
		}
		if (r == 0 || (n += (size_t)r) == sizeof buf) break;
	}
	close(fd);
	printf(": ok ");
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == '\n') fputs("\\n", stdout);
		else putchar(buf[i]);
	}
	putchar('\n');
	return 0;
}

static int do_ls(const char *p) {
	DIR *d = opendir(p);
	if (!d) return fail();
	char *names[1024];
	int n = 0;
	struct dirent *e;
	errno = 0;
	while (n < 1024 && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
		const char *suffix = e->d_type == DT_DIR ? "/" : e->d_type == DT_LNK ? "@" : "";
		size_t len = strlen(e->d_name) + 2;
		names[n] = malloc(len);
		snprintf(names[n], len, "%s%s", e->d_name, suffix);
		n++;
	}
	if (errno) {
		int err = errno;
		closedir(d);
		errno = err;
		return fail();
	}
	closedir(d);
	qsort(names, n, sizeof names[0], cmp);
	printf(": ok");
	for (int i = 0; i < n; i++) {
		printf("%s%s", i ? "," : " ", names[i]);
		free(names[i]);
	}
	putchar('\n');
	return 0;
}

static int do_stat(const char *p, int follow) {
	struct stat st;
	if ((follow ? stat(p, &st) : lstat(p, &st)) != 0) return fail();
	printf(": ok %s %lld\n", kind(st.st_mode), (long long)st.st_size);
	return 0;
}

static int do_readlink(const char *p) {
	char buf[4096];
	ssize_t n = readlink(p, buf, sizeof buf - 1);
	if (n < 0) return fail();
	buf[n] = 0;
	printf(": ok %s\n", buf);
	return 0;
}

static int do_write(const char *p, const char *text, int flags) {
	int fd = open(p, flags, 0644);
	if (fd < 0) return fail();
	size_t len = strlen(text);
	ssize_t n = write(fd, text, len);
	int e = errno;
	close(fd);
	if (n < 0) {
		errno = e;
		return fail();
	}
	printf(": ok %zd\n", n);
	return 0;
}

static int do_open(const char *p, int flags) {
	int fd = open(p, flags, 0644);
	if (fd < 0) return fail();
	close(fd);
	printf(": ok\n");
	return 0;
}

static int done(int rc) {
	if (rc != 0) return fail();
	printf(": ok\n");
	return 0;
}

int main(int argc, char **argv) {
	for (int i = 1; i < argc;) {
		const char *op = argv[i];
		int arity = 1;
		if (!strcmp(op, "write") || !strcmp(op, "append") || !strcmp(op, "mv") ||
		    !strcmp(op, "symlink") || !strcmp(op, "link"))
			arity = 2;
		if (i + arity >= argc) {
			fprintf(stderr, "fsprobe: %s needs %d argument(s)\n", op, arity);
			return 2;
		}
		const char *a = argv[i + 1], *b = arity > 1 ? argv[i + 2] : NULL;
		printf("%s %s%s%s", op, a, b ? " " : "", b ? b : "");
		errno = 0;
		if (!strcmp(op, "cat")) do_cat(a);
		else if (!strcmp(op, "ls")) do_ls(a);
		else if (!strcmp(op, "stat")) do_stat(a, 1);
		else if (!strcmp(op, "lstat")) do_stat(a, 0);
		else if (!strcmp(op, "readlink")) do_readlink(a);
		else if (!strcmp(op, "write")) do_write(a, b, O_WRONLY | O_CREAT | O_TRUNC);
		else if (!strcmp(op, "append")) do_write(a, b, O_WRONLY | O_CREAT | O_APPEND);
		else if (!strcmp(op, "creat-ro")) do_open(a, O_RDONLY | O_CREAT);
		else if (!strcmp(op, "trunc-ro")) do_open(a, O_RDONLY | O_TRUNC);
		else if (!strcmp(op, "mkdir")) done(mkdir(a, 0755));
		else if (!strcmp(op, "rmdir")) done(rmdir(a));
		else if (!strcmp(op, "rm")) done(unlink(a));
		else if (!strcmp(op, "mv")) done(rename(a, b));
		else if (!strcmp(op, "symlink")) done(symlink(a, b));
		else if (!strcmp(op, "link")) done(link(a, b));
		else {
			printf(": error unknown-op\n");
			return 2;
		}
		i += arity + 1;
	}
	return 0;
}
