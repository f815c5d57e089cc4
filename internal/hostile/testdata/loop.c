// loop.c: spins forever without calling the host. Only the node's
// interruption at [limits] timeout stops it: 504.
//
// Rebuild: ./build.sh
static volatile unsigned long long spin;

int main(void) {
	for (;;) {
		spin++;
	}
}
