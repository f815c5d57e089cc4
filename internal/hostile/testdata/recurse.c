// recurse.c: unbounded recursion the compiler cannot turn into a loop and
// that uses no shadow-stack memory, so what overflows is the engine's call
// stack: a trap, 502.
//
// Rebuild: ./build.sh
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

int main(void) { return recurse(0); }
