// compute.c: a compute-bound WAGI command for BenchmarkInterruptCost: it
// fills 4 MiB with a xorshift sequence and hashes it 8 times with FNV-1a
// (32 MiB of byte-at-a-time work in tight loops, no host calls), then
// prints the hash.
//
// Rebuild (from this directory):
//   clang --target=wasm32-wasi --sysroot=/usr -O2 -Wl,--strip-all -o compute.wasm compute.c
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define SIZE (4u << 20)

int main(void) {
	unsigned char *data = malloc(SIZE);
	if (data == NULL) {
		return 1;
	}
	uint32_t x = 2463534242u;
	for (uint32_t i = 0; i < SIZE; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		data[i] = (unsigned char)x;
	}
	uint32_t h = 2166136261u;
	for (int round = 0; round < 8; round++) {
		for (uint32_t i = 0; i < SIZE; i++) {
			h = (h ^ data[i]) * 16777619u;
		}
	}
	printf("Content-Type: text/plain\n\nfnv=%08x\n", (unsigned)h);
	return 0;
}
