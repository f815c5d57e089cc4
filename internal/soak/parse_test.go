package soak

import (
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/mote-run/mote/api"
)

func TestGauges(t *testing.T) {
	tests := []struct {
		name, text string
		want       []int64
		err        string
	}{
		{"plain", "# HELP go_goroutines x\ngo_goroutines 42\nprocess_open_fds 7\n", []int64{42, 7}, ""},
		{"exponent", "go_goroutines 1.5e+03\nprocess_open_fds 7\n", []int64{1500, 7}, ""},
		{"labelled lines are not it", "go_goroutines{a=\"b\"} 3\ngo_goroutines 4\nprocess_open_fds 1\n", []int64{4, 1}, ""},
		{"prefix of another name", "go_goroutines_total 9\nprocess_open_fds 1\n", nil, "no go_goroutines"},
		{"missing", "process_open_fds 1\n", nil, "no go_goroutines"},
		{"not a number", "go_goroutines x\nprocess_open_fds 1\n", nil, "go_goroutines"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := gauges(strings.NewReader(tt.text), "go_goroutines", "process_open_fds")
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one naming %q", err, tt.err)
				}
				return
			}
			if err != nil || len(got) != 2 || got[0] != tt.want[0] || got[1] != tt.want[1] {
				t.Fatalf("gauges = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func FuzzGauges(f *testing.F) {
	f.Add("go_goroutines 42\nprocess_open_fds 7\n")
	f.Add("go_goroutines NaN\n")
	f.Fuzz(func(t *testing.T, text string) {
		_, _ = gauges(strings.NewReader(text), "go_goroutines", "process_open_fds")
	})
}

func TestCPUMeter(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	m := &cpuMeter{pid: "self"}
	if u, err := m.read(); err != nil || u != (cpuUse{}) {
		t.Fatalf("first read = %+v, %v; want zeros", u, err)
	}
	busy, total, err := machineCPU()
	if err != nil || busy <= 0 || busy > total {
		t.Fatalf("machineCPU = %d, %d, %v", busy, total, err)
	}
	x := 0
	for i := range 50_000_000 { // about 20-50 ms of CPU
		x ^= i * i
	}
	_ = x
	u, err := m.read()
	if err != nil || u.node < 0 || u.loadgen < 0 || u.machine < 0 || u.machine > float64(runtime.NumCPU())+0.01 {
		t.Fatalf("read = %+v, %v", u, err)
	}
}

func TestCountEstablished(t *testing.T) {
	table := []byte(`  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:B647 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 1 1 0000000000000000 100 0 0 10 0
   1: 0100007F:B647 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000  1000        0 2 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:D2F0 0100007F:B647 01 00000000:00000000 00:00000000 00000000  1000        0 3 1 0000000000000000 20 4 30 10 -1
   3: 0100007F:B647 0100007F:D2F2 06 00000000:00000000 00:00000000 00000000  1000        0 4 1 0000000000000000 20 4 30 10 -1
   4: 0100007F:B647 0100007F:D2F4 01 00000000:00000000 00:00000000 00000000  1000        0 5 1 0000000000000000 20 4 30 10 -1
`)
	// Port 0xB647: the listener (0A), a TIME_WAIT (06) and the client side
	// (remote B647) do not count; two accepted connections do.
	if n := countEstablished(table, ":B647"); n != 2 {
		t.Errorf("countEstablished = %d, want 2", n)
	}
	if n := countEstablished(nil, ":B647"); n != 0 {
		t.Errorf("empty table: %d", n)
	}
}

func TestHeapLive(t *testing.T) {
	tests := []struct {
		name string
		u    usage
		want int64
	}{
		// goal = live + (live + stacks) × g: 100 + (100 + 10) × 4 = 540.
		{"GOGC 400", usage{heapGoal: 540, stack: 10, gogc: 400}, 100},
		{"GOGC 100", usage{heapGoal: 210, stack: 10, gogc: 100}, 100},
		{"GOGC off", usage{heapGoal: 540, gogc: -1}, 0},
		{"not read", usage{heapGoal: 540}, 0},
		{"stacks above the goal", usage{heapGoal: 10, stack: 100, gogc: 100}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.u.heapLive(); got != tt.want {
				t.Errorf("heapLive() = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestCountInstances(t *testing.T) {
	all := []api.Instance{{Service: "b"}, {Service: "a"}, {Service: "b"}, {Service: "c"}}
	if got := countInstances(all, []string{"a", "b", "z"}); !slices.Equal(got, []int{1, 2, 0}) {
		t.Errorf("countInstances = %v, want [1 2 0]", got)
	}
	if got := countInstances(nil, []string{"a"}); !slices.Equal(got, []int{0}) {
		t.Errorf("no instances: %v", got)
	}
}
