package control

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/autoscale"
	"github.com/mote-run/mote/internal/capability"
	"github.com/mote-run/mote/internal/gateway"
	"github.com/mote-run/mote/internal/manifest"
	"github.com/mote-run/mote/internal/sandbox"
)

// retryAfter is how long a failed load is remembered before the next request
// tries again.
const retryAfter = 5 * time.Second

// drainTimeout bounds how long a replaced version may finish its requests.
const drainTimeout = 15 * time.Minute

// versionRunner is a version as the gateway sees it: a sandbox.Runner that
// loads the real one on first use.
type versionRunner struct {
	c        *Controller
	version  api.Version
	manifest *manifest.Manifest
	// target and lifecycle (the service's override it was built with) are
	// replaced, under Controller.mu, when the override changes.
	target    *gateway.Target
	lifecycle *api.Lifecycle

	mu sync.Mutex
	// min and max are the instance bounds: the manifest's [scale] under
	// the service's override.
	min, max int
	runner   sandbox.Runner
	root     *os.Root // package files, when the version has any
	loadErr  error
	failedAt time.Time
	loading  chan struct{} // non-nil while a load is in progress
	closed   bool
	// stopScaler ends the autoscaler of a loaded pooled runner.
	stopScaler context.CancelFunc

	// scaler steers a loaded pooled runner's warm instances; nil until it
	// loads (and for WAGI, which keeps none warm).
	scaler atomic.Pointer[autoscale.Loop]
}

var _ sandbox.Runner = (*versionRunner)(nil)

// newVersionRunner prepares a version for the gateway; lifecycle and scale
// are the service's overrides, if any.
func (c *Controller) newVersionRunner(ctx context.Context, v api.Version, lifecycle *api.Lifecycle, scale *api.Scale) (*versionRunner, error) {
	m, err := manifestOf(v)
	if err != nil {
		return nil, err
	}
	policy, err := c.policyFor(ctx, v, m, lifecycle)
	if err != nil {
		return nil, err
	}
	vr := &versionRunner{c: c, version: v, manifest: m, lifecycle: lifecycle}
	vr.min, vr.max = scaleFor(scale, m)
	vr.target = &gateway.Target{
		Service: v.Service,
		Route:   m.Route,
		Version: v.Number,
		Runner:  vr,
		MaxBody: int64(m.Limits.Body),
		Policy:  policy,
	}
	if c.opts.Metrics != nil {
		vr.target.Metrics = c.opts.Metrics.For(v.Service)
	}
	return vr, nil
}

// get returns the loaded runner, loading it if needed. Concurrent callers
// share one load; a failed load is remembered for retryAfter.
func (vr *versionRunner) get(ctx context.Context) (sandbox.Runner, error) {
	for {
		vr.mu.Lock()
		switch {
		case vr.closed:
			vr.mu.Unlock()
			return nil, sandbox.ErrClosed
		case vr.runner != nil:
			r := vr.runner
			vr.mu.Unlock()
			return r, nil
		case vr.loadErr != nil && time.Since(vr.failedAt) < retryAfter:
			err := vr.loadErr
			vr.mu.Unlock()
			return nil, err
		case vr.loading != nil:
			ch := vr.loading
			vr.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		ch := make(chan struct{})
		vr.loading = ch
		vr.mu.Unlock()

		// The load is shared, so one caller's cancellation must not fail it.
		r, root, err := vr.load(context.WithoutCancel(ctx))

		vr.mu.Lock()
		vr.loading = nil
		close(ch)
		if err != nil {
			vr.loadErr, vr.failedAt = err, time.Now()
			vr.mu.Unlock()
			return nil, err
		}
		if vr.closed { // closed while loading
			vr.mu.Unlock()
			_ = r.Close(context.Background())
			closeRoot(root)
			return nil, sandbox.ErrClosed
		}
		vr.runner, vr.root, vr.loadErr = r, root, nil
		vr.startScalerLocked(r)
		vr.mu.Unlock()
		return r, nil
	}
}

// load fetches the version's artifact and hands it to the driver.
func (vr *versionRunner) load(ctx context.Context) (sandbox.Runner, *os.Root, error) {
	v, m := vr.version, vr.manifest
	vr.mu.Lock()
	minN, maxN := vr.min, vr.max
	vr.mu.Unlock()
	driver := vr.c.opts.Driver
	var (
		module    []byte
		container *sandbox.Container
		err       error
	)
	if m.Container != nil {
		if driver, err = vr.c.containerDriver(); err != nil {
			return nil, nil, err
		}
		if container, err = vr.c.containerSpec(ctx, v, m); err != nil {
			return nil, nil, err
		}
	} else if module, err = vr.c.opts.Store.Blob(ctx, v.Module); err != nil {
		return nil, nil, fmt.Errorf("read module %s: %w", v.Module, err)
	}
	var root *os.Root
	spec := sandbox.Spec{
		Service:      v.Service,
		Version:      v.Number,
		ABI:          v.ABI,
		Digest:       v.Module,
		Module:       module,
		Container:    container,
		Env:          m.Env,
		MemoryLimit:  uint64(m.Limits.Memory),
		Timeout:      time.Duration(m.Limits.Timeout),
		MaxOutput:    int64(m.Limits.Response),
		MaxInstances: maxN,
		MinInstances: minN,
		IdleTimeout:  time.Duration(m.Scale.Idle),
		Logs:         vr.c.opts.Logs,
		Host: capability.New(capability.Options{
			Service:     v.Service,
			Version:     v.Number,
			Allow:       m.Allow,
			KV:          vr.c.opts.Store,
			Config:      vr.c.config,
			Logs:        vr.c.opts.Logs,
			Caller:      vr.c.opts.Gateway,
			HTTPClient:  vr.c.opts.HTTPClient,
			MaxResponse: int64(m.Limits.Response),
		}),
	}
	if vr.c.opts.Metrics != nil {
		spec.OnColdStart = vr.c.opts.Metrics.ColdStartFunc(v.ABI)
	}
	// A request that finds no warm instance wakes the autoscaler at once:
	// at zero it samples nothing and would otherwise wait for a tick.
	spec.OnWaitForInstance = func() {
		if l := vr.scaler.Load(); l != nil {
			l.Poke()
		}
	}
	if len(v.Files) > 0 {
		root, err = vr.c.materialize(ctx, v)
		if err != nil {
			return nil, nil, err
		}
		spec.Files = root.FS()
	}
	start := time.Now()
	r, err := driver.Load(ctx, spec)
	if err != nil {
		closeRoot(root)
		return nil, nil, err
	}
	if vr.c.opts.Metrics != nil {
		vr.c.opts.Metrics.Compile.Observe(time.Since(start).Seconds())
	}
	return r, root, nil
}

// Serve implements sandbox.Runner by loading on first use. A request the
// loaded runner refused because setScale replaced it goes to the new one.
func (vr *versionRunner) Serve(ctx context.Context, req *sandbox.Request) (*sandbox.Response, error) {
	for {
		r, err := vr.get(ctx)
		if err != nil {
			if errors.Is(err, sandbox.ErrClosed) || ctx.Err() != nil {
				return nil, err
			}
			return nil, &sandbox.GuestError{Kind: "start", Detail: err.Error()}
		}
		resp, err := r.Serve(ctx, req)
		if errors.Is(err, sandbox.ErrClosed) && vr.replaced(r) {
			continue
		}
		return resp, err
	}
}

// replaced reports whether r is no longer vr's runner while vr still
// serves.
func (vr *versionRunner) replaced(r sandbox.Runner) bool {
	vr.mu.Lock()
	defer vr.mu.Unlock()
	return !vr.closed && vr.runner != r
}

// scaler is a runner whose instance bounds change live (the wasm
// driver's runners: sandbox.Scalable).
type scaler interface {
	SetScale(min, max int)
}

// setScale changes the version's instance bounds. A loaded runner that can
// change them live does; any other is replaced: later requests load a new
// one with the new bounds, and the old one finishes what it started.
func (vr *versionRunner) setScale(minN, maxN int) {
	vr.mu.Lock()
	if vr.min == minN && vr.max == maxN {
		vr.mu.Unlock()
		return
	}
	vr.min, vr.max = minN, maxN
	r, root := vr.runner, vr.root
	if r == nil {
		vr.mu.Unlock() // the next load uses the new bounds
		return
	}
	if s, ok := r.(scaler); ok {
		vr.mu.Unlock()
		s.SetScale(minN, maxN)
		if l := vr.scaler.Load(); l != nil {
			l.SetConfig(vr.scalerConfig(minN, maxN))
		}
		return
	}
	vr.runner, vr.root = nil, nil
	vr.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
		defer cancel()
		_ = r.Close(ctx)
		closeRoot(root)
	}()
}

// startScalerLocked starts the autoscaler of a freshly loaded runner that
// keeps warm instances (the pooled ABI and containers: sandbox.Scalable
// with instances that outlive a request). It runs until the version closes or its runner
// is replaced. vr.mu is held.
func (vr *versionRunner) startScalerLocked(r sandbox.Runner) {
	s, ok := r.(sandbox.Scalable)
	if !ok || vr.version.ABI == api.ABIWAGI {
		return
	}
	if vr.stopScaler != nil {
		vr.stopScaler()
	}
	v := vr.version
	l := autoscale.NewLoop(vr.scalerConfig(vr.min, vr.max), s, autoscale.LoopOptions{
		OnDecision: func(d autoscale.Decision) {
			vr.c.logger.Debug("autoscale", "service", v.Service, "version", v.Number, "desired", d.Desired,
				"ready", d.Ready, "panicking", d.Panicking, "reason", d.Reason)
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	vr.stopScaler = cancel
	vr.scaler.Store(l)
	go l.Run(ctx)
}

// scalerConfig is the autoscaler's configuration for bounds min and max:
// Knative's defaults (one request at a time per instance, 70% target
// utilization, 60 s stable and 6 s panic windows), and scale to zero (or
// to min) after [scale] idle without traffic.
func (vr *versionRunner) scalerConfig(minN, maxN int) autoscale.Config {
	cfg := autoscale.Config{
		Min: minN, Max: maxN,
		ScaleToZeroGrace: time.Duration(vr.manifest.Scale.Idle),
	}
	if c := vr.manifest.Container; c != nil {
		cfg.Target = float64(c.Concurrency) // a container serves many at once
	}
	return cfg.WithDefaults()
}

// minInstances is the number of instances the version keeps warm.
func (vr *versionRunner) minInstances() int {
	vr.mu.Lock()
	defer vr.mu.Unlock()
	return vr.min
}

// unhealthyStartFailures is how many instance starts in a row must fail
// for a version to be unhealthy.
const unhealthyStartFailures = 3

// failing reports whether the version cannot start instances: its last
// load failed, or its runner's last unhealthyStartFailures instance starts
// did (sandbox.HealthReporter).
func (vr *versionRunner) failing() bool {
	vr.mu.Lock()
	r, failed := vr.runner, vr.loadErr != nil
	vr.mu.Unlock()
	if failed {
		return true
	}
	hr, ok := r.(sandbox.HealthReporter)
	return ok && hr.Health().ConsecutiveStartFailures >= unhealthyStartFailures
}

// Instances implements sandbox.Runner.
func (vr *versionRunner) Instances() []api.Instance {
	vr.mu.Lock()
	r := vr.runner
	vr.mu.Unlock()
	if r == nil {
		return nil
	}
	return r.Instances()
}

// Close implements sandbox.Runner: it waits for in-flight requests until ctx
// is done, then releases the version.
func (vr *versionRunner) Close(ctx context.Context) error {
	vr.mu.Lock()
	vr.closed = true
	r, root := vr.runner, vr.root
	vr.runner, vr.root = nil, nil
	if vr.stopScaler != nil {
		vr.stopScaler()
		vr.stopScaler = nil
	}
	vr.mu.Unlock()
	var err error
	if r != nil {
		err = r.Close(ctx)
	}
	closeRoot(root)
	return err
}

// drain closes a version that no longer takes new requests.
func (vr *versionRunner) drain() {
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	if err := vr.Close(ctx); err != nil {
		vr.c.logger.Warn("drain version", "service", vr.version.Service, "version", vr.version.Number, "err", err)
	}
}

func closeRoot(r *os.Root) {
	if r != nil {
		_ = r.Close()
	}
}

// materialize writes a version's package files under FilesDir, once per
// artifact, and opens the directory as an os.Root: the guest's view of it
// cannot escape through ".." or symlinks.
func (c *Controller) materialize(ctx context.Context, v api.Version) (*os.Root, error) {
	dir := filepath.Join(c.opts.FilesDir, strings.TrimPrefix(v.Digest, "sha256:"))
	// The directory appears by an atomic rename once complete, so its
	// existence means it is whole.
	if _, err := os.Stat(dir); err != nil {
		tmp, err := os.MkdirTemp(c.opts.FilesDir, ".tmp-")
		if err != nil {
			return nil, fmt.Errorf("package files: %w", err)
		}
		defer os.RemoveAll(tmp)
		root, err := os.OpenRoot(tmp)
		if err != nil {
			return nil, fmt.Errorf("package files: %w", err)
		}
		defer root.Close()
		for p, digest := range v.Files {
			if err := validFilePath(p); err != nil {
				return nil, err
			}
			data, err := c.opts.Store.Blob(ctx, digest)
			if err != nil {
				return nil, fmt.Errorf("package file %s (%s): %w", p, digest, err)
			}
			if d := path.Dir(p); d != "." {
				if err := root.MkdirAll(d, 0o755); err != nil {
					return nil, fmt.Errorf("package file %s: %w", p, err)
				}
			}
			if err := root.WriteFile(p, data, 0o444); err != nil {
				return nil, fmt.Errorf("package file %s: %w", p, err)
			}
		}
		if err := os.Rename(tmp, dir); err != nil {
			if _, statErr := os.Stat(dir); statErr != nil { // not a lost race with another load
				return nil, fmt.Errorf("package files: %w", err)
			}
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("package files: %w", err)
	}
	return root, nil
}

// validFilePath accepts clean, relative, slash-separated paths.
func validFilePath(p string) error {
	if !fs.ValidPath(p) || p == "." || strings.Contains(p, "\\") {
		return fmt.Errorf("package file path %q is not a clean relative path", p)
	}
	if strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("package file path %q holds a control character (NUL, newline, ...); no file system names a file that way", p)
	}
	return nil
}
