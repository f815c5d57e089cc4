// Package oci is mote's container sandbox driver: it runs the versions of
// api.ABIContainer (an OCI image's process serving HTTP on 127.0.0.1:$PORT)
// with runc, one container per instance.
//
// An instance is `runc run` in the foreground with a bundle the driver
// writes (config.json from Spec, a hosts file); the container's stdout and
// stderr are its log. The container has its own network namespace with
// only loopback, so nothing listens on the host: the driver reaches the
// process from a thread that entered the container's network namespace
// (setns), and keeps HTTP/1.1 connections to it alive. An instance serves
// up to Container.Concurrency requests at once; a request goes to the
// least-loaded ready instance, else starts one (up to MaxInstances), else
// waits in a queue. An instance whose process exits unexpectedly is
// restarted with a backoff (1 s doubling to 60 s), and shown "restarting"
// meanwhile.
//
// Everything the driver creates lives under Options.StateDir (runc's state
// and the bundles) and in the cgroups mote/<container id>, relative to the
// node's own; containers a killed node left behind are removed by New.
package oci

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/sandbox"
)

// Defaults for a sandbox.Spec's zero fields, as for the wasm driver.
const (
	DefaultMaxInstances = 20
	DefaultMaxQueue     = 1000
	DefaultTimeout      = 30 * time.Second
	DefaultMaxOutput    = 16 << 20
	DefaultIdleTimeout  = 5 * time.Minute
)

// Options configure a Driver.
type Options struct {
	// Runc is the runc binary; "" looks "runc" up on the PATH.
	Runc string
	// StateDir holds runc's state (its --root) and the instances' bundles;
	// required. The node passes DATA/oci/run. Close removes it.
	StateDir string
	// Logger receives the driver's own diagnostics; nil discards them.
	Logger *slog.Logger
}

// Driver runs container versions with runc. It is safe for concurrent use.
type Driver struct {
	runc     runc
	bundles  string // StateDir/bundles
	stateDir string
	key      string // names this driver's containers apart from another's
	logger   *slog.Logger
	hostNS   *os.File // the node's network namespace, to return to after a dial
	hostNSID nsID
	seq      atomic.Uint64

	mu      sync.Mutex
	closed  bool
	runners map[*runner]struct{}
}

var _ sandbox.Driver = (*Driver)(nil)

// Check reports why containers cannot run on this host (not Linux, not
// root, no runc on the PATH, no cgroup memory controller), or nil.
func Check() error {
	if runtime.GOOS != "linux" {
		return fmt.Errorf("oci: containers need Linux, this is %s", runtime.GOOS)
	}
	if os.Geteuid() != 0 {
		return errors.New("oci: containers need root (runc creates namespaces and cgroups); run the node as root")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		return errors.New("oci: runc is not on the PATH; install it (apt-get install runc)")
	}
	return checkCgroups()
}

// checkCgroups reports an error unless the memory controller is mounted,
// as cgroup v1 or in the unified hierarchy.
func checkCgroups() error {
	if _, err := os.Stat("/sys/fs/cgroup/memory/memory.limit_in_bytes"); err == nil {
		return nil
	}
	if b, err := os.ReadFile("/sys/fs/cgroup/cgroup.controllers"); err == nil && strings.Contains(" "+string(b)+" ", " memory") {
		return nil
	}
	return errors.New("oci: no cgroup memory controller at /sys/fs/cgroup; containers cannot be limited here")
}

// New returns a Driver. It creates StateDir and removes the containers a
// previous run under it left behind (a node killed with SIGKILL leaves its
// containers running).
func New(opts Options) (*Driver, error) {
	if opts.StateDir == "" {
		return nil, errors.New("oci: Options.StateDir is required")
	}
	dir, err := filepath.Abs(opts.StateDir)
	if err != nil {
		return nil, fmt.Errorf("oci: state dir: %w", err)
	}
	bin := opts.Runc
	if bin == "" {
		if bin, err = exec.LookPath("runc"); err != nil {
			return nil, errors.New("oci: runc is not on the PATH; install it or set the driver's Runc option")
		}
	}
	d := &Driver{
		runc:     runc{bin: bin, root: filepath.Join(dir, "runc")},
		bundles:  filepath.Join(dir, "bundles"),
		stateDir: dir,
		logger:   opts.Logger,
		runners:  map[*runner]struct{}{},
	}
	sum := sha256.Sum256([]byte(dir))
	d.key = hex.EncodeToString(sum[:3])
	if d.logger == nil {
		d.logger = slog.New(slog.DiscardHandler)
	}
	for _, p := range []string{d.runc.root, d.bundles} {
		if err := os.MkdirAll(p, 0o700); err != nil {
			return nil, fmt.Errorf("oci: state dir: %w", err)
		}
	}
	if d.hostNS, err = os.Open("/proc/self/ns/net"); err != nil {
		return nil, fmt.Errorf("oci: the node's network namespace: %w", err)
	}
	if d.hostNSID, err = statNS(d.hostNS); err != nil {
		d.hostNS.Close()
		return nil, fmt.Errorf("oci: the node's network namespace: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := d.removeAll(ctx); err != nil {
		d.hostNS.Close()
		return nil, err
	}
	return d, nil
}

// removeAll force-deletes every container under the driver's runc root
// and every bundle.
func (d *Driver) removeAll(ctx context.Context) error {
	ids, err := d.runc.list(ctx)
	if err != nil {
		return fmt.Errorf("oci: listing containers left behind: %w", err)
	}
	var errs []error
	for _, id := range ids {
		d.logger.Info("oci: removing a container left behind", "id", id)
		if err := d.runc.forceDelete(ctx, id); err != nil {
			errs = append(errs, err)
		}
	}
	entries, _ := os.ReadDir(d.bundles)
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(d.bundles, e.Name())); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("oci: removing containers left behind: %w", err)
	}
	return nil
}

// Load checks spec and returns a Runner for it; the Runner also
// implements sandbox.Scalable and sandbox.HealthReporter. It starts
// MinInstances in the background and does not wait for them.
//
// spec.Container must be set: a nil one, a Rootfs that is not a
// directory, an Args[0] that is not an executable regular file inside
// Rootfs (absolute, relative to WorkDir, or found on Env's PATH, symbolic
// links resolved inside Rootfs), a relative WorkDir, an Env entry that is
// not KEY=value, or a Port outside 1..65535 is an error wrapping
// sandbox.ErrInvalidModule that says what to fix. spec.Module, Files and
// Host do not apply to containers and are ignored; spec.Env must already
// be merged into Container.Env. MemoryLimit 0 means no memory limit.
func (d *Driver) Load(ctx context.Context, spec sandbox.Spec) (sandbox.Runner, error) {
	if err := validate(spec); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, sandbox.ErrClosed
	}
	r := newRunner(d, spec)
	d.runners[r] = struct{}{}
	return r, nil
}

// forget drops a closed runner.
func (d *Driver) forget(r *runner) {
	d.mu.Lock()
	delete(d.runners, r)
	d.mu.Unlock()
}

// Close closes the runners still open (they should have been closed
// first), removes any container left under the state dir, then the state
// dir itself. The shared cgroup parent ("mote") stays: see cgroupParent.
func (d *Driver) Close(ctx context.Context) error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	runners := make([]*runner, 0, len(d.runners))
	for r := range d.runners {
		runners = append(runners, r)
	}
	d.mu.Unlock()
	var errs []error
	for _, r := range runners {
		if err := r.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := d.removeAll(rctx); err != nil {
		errs = append(errs, err)
	} else if err := os.RemoveAll(d.stateDir); err != nil {
		errs = append(errs, fmt.Errorf("oci: removing the state dir: %w", err))
	}
	d.hostNS.Close()
	return errors.Join(errs...)
}

// containerID names an instance's container: mote-<service>-<version>-
// <seq>-<driver key>, at most 64 bytes of [a-z0-9-] (a long service name
// is cut and a hash of it added). The key keeps two drivers on one host
// (two nodes, parallel tests) out of each other's cgroups.
func (d *Driver) containerID(service string, version int, seq uint64) string {
	return containerID(service, version, seq, d.key)
}

func containerID(service string, version int, seq uint64, key string) string {
	tail := "-" + strconv.Itoa(version) + "-" + strconv.FormatUint(seq, 10) + "-" + key
	name := hostname(service)
	if room := 64 - len("mote-") - len(tail); len(name) > room || name != service {
		sum := sha256.Sum256([]byte(service))
		h := hex.EncodeToString(sum[:4])
		name = strings.TrimRight(name[:min(len(name), max(room-len(h)-1, 0))], "-") + "-" + h
	}
	return "mote-" + name + tail
}

// logf logs a line of the driver's own about spec's version.
func logf(spec *sandbox.Spec, level, format string, args ...any) {
	spec.Logs.Log(api.LogEntry{
		Time: time.Now(), Service: spec.Service, Version: spec.Version,
		Stream: api.StreamMote, Level: level, Message: fmt.Sprintf(format, args...),
	})
}
