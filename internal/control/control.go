// Package control turns desired state into running services. Deploy,
// SetTraffic, Rollback, SetScale, SetLifecycle and Remove change the
// desired state in the store (the service record, written with
// compare-and-set); a reconcile loop (Run) watches the store and makes the
// gateway's route table match it: one runner per routed version (every
// version with a share of the traffic or a tag), each loaded through the
// sandbox driver. A version that leaves the split drains: requests it
// started finish on it. Each change returns once the node serves it.
//
// The store is the only source of truth: a node that restarts rebuilds its
// routes from the watch alone. Versions are loaded lazily — a route is
// served as soon as it is known, and the first request (or the background
// warmer) compiles its module — so start-up does not grow with the number of
// services.
package control

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/analytics"
	"github.com/mote-run/mote/internal/capability"
	"github.com/mote-run/mote/internal/gateway"
	"github.com/mote-run/mote/internal/manifest"
	"github.com/mote-run/mote/internal/metrics"
	"github.com/mote-run/mote/internal/rootfs"
	"github.com/mote-run/mote/internal/sandbox"
	"github.com/mote-run/mote/internal/store"
)

// ApplyTimeout bounds how long Deploy and Remove wait for the node to serve
// the change they made.
const ApplyTimeout = 30 * time.Second

// Options configure a Controller. Store, Driver and Gateway are required.
type Options struct {
	Store *store.Store
	// Driver runs Wasm versions.
	Driver sandbox.Driver
	// Containers runs [container] versions, with images unpacked by Rootfs;
	// when either is nil the node refuses them, saying NoContainers.
	Containers   sandbox.Driver
	Rootfs       *rootfs.Cache
	NoContainers string
	// ContainerUIDShift, when not 0, runs containers in a user namespace
	// whose root is this host uid (and gid); 0 runs them without one.
	ContainerUIDShift uint32
	Gateway           *gateway.Gateway
	// Metrics may be nil.
	Metrics *metrics.Metrics
	// Analytics, when set, forgets a removed service's traffic.
	Analytics *analytics.Analytics
	// FilesDir holds the package files of loaded versions, one directory per
	// artifact.
	FilesDir string
	// Logs receives lines for services' logs.
	Logs sandbox.LogSink
	// Logger receives node diagnostics; nil discards them.
	Logger *slog.Logger
	// GatewayURL returns the gateway's base URL for the URLs reported to
	// users; may be nil.
	GatewayURL func() string
	// HTTPClient sends guests' outbound requests (the fetch capability);
	// nil uses package capability's default client.
	HTTPClient *http.Client
	// Unhealthy, when set, reports whether a health tracker marked a
	// routed version unhealthy (e.g. a 5xx ratio over a threshold);
	// Versions then reports it as api.VersionUnhealthy. A version whose
	// module failed to load, or whose last 3 instance starts failed
	// (sandbox.HealthReporter), is unhealthy regardless.
	Unhealthy func(service string, version int) bool
}

// Controller deploys, removes and reconciles services.
type Controller struct {
	opts   Options
	logger *slog.Logger

	// deployMu serializes changes made through this node, so that checks
	// such as "is this route taken" and the write that follows are atomic.
	deployMu sync.Mutex

	// config is every service's configuration, kept current by Run, for
	// the guests' config capability.
	config *capability.ConfigView

	mu       sync.Mutex
	current  map[string]*serving // service -> what the gateway serves of it
	prepared map[versionKey]*versionRunner
	draining map[*versionRunner]struct{} // no longer routed, finishing requests
	changed  chan struct{}               // closed and replaced after every applied change
	synced   bool
}

// serving is what the gateway serves of one service: the record last
// applied and a runner per routed version.
type serving struct {
	svc     api.Service
	rev     uint64                 // the record's store revision
	runners map[int]*versionRunner // every version in routed(svc)
}

// primary returns the serving version's runner, or nil if it failed to
// load.
func (s *serving) primary() *versionRunner { return s.runners[s.svc.Version] }

type versionKey struct {
	service string
	version int
}

// New returns a Controller. Call Run to start reconciling.
func New(opts Options) *Controller {
	c := &Controller{
		opts:     opts,
		logger:   opts.Logger,
		current:  map[string]*serving{},
		prepared: map[versionKey]*versionRunner{},
		draining: map[*versionRunner]struct{}{},
		changed:  make(chan struct{}),
		config:   capability.NewConfigView(),
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	if c.opts.Unhealthy == nil && c.opts.Analytics != nil {
		c.opts.Unhealthy = c.failingRequests
	}
	if c.opts.Logs == nil {
		c.opts.Logs = sandbox.LogFunc(func(api.LogEntry) {})
	}
	return c
}

// Synced reports whether the controller has applied the store's state as it
// was when Run started: the node is ready.
func (c *Controller) Synced() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.synced
}

// Run watches the store and applies every change until ctx is done. It
// loads every service's configuration before the first service is served,
// so a guest never misses a value the store holds.
func (c *Controller) Run(ctx context.Context) error {
	if err := c.watchConfig(ctx); err != nil {
		return err
	}
	events, err := c.opts.Store.Watch(ctx)
	if err != nil {
		return fmt.Errorf("control: watch services: %w", err)
	}
	for ev := range events {
		switch {
		case ev.Synced:
			c.mu.Lock()
			c.synced = true
			c.publishLocked() // the replayed state, in one table
			c.mu.Unlock()
			go c.warm(ctx)
			go c.guardLoop(ctx)
		case ev.Deleted:
			c.remove(ev.Service.Name)
		default:
			c.apply(ctx, ev.Service, ev.Revision)
		}
	}
	return ctx.Err()
}

// watchConfig keeps c.config current from the store until ctx is done,
// and returns once it holds every value the store had.
func (c *Controller) watchConfig(ctx context.Context) error {
	events, err := c.opts.Store.WatchConfig(ctx)
	if err != nil {
		return fmt.Errorf("control: watch config: %w", err)
	}
	synced, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		c.config.Run(ctx, events, synced)
	}()
	select {
	case <-synced:
		return nil
	case <-done:
		if err := ctx.Err(); err != nil {
			return err
		}
		return errors.New("control: the config watch ended before it synced")
	}
}

// routed is the split the gateway serves for svc: its Traffic, or all of
// it to Version for a record without one.
func routed(svc api.Service) []api.TrafficSplit {
	if len(svc.Traffic) == 0 {
		return []api.TrafficSplit{{Version: svc.Version, Weight: 100}}
	}
	return svc.Traffic
}

// apply makes the table serve svc (stored at revision rev): a runner per
// routed version, each with the service's route, lifecycle and scale
// override. Versions that leave the split drain: requests they started
// finish on them.
func (c *Controller) apply(ctx context.Context, svc api.Service, rev uint64) {
	split := routed(svc)
	c.mu.Lock()
	cur := c.current[svc.Name]
	runners := make(map[int]*versionRunner, len(split))
	var missing []int
	for _, t := range split {
		if cur != nil && cur.runners[t.Version] != nil {
			runners[t.Version] = cur.runners[t.Version]
			continue
		}
		key := versionKey{svc.Name, t.Version}
		if vr := c.prepared[key]; vr != nil {
			delete(c.prepared, key)
			runners[t.Version] = vr
			continue
		}
		missing = append(missing, t.Version)
	}
	c.mu.Unlock()

	for _, n := range missing {
		v, err := c.opts.Store.Version(ctx, svc.Name, n)
		var vr *versionRunner
		if err == nil {
			vr, err = c.newVersionRunner(ctx, v, svc.Lifecycle, svc.Scale)
		}
		if err != nil {
			c.logger.Error("cannot serve version", "service", svc.Name, "version", n, "err", err)
			c.serviceLog(svc.Name, n, "error", fmt.Sprintf("cannot serve version %d: %v", n, err))
			continue
		}
		runners[n] = vr
	}
	if len(runners) == 0 {
		return // logged above; the previous state, if any, keeps serving
	}
	for n, vr := range runners {
		if !sameLifecycle(vr.lifecycle, svc.Lifecycle) {
			if err := c.rebuildPolicy(ctx, vr, svc.Lifecycle); err != nil {
				c.logger.Error("cannot apply lifecycle", "service", svc.Name, "version", n, "err", err)
				c.serviceLog(svc.Name, n, "error", fmt.Sprintf("cannot apply the lifecycle: %v", err))
			}
		}
		vr.setScale(scaleFor(svc.Scale, vr.manifest))
	}

	c.mu.Lock()
	for _, vr := range runners {
		if vr.target.Route != svc.Route {
			t := *vr.target
			t.Route = svc.Route
			vr.target = &t
		}
	}
	c.current[svc.Name] = &serving{svc: svc, rev: rev, runners: runners}
	c.publishLocked()
	c.mu.Unlock()

	if cur != nil {
		for n, vr := range cur.runners {
			if runners[n] != vr {
				c.retire(vr)
			}
		}
		c.logChanges(cur.svc, svc)
	}
	for _, vr := range runners {
		if vr.minInstances() > 0 {
			// Warm instances are kept only by a loaded version: load it
			// now rather than on its first request.
			go func() { _, _ = vr.get(ctx) }()
		}
	}
}

// logChanges tells a service's logs how its traffic, lifecycle or scale
// override changed.
func (c *Controller) logChanges(was, now api.Service) {
	if !slices.Equal(was.Traffic, now.Traffic) && len(now.Traffic) > 0 {
		c.serviceLog(now.Name, now.Version, "info", "traffic is now "+FormatSplit(now.Traffic))
	}
	if !sameLifecycle(was.Lifecycle, now.Lifecycle) {
		state := "the manifest's"
		if now.Lifecycle != nil {
			state = now.Lifecycle.State
		}
		c.serviceLog(now.Name, now.Version, "info", "lifecycle is now "+state)
	}
	if !reflect.DeepEqual(was.Scale, now.Scale) {
		c.serviceLog(now.Name, now.Version, "info", "scale override is now "+FormatScale(now.Scale))
	}
}

// retire drains a version that is no longer routed, in the background;
// Versions reports it as draining meanwhile.
func (c *Controller) retire(vr *versionRunner) {
	c.mu.Lock()
	c.draining[vr] = struct{}{}
	c.mu.Unlock()
	go func() {
		vr.drain()
		c.mu.Lock()
		delete(c.draining, vr)
		c.mu.Unlock()
	}()
}

// remove stops routing a deleted service and drains it.
func (c *Controller) remove(name string) {
	c.mu.Lock()
	old := c.current[name]
	delete(c.current, name)
	c.publishLocked()
	c.mu.Unlock()
	if old != nil {
		for _, vr := range old.runners {
			c.retire(vr)
		}
	}
	if c.opts.Metrics != nil {
		c.opts.Metrics.Forget(name)
	}
	if c.opts.Analytics != nil {
		c.opts.Analytics.Forget(name)
	}
}

// publishLocked swaps in a table built from c.current and wakes waiters.
func (c *Controller) publishLocked() {
	if !c.synced {
		// Replaying the store at start: one table at the end (Synced),
		// not one per service — building it is linear in the services,
		// so a table per service made start-up quadratic.
		c.notifyLocked()
		return
	}
	backends := make([]gateway.Backend, 0, len(c.current))
	for _, s := range c.current {
		for _, t := range routed(s.svc) {
			if vr := s.runners[t.Version]; vr != nil {
				backends = append(backends, gateway.Backend{Target: vr.target, Weight: t.Weight, Tag: t.Tag})
			}
		}
	}
	c.opts.Gateway.SetTable(gateway.NewTable(backends))
	if c.opts.Metrics != nil {
		c.opts.Metrics.Services.Set(float64(len(c.current)))
	}
	c.notifyLocked()
}

func (c *Controller) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// waitFor blocks until cond holds (checked under c.mu) or ctx ends.
func (c *Controller) waitFor(ctx context.Context, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, ApplyTimeout)
	defer cancel()
	for {
		c.mu.Lock()
		ok, ch := cond(), c.changed
		c.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("control: the node did not apply the change in time: %w", ctx.Err())
		}
	}
}

// waitApplied blocks until the node serves service name's record at
// revision rev or later.
func (c *Controller) waitApplied(ctx context.Context, name string, rev uint64) error {
	return c.waitFor(ctx, func() bool {
		cur := c.current[name]
		return cur != nil && cur.rev >= rev
	})
}

// routedRunnersLocked returns every routed version's runner.
func (c *Controller) routedRunnersLocked() []*versionRunner {
	var out []*versionRunner
	for _, s := range c.current {
		for _, vr := range s.runners {
			out = append(out, vr)
		}
	}
	return out
}

// warm loads every routed version in the background, two at a time, so
// first requests after a restart rarely wait for a compile.
func (c *Controller) warm(ctx context.Context) {
	c.mu.Lock()
	runners := c.routedRunnersLocked()
	c.mu.Unlock()
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for _, vr := range runners {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Go(func() {
			defer func() { <-sem }()
			_, _ = vr.get(ctx)
		})
	}
	wg.Wait()
}

// Instances lists the live instances of one service, or of all when name
// is "": those of every routed version and of versions still draining.
func (c *Controller) Instances(name string) []api.Instance {
	c.mu.Lock()
	var runners []*versionRunner
	for n, s := range c.current {
		if name == "" || n == name {
			for _, vr := range s.runners {
				runners = append(runners, vr)
			}
		}
	}
	for vr := range c.draining {
		if name == "" || vr.version.Service == name {
			runners = append(runners, vr)
		}
	}
	c.mu.Unlock()
	out := []api.Instance{}
	for _, vr := range runners {
		out = append(out, vr.Instances()...)
	}
	slices.SortFunc(out, func(a, b api.Instance) int { return a.Started.Compare(b.Started) })
	return out
}

// Close drains every loaded version until ctx is done.
func (c *Controller) Close(ctx context.Context) error {
	c.mu.Lock()
	runners := c.routedRunnersLocked()
	runners = append(runners, slices.Collect(maps.Values(c.prepared))...)
	runners = append(runners, slices.Collect(maps.Keys(c.draining))...)
	c.current = map[string]*serving{}
	c.prepared = map[versionKey]*versionRunner{}
	c.mu.Unlock()
	var errs []error
	for _, vr := range runners {
		errs = append(errs, vr.Close(ctx))
	}
	return errors.Join(errs...)
}

func (c *Controller) serviceLog(service string, version int, level, msg string) {
	c.opts.Logs.Log(api.LogEntry{Time: time.Now(), Service: service, Version: version, Stream: api.StreamMote, Level: level, Message: msg})
}

func (c *Controller) url(route string) string {
	if c.opts.GatewayURL == nil {
		return ""
	}
	return ServiceURL(c.opts.GatewayURL(), route)
}

// ServiceURL joins the gateway's base URL and a route; "" when base is "".
func ServiceURL(base, route string) string {
	if base == "" {
		return ""
	}
	if route == "/" {
		return base + "/"
	}
	return base + route
}

// ArtifactDigest identifies a package: its module and files, independent of
// the manifest. It is sha256 over "module <digest>\n" and one
// "file <path> <digest>\n" line per file, sorted by path.
func ArtifactDigest(module string, files map[string]string) string {
	h := sha256.New()
	fmt.Fprintf(h, "module %s\n", module)
	for _, p := range slices.Sorted(maps.Keys(files)) {
		fmt.Fprintf(h, "file %s %s\n", p, files[p])
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// manifestOf parses a stored version's manifest. Stored manifests were valid
// when deployed; a failure here means this node's rules changed.
func manifestOf(v api.Version) (*manifest.Manifest, error) {
	m, err := manifest.Parse([]byte(v.Manifest))
	if err != nil {
		return nil, fmt.Errorf("version %d's manifest no longer validates: %w", v.Number, err)
	}
	return m, nil
}
