// hello.c: the well-behaved neighbour whose latency the hostile tests
// measure while another service attacks the node.
//
// Rebuild: ./build.sh (clang --target=wasm32-wasi --sysroot=/usr -O2 -Wl,--strip-all -o hello.wasm hello.c)
#include "common.h"

int main(void) {
	out("Content-Type: text/plain\n\nhello\n");
	return 0;
}
