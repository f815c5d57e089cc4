// slow.c: answers after 300 ms asleep (no CPU), so a burst of requests
// fills its instances and its queue.
//
// Rebuild: ./build.sh
#include <time.h>

#include "common.h"

int main(void) {
	struct timespec ts = {0, 300 * 1000 * 1000};
	nanosleep(&ts, NULL);
	out("Content-Type: text/plain\n\nslept\n");
	return 0;
}
