// exit.c: prints a valid response, then exits with code 7. A non-zero exit
// is a failure even after a valid response: 502.
//
// Rebuild: ./build.sh
#include <stdlib.h>

#include "common.h"

int main(void) {
	out("Content-Type: text/plain\n\nthis answer must not reach the client\n");
	exit(7);
}
