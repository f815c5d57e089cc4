package main

import (
	_ "embed"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// The gateway suite: mote's gateway alone, to a guest that costs next to
// nothing, beside nginx and caddy proxying to the bare server. Issue 6's
// target compares the two proxies; with the Go SDK hello as the guest it
// measured the guest's execution in wazero instead.

// helloPooledC is testdata/hellopooled.c built as a pooled reactor: it
// reads the request and answers the bare server's hello in a few
// instructions. The command that rebuilds it is in the source.
//
//go:embed testdata/hellopooled.wasm
var helloPooledC []byte

// helloPooledCManifest deploys helloPooledC at /hello-pooled-c with the
// default scale (up to 20 instances).
const helloPooledCManifest = `name = "hello-pooled-c"
route = "/hello-pooled-c"

[wasm]
module = "hello.wasm"
abi = "pooled"

[limits]
memory = "16MiB"
timeout = "5s"
`

// clockTick is the unit of utime and stime in /proc/PID/stat (USER_HZ,
// 100 on every Linux that Go supports).
const clockTick = 10 * time.Millisecond

// procTreeCPU is the CPU time (user + system) that process pid and its
// children have used so far: for nginx, the master and its workers. It
// reads /proc (Linux); elsewhere, or when pid has gone, it returns 0.
func procTreeCPU(pid int) time.Duration {
	total := procCPU(pid)
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return total
	}
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil || child == pid {
			continue
		}
		if ppid, _ := procStat(child); ppid == pid {
			total += procCPU(child)
		}
	}
	return total
}

// procCPU is the CPU time of process pid alone (all its threads).
func procCPU(pid int) time.Duration {
	_, fields := procStat(pid)
	if len(fields) < 13 {
		return 0
	}
	// After the command: state(3) ppid(4) … utime(14) stime(15), so
	// fields[11] and fields[12] here.
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(utime+stime) * clockTick
}

// procStat returns pid's parent and the fields of /proc/PID/stat after the
// command (whose name may hold spaces), state first; 0 and nil when it
// cannot be read.
func procStat(pid int) (int, []string) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, nil
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 2 {
		return 0, nil
	}
	ppid, _ := strconv.Atoi(fields[1])
	return ppid, fields
}
