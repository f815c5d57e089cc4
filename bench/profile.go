package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"
)

// startProfile starts a CPU profile into file; the returned func stops it.
func startProfile(file string) (func(), error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// writeAllocs writes the process's allocation profile (cumulative since
// start) to file, after a GC so that it is up to date.
func writeAllocs(file string) error {
	runtime.GC()
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// profileUnderLoad drives t with wrk for d while profiling the process
// (which holds the node): a CPU profile, and the allocations made during
// the run (the difference of two allocation profiles). It writes the
// profiles into dir and returns the top of each.
func profileUnderLoad(t *target, d time.Duration, conns, threads int, dir string) ([]ProfileSummary, error) {
	cpu := filepath.Join(dir, "cpu-"+t.key+".prof")
	before := filepath.Join(dir, "allocs-before-"+t.key+".prof")
	after := filepath.Join(dir, "allocs-"+t.key+".prof")
	if err := writeAllocs(before); err != nil {
		return nil, err
	}
	stop, err := startProfile(cpu)
	if err != nil {
		return nil, err
	}
	err = wrk(t, d, conns, threads, false)
	stop()
	if err != nil {
		return nil, err
	}
	if err := writeAllocs(after); err != nil {
		return nil, err
	}
	var out []ProfileSummary
	for _, p := range []struct {
		kind, file string
		args       []string
	}{
		{"CPU, flat", cpu, []string{"-top", "-nodecount=25", cpu}},
		{"CPU, cumulative", cpu, []string{"-top", "-cum", "-nodecount=35", cpu}},
		{"allocated bytes during the run, flat", after, []string{"-top", "-sample_index=alloc_space", "-nodecount=20", "-base", before, after}},
	} {
		top, err := pprofTop(p.args...)
		if err != nil {
			return out, err
		}
		out = append(out, ProfileSummary{Target: t.name, Kind: p.kind, File: filepath.Base(p.file), Top: top})
	}
	os.Remove(before)
	return out, nil
}

// pprofTop runs `go tool pprof` with args and returns its table.
func pprofTop(args ...string) ([]string, error) {
	out, err := exec.Command("go", append([]string{"tool", "pprof"}, args...)...).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go tool pprof %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if strings.HasPrefix(l, "File:") || strings.HasPrefix(l, "Build ID:") || strings.HasPrefix(l, "Time:") || strings.HasPrefix(l, "Type:") {
			continue
		}
		lines = append(lines, l)
	}
	return lines, nil
}
