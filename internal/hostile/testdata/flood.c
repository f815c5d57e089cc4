// flood.c: a valid header block, then 256 MiB of 'x' on stdout in 64 KiB
// writes. The node must stop it at [limits] response (502) without
// buffering the rest; it exits 1 as soon as a write is refused.
//
// Rebuild: ./build.sh
#include "common.h"

static char chunk[64 << 10];

int main(void) {
	memset(chunk, 'x', sizeof chunk);
	out("Content-Type: application/octet-stream\n\n");
	for (int i = 0; i < (256 << 20) / (int)sizeof chunk; i++) {
		if (put(STDOUT_FILENO, chunk, sizeof chunk) != 0) {
			return 1;
		}
	}
	return 0;
}
