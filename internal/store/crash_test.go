package store

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/mote-run/mote/api"
)

// The crash test re-executes the test binary as a child (see TestMain) that
// writes to a store and prints a line after each acknowledged write.
const (
	crashChildEnv  = "MOTE_STORE_CRASH_DIR"
	crashIterEnv   = "MOTE_STORE_CRASH_ITER"
	crashNoSyncEnv = "MOTE_STORE_CRASH_NOSYNC"
)

// crashChild runs in the child process: forever, create a service and its
// version 1, bump a shared counter with compare-and-set, now and then put a
// blob, and print "ack ITER I" once all of that is acknowledged.
func crashChild(dir string) {
	ctx := context.Background()
	iter := os.Getenv(crashIterEnv)
	s, err := Open(ctx, Options{Dir: dir, NoSync: os.Getenv(crashNoSyncEnv) == "1"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child: open:", err)
		os.Exit(2)
	}
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(3)
	}
	if _, err := s.CreateService(ctx, api.Service{Name: "counter"}); err != nil && !strings.Contains(err.Error(), ErrExists.Error()) {
		fail(err)
	}
	fmt.Println("ready")
	for i := 0; ; i++ {
		name := fmt.Sprintf("s%s-%d", iter, i)
		if _, err := s.CreateService(ctx, api.Service{Name: name, Route: "/" + name, Latest: i}); err != nil {
			fail(err)
		}
		if err := s.PutVersion(ctx, api.Version{Service: name, Number: 1, Manifest: name}); err != nil {
			fail(err)
		}
		c, rev, err := s.Service(ctx, "counter")
		if err != nil {
			fail(err)
		}
		c.Latest++
		if _, err := s.UpdateService(ctx, c, rev); err != nil {
			fail(err)
		}
		if i%10 == 0 {
			b := []byte(name + strings.Repeat("x", 200<<10)) // two chunks
			if _, err := s.PutBlob(ctx, digestOf(b), strings.NewReader(string(b))); err != nil {
				fail(err)
			}
		}
		// os.Stdout is unbuffered: the line is out before the next write.
		fmt.Printf("ack %s %d %d\n", iter, i, c.Latest)
	}
}

// TestCrashDurability SIGKILLs a writing child at a random point, several
// times on one data dir, and checks that every write the child saw
// acknowledged is there when the store is opened again.
func TestCrashDurability(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGKILL semantics")
	}
	dir := t.TempDir()
	lastCounter := 0
	for iter := range 6 {
		noSync := iter%2 == 1
		t.Run(fmt.Sprintf("iter %d nosync=%v", iter, noSync), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, crashIterEnv+"="+strconv.Itoa(iter))
			if noSync {
				cmd.Env = append(cmd.Env, crashNoSyncEnv+"=1")
			}
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			killAfter := 1 + rand.IntN(120)
			acked := -1
			counter := lastCounter
			sc := bufio.NewScanner(out)
			killed := false
			for sc.Scan() {
				line := sc.Text()
				if line == "ready" {
					continue
				}
				var it, i, c int
				if _, err := fmt.Sscanf(line, "ack %d %d %d", &it, &i, &c); err != nil || it != iter || i != acked+1 {
					t.Fatalf("child said %q after ack %d", line, acked)
				}
				acked, counter = i, c
				if !killed && i+1 >= killAfter {
					// The child is already writing the next entries.
					if err := cmd.Process.Kill(); err != nil {
						t.Fatal(err)
					}
					killed = true
				}
			}
			err = cmd.Wait()
			if !killed {
				t.Fatalf("child exited before the kill: %v\n%s", err, stderr.String())
			}
			if acked < 0 {
				t.Fatalf("no acknowledged write\n%s", stderr.String())
			}
			t.Logf("killed after %d acknowledged rounds", acked+1)

			s := openStore(t, dir)
			ctx := t.Context()
			for i := 0; i <= acked; i++ {
				name := fmt.Sprintf("s%d-%d", iter, i)
				if svc, _, err := s.Service(ctx, name); err != nil || svc.Latest != i {
					t.Errorf("acknowledged service %s: %+v, %v", name, svc, err)
				}
				if _, err := s.Version(ctx, name, 1); err != nil {
					t.Errorf("acknowledged version %s.1: %v", name, err)
				}
				if i%10 == 0 {
					b := []byte(name + strings.Repeat("x", 200<<10))
					if got, err := s.Blob(ctx, digestOf(b)); err != nil || string(got) != string(b) {
						t.Errorf("acknowledged blob of %s: %v", name, err)
					}
				}
			}
			c, _, err := s.Service(ctx, "counter")
			if err != nil {
				t.Fatal(err)
			}
			if c.Latest < counter {
				t.Errorf("counter = %d, but %d was acknowledged", c.Latest, counter)
			}
			lastCounter = c.Latest
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
