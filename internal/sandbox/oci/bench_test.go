package oci

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/sandbox"
)

// The target: a cold start through the driver (no instance to the
// first response) takes at most 1.3× a raw runc run of the same bundle
// with its first response through the same netns dial. BenchmarkColdStart
// and BenchmarkRuncRun measure each; BenchmarkColdStartRatio alternates
// them, so that a loaded machine slows both alike, and reports the ratio
// of the medians:
//
//	go test -run='^$' -bench='ColdStart|RuncRun' -benchtime=20x ./internal/sandbox/oci/

// BenchmarkColdStart: from no instance to the first 200 through the
// driver: the bundle, runc run, the pid file, the port polled in the
// container's network namespace, the request.
func BenchmarkColdStart(b *testing.B) {
	d := newTestDriver(b)
	spec := benchSpec(b)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		coldStart(b, d, spec)
	}
}

// BenchmarkRuncRun is the baseline: runc run of the same bundle by hand,
// the pid file, the port polled through the same netns dial, one GET.
func BenchmarkRuncRun(b *testing.B) {
	d := newTestDriver(b)
	raw := newRawBundle(b, d, benchSpec(b))
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		raw.run(b)
	}
}

// BenchmarkColdStartRatio alternates a cold start through the driver and
// a raw runc run, and reports the median of each and their ratio.
func BenchmarkColdStartRatio(b *testing.B) {
	d := newTestDriver(b)
	spec := benchSpec(b)
	raw := newRawBundle(b, d, spec)
	var driver, runc []time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		driver = append(driver, coldStart(b, d, spec))
		b.StopTimer()
		runc = append(runc, raw.run(b))
	}
	md, mr := median(driver), median(runc)
	b.ReportMetric(float64(md.Microseconds())/1000, "driver-ms")
	b.ReportMetric(float64(mr.Microseconds())/1000, "runc-ms")
	b.ReportMetric(float64(md)/float64(mr), "ratio")
}

func benchSpec(b *testing.B) sandbox.Spec {
	spec := testSpec(b, "bench", nil, nil)
	spec.Logs = sandbox.LogFunc(func(api.LogEntry) {})
	return spec
}

// coldStart loads spec, times its first request (the timer runs only
// then), and closes the runner. The timer must be stopped on entry.
func coldStart(b *testing.B, d *Driver, spec sandbox.Spec) time.Duration {
	rn, err := d.Load(context.Background(), spec)
	if err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
	began := time.Now()
	if body := mustGet(b, rn, "/"); len(body) == 0 {
		b.Fatal("empty body")
	}
	took := time.Since(began)
	b.StopTimer()
	if err := rn.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	return took
}

// rawBundle is a bundle run with runc by hand.
type rawBundle struct {
	d                      *Driver
	id, dir, pidFile, addr string
}

func newRawBundle(b *testing.B, d *Driver, spec sandbox.Spec) *rawBundle {
	id := d.containerID("raw", 1, 1)
	dir := filepath.Join(d.bundles, id)
	if err := os.MkdirAll(dir, 0o711); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	hosts := filepath.Join(dir, "hosts")
	if err := os.WriteFile(hosts, []byte(hostsFile(spec.Service)), 0o644); err != nil {
		b.Fatal(err)
	}
	cfg, _ := json.Marshal(Spec(spec, id, hosts))
	if err := os.WriteFile(filepath.Join(dir, "config.json"), cfg, 0o600); err != nil {
		b.Fatal(err)
	}
	return &rawBundle{d: d, id: id, dir: dir, pidFile: filepath.Join(dir, "pid"), addr: "127.0.0.1:8080"}
}

// run times runc run to the first 200 (the timer runs only then), and
// kills the container. The timer must be stopped on entry.
func (rb *rawBundle) run(b *testing.B) time.Duration {
	d := rb.d
	_ = os.Remove(rb.pidFile)
	b.StartTimer()
	began := time.Now()
	cmd := d.runc.command(context.Background(), "run", "--bundle", rb.dir, "--pid-file", rb.pidFile, rb.id)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(10 * time.Second)
	pid, err := waitPid(rb.pidFile, deadline, pollPidCap, exited, nil)
	if err != nil {
		b.Fatal(err)
	}
	ns, err := d.openNetns(pid)
	if err != nil {
		b.Fatal(err)
	}
	defer ns.Close()
	err = poll(deadline, pollPortCap, exited, nil, func() bool {
		c, err := d.dialIn(context.Background(), ns, rb.addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	if err != nil {
		b.Fatal(err)
	}
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return d.dialIn(ctx, ns, rb.addr) }}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("http://" + rb.addr + "/")
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		b.Fatalf("status %d", resp.StatusCode)
	}
	took := time.Since(began)
	b.StopTimer()
	if err := d.runc.kill(context.Background(), rb.id, "KILL"); err != nil {
		b.Fatal(err)
	}
	<-exited
	return took
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
