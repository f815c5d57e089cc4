// Package control turns desired state into running services. Deploy and
// Remove change the desired state in the store; a reconcile loop (Run)
// watches the store and makes the gateway's route table match it, loading
// each version through the sandbox driver.
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
	"slices"
	"sync"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/analytics"
	"github.com/mote-run/mote/internal/capability"
	"github.com/mote-run/mote/internal/gateway"
	"github.com/mote-run/mote/internal/manifest"
	"github.com/mote-run/mote/internal/metrics"
	"github.com/mote-run/mote/internal/sandbox"
	"github.com/mote-run/mote/internal/store"
)

// ApplyTimeout bounds how long Deploy and Remove wait for the node to serve
// the change they made.
const ApplyTimeout = 30 * time.Second

// Options configure a Controller. Store, Driver and Gateway are required.
type Options struct {
	Store   *store.Store
	Driver  sandbox.Driver
	Gateway *gateway.Gateway
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
	current  map[string]*versionRunner // service -> the version serving it
	prepared map[versionKey]*versionRunner
	changed  chan struct{} // closed and replaced after every applied change
	synced   bool
}

type versionKey struct {
	service string
	version int
}

// New returns a Controller. Call Run to start reconciling.
func New(opts Options) *Controller {
	c := &Controller{
		opts:     opts,
		logger:   opts.Logger,
		current:  map[string]*versionRunner{},
		prepared: map[versionKey]*versionRunner{},
		changed:  make(chan struct{}),
		config:   capability.NewConfigView(),
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
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
			c.notifyLocked()
			c.mu.Unlock()
			go c.warm(ctx)
		case ev.Deleted:
			c.remove(ev.Service.Name)
		default:
			c.apply(ctx, ev.Service)
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

// apply makes the table serve svc's current version.
func (c *Controller) apply(ctx context.Context, svc api.Service) {
	c.mu.Lock()
	cur := c.current[svc.Name]
	if cur != nil && cur.version.Number == svc.Version {
		same := sameLifecycle(cur.lifecycle, svc.Lifecycle)
		c.mu.Unlock()
		if !same {
			c.relabel(ctx, cur, svc)
		}
		return
	}
	key := versionKey{svc.Name, svc.Version}
	next := c.prepared[key]
	delete(c.prepared, key)
	c.mu.Unlock()

	if next == nil {
		v, err := c.opts.Store.Version(ctx, svc.Name, svc.Version)
		if err == nil {
			next, err = c.newVersionRunner(ctx, v, svc.Lifecycle)
		}
		if err != nil {
			c.logger.Error("cannot serve service", "service", svc.Name, "version", svc.Version, "err", err)
			c.serviceLog(svc.Name, svc.Version, "error", fmt.Sprintf("cannot serve version %d: %v", svc.Version, err))
			return
		}
	}

	if !sameLifecycle(next.lifecycle, svc.Lifecycle) {
		// Prepared by a deploy before the override changed.
		if err := c.rebuildPolicy(ctx, next, svc.Lifecycle); err != nil {
			c.serviceLog(svc.Name, svc.Version, "error", fmt.Sprintf("cannot apply the lifecycle: %v", err))
		}
	}
	c.mu.Lock()
	old := c.current[svc.Name]
	c.current[svc.Name] = next
	c.publishLocked()
	c.mu.Unlock()
	if old != nil {
		go old.drain()
	}
	if next.manifest.Scale.Min > 0 {
		// Warm instances are kept only by a loaded version: load it now
		// rather than on its first request.
		go func() { _, _ = next.get(ctx) }()
	}
}

// remove stops routing a deleted service and drains it.
func (c *Controller) remove(name string) {
	c.mu.Lock()
	old := c.current[name]
	delete(c.current, name)
	c.publishLocked()
	c.mu.Unlock()
	if old != nil {
		go old.drain()
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
	targets := make([]*gateway.Target, 0, len(c.current))
	for _, vr := range c.current {
		targets = append(targets, vr.target)
	}
	c.opts.Gateway.SetTable(gateway.NewTable(targets))
	if c.opts.Metrics != nil {
		c.opts.Metrics.Services.Set(float64(len(targets)))
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

// warm loads every routed version in the background, two at a time, so
// first requests after a restart rarely wait for a compile.
func (c *Controller) warm(ctx context.Context) {
	c.mu.Lock()
	runners := slices.Collect(maps.Values(c.current))
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

// Instances lists the live instances of one service, or of all when name is "".
func (c *Controller) Instances(name string) []api.Instance {
	c.mu.Lock()
	var runners []*versionRunner
	for n, vr := range c.current {
		if name == "" || n == name {
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
	runners := slices.Collect(maps.Values(c.current))
	runners = append(runners, slices.Collect(maps.Values(c.prepared))...)
	c.current = map[string]*versionRunner{}
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
