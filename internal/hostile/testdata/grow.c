// grow.c: allocates 1 MiB chunks and touches every byte until malloc fails
// at [limits] memory, says on stderr how far it got, then aborts (as Go and
// Rust runtimes do when memory runs out): 502, and the stderr line in the
// logs shows the limit held.
//
// Rebuild: ./build.sh
#include <stdlib.h>

#include "common.h"

// Each chunk points to the one before, so the allocations are not dropped.
static void *volatile last;

int main(void) {
	unsigned long long mib = 0;
	for (;;) {
		char *p = malloc(1 << 20);
		if (p == NULL) {
			break;
		}
		memset(p, 1, 1 << 20);
		*(void **)p = last;
		last = p;
		mib++;
	}
	err("grew ");
	err(u64(mib));
	err(" MiB before malloc failed\n");
	abort();
}
