package soak

import (
	"encoding/csv"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"
)

var soakReplot = flag.String("soak.replot", "", "redraw soak.png from this soak.csv (TestReplot), into the CSV's directory")

// TestReplot redraws a soak's plot from its CSV (only with -soak.replot),
// so that a past run can be drawn again with a newer plot.
func TestReplot(t *testing.T) {
	if *soakReplot == "" {
		t.Skip("runs only with -soak.replot CSV")
	}
	series, err := readCSV(*soakReplot)
	if err != nil {
		t.Fatal(err)
	}
	if len(series) < 2 {
		t.Fatalf("%s: %d samples", *soakReplot, len(series))
	}
	end := series[len(series)-1].t
	// The sampling interval is the median spacing: one slow sample (a
	// starved machine) does not change it.
	var gaps []time.Duration
	for i := 1; i < len(series); i++ {
		gaps = append(gaps, series[i].t-series[i-1].t)
	}
	interval := median(gaps)
	out := filepath.Join(filepath.Dir(*soakReplot), "soak.png")
	if err := writePNG(out, plotSeries(series, (end/2).Round(time.Second), interval.Round(time.Second))); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", out)
}

// readCSV reads the series that writeOut wrote; a column it lacks (an
// older run's) reads as zero.
func readCSV(path string) ([]sample, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: empty", path)
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[h] = i
	}
	var out []sample
	for n, r := range rows[1:] {
		num := func(name string) float64 {
			i, ok := col[name]
			if !ok || i >= len(r) {
				return 0
			}
			v, perr := strconv.ParseFloat(r[i], 64)
			if perr != nil && err == nil {
				err = fmt.Errorf("%s: row %d, %s: %w", path, n+2, name, perr)
			}
			return v
		}
		ms := func(name string) time.Duration { return time.Duration(num(name) * float64(time.Millisecond)) }
		out = append(out, sample{
			t:       time.Duration(num("seconds") * float64(time.Second)),
			u:       usage{rss: int64(num("rss_bytes")), heapInuse: int64(num("heap_inuse_bytes")), heapGoal: int64(num("heap_goal_bytes")), goroutines: int64(num("goroutines")), fds: int64(num("open_fds")), conns: int64(num("client_conns"))},
			rssMax:  int64(num("rss_max_bytes")),
			heapMin: int64(num("heap_inuse_min_bytes")),
			cpu:     cpuUse{node: num("cpu_node_cores"), loadgen: num("cpu_loadgen_cores"), machine: num("cpu_machine_cores")},
			done:    int(num("requests")), errs: int(num("errors")), total: int64(num("total_requests")),
			p50: ms("p50_ms"), p99: ms("p99_ms"),
		})
		last := &out[len(out)-1]
		last.u.gogc, last.u.stack, last.u.gcs = int64(num("gogc_percent")), int64(num("stack_inuse_bytes")), int64(num("gc_count"))
		for _, svc := range pooledServices {
			last.instances = append(last.instances, int(num("instances_"+svc)))
		}
	}
	return out, err
}

func TestReadCSV(t *testing.T) {
	series := []sample{
		{t: 0, u: usage{rss: 1 << 20, heapGoal: 3 << 20, goroutines: 9, fds: 4, conns: 2, gogc: 400, stack: 1 << 19, gcs: 7}, rssMax: 2 << 20, instances: []int{3, 1}},
		{t: 5 * time.Second, u: usage{rss: 2 << 20}, cpu: cpuUse{node: 0.5, loadgen: 0.25, machine: 1.5}, done: 10, total: 10, p50: time.Millisecond, p99: 3 * time.Millisecond, instances: []int{0, 0}},
	}
	dir := t.TempDir()
	if err := writeOut(dir, series, "summary", filepath.Join(dir, "no-log"), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	got, err := readCSV(filepath.Join(dir, "soak.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, series) {
		t.Fatalf("read back %+v, want %+v", got, series)
	}
}
