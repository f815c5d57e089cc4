// hello-c: the smallest useful WAGI nanoservice, written in C.
//
// Rebuild (from this directory; Debian: clang lld wasi-libc libclang-rt-14-dev-wasm32):
//   clang --target=wasm32-wasi --sysroot=/usr -Os -Wl,--strip-all -o hello.wasm hello.c
//
// WAGI hands the request to a WASI command: the path after the service's route
// is in the PATH_INFO environment variable, and whatever the program writes to
// stdout is the response: header lines, a blank line, then the body.
//
// It is mote's benchmark guest, so it stays lean: write(2) instead of printf
// keeps stdio's formatting code out of the module.
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void out(const char *s) { write(STDOUT_FILENO, s, strlen(s)); }

int main(void) {
	out("Content-Type: text/plain\n"
	    "\n"
	    "Hello from C on mote!\n");
	const char *path = getenv("PATH_INFO");
	if (path != NULL && *path != '\0') {
		out("You asked for ");
		out(path);
		out("\n");
	}
	return 0;
}
