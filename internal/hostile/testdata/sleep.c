// sleep.c: sleeps forever (poll_oneoff), holding its instance without using
// a core. [limits] timeout ends it: 504.
//
// Rebuild: ./build.sh
#include <unistd.h>

int main(void) {
	for (;;) {
		sleep(1);
	}
}
