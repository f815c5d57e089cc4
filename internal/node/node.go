// Package node wires a mote node together: the store (embedded NATS
// JetStream), the Wasm sandbox driver, the controller that reconciles
// desired state, the gateway listener and the admin listener.
//
// Start returns once the node serves its stored state (the moment /readyz
// turns 200). Shutdown drains in-flight requests, then stops everything in
// reverse order; a node killed instead loses nothing acknowledged (see the
// store package).
package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/admin"
	"github.com/mote-run/mote/internal/analytics"
	"github.com/mote-run/mote/internal/apikey"
	"github.com/mote-run/mote/internal/atomicfile"
	"github.com/mote-run/mote/internal/control"
	"github.com/mote-run/mote/internal/gateway"
	"github.com/mote-run/mote/internal/gctune"
	"github.com/mote-run/mote/internal/httpguard"
	"github.com/mote-run/mote/internal/jwt"
	"github.com/mote-run/mote/internal/metrics"
	"github.com/mote-run/mote/internal/ratelimit"
	"github.com/mote-run/mote/internal/rootfs"
	"github.com/mote-run/mote/internal/sandbox"
	"github.com/mote-run/mote/internal/sandbox/oci"
	"github.com/mote-run/mote/internal/sandbox/wasm"
	"github.com/mote-run/mote/internal/store"
)

// Defaults for Config's zero fields.
const (
	DefaultHTTPAddr  = ":8080"
	DefaultAdminAddr = "127.0.0.1:8081"
	// TokenFileName is the admin token's file in the data dir (mode 0600).
	TokenFileName = "admin.token"
	// InfoFileName is where a running node records its addresses, so
	// client commands can find a node started on other ports.
	InfoFileName = "node.json"
	// StartTimeout bounds how long Start waits to apply stored state.
	StartTimeout = 60 * time.Second
)

// Config configures a node. Only DataDir is required.
type Config struct {
	// DataDir holds the store, the compilation cache, package files, the
	// admin token and node.json. Created (0700) if missing; made 0711
	// (others may pass through, not list) when containers run in a user
	// namespace, whose root must reach DataDir/oci.
	DataDir string
	// HTTPAddr is the gateway's listen address; default ":8080". Port 0
	// picks a free port (see Node.GatewayURL).
	HTTPAddr string
	// AdminAddr is the admin API's listen address; default
	// "127.0.0.1:8081" (loopback only).
	AdminAddr string
	// NATSAddr exposes the embedded NATS server to clients; "" (default)
	// opens no port.
	NATSAddr string
	// CacheDir holds compiled code; "" (default) means DataDir/cache. Nodes
	// may share one (wazero keys it by module and version).
	CacheDir string
	// Version is reported by /v1/info.
	Version string
	// Logger receives node diagnostics; nil discards them.
	Logger *slog.Logger
	// TrustedProxies are the peers whose X-Forwarded-For the gateway
	// believes (for IP rules, analytics and access logs); none by default,
	// so X-Forwarded-* headers are ignored.
	TrustedProxies []netip.Prefix
	// AccessLog, when set, receives one JSON line per gateway request.
	AccessLog io.Writer
	// NoContainers turns the container driver off: [container] services
	// are refused. Without it the node runs them when it can (Linux, root,
	// runc on the PATH; see oci.Check) and says at start why not otherwise.
	NoContainers bool
}

// ContainerUIDShift is the host uid and gid of root inside containers when
// the host allows user namespaces: container ids 0..65535 map to host ids
// ContainerUIDShift.. +65535, which no host account uses.
const ContainerUIDShift = 1 << 20

// TuneGC sets the garbage collector for a node process, unless the user set
// GOGC: GOGC follows the live heap (gctune, default policy), 400 while the
// live heap is small and lower as it grows, so that the garbage allowed
// between collections stays within 256 MiB (GOGC not below 50). Every
// request allocates a fresh instance's bookkeeping, so at Go's default of
// 100 a small heap is collected hundreds of times a second; at 400 WAGI
// throughput rises by about a quarter (BENCHMARKS.md). But a fixed 400
// lets the heap reach five times the live heap, and a node's live heap is
// not always small: every warm pooled instance holds its guest's linear
// memory there (about 10 MiB for a Go guest), and 400 MiB of live heap
// let the soak's node grow to 2.5 GiB (docs/soak.md). GOMEMLIMIT still
// caps the heap when set. TuneGC starts the tuner once per process; later
// calls do nothing. It is for main packages: a library must not change
// process-wide settings.
func TuneGC() {
	gcOnce.Do(func() {
		if os.Getenv("GOGC") == "" {
			gctune.Start(gctune.Policy{})
		}
	})
}

var gcOnce sync.Once

// Node is a running mote node.
type Node struct {
	cfg     Config
	logger  *slog.Logger
	lock    *dirLock
	token   string
	started time.Time

	store  *store.Store
	driver *wasm.Driver
	// containers runs [container] services; nil when the node cannot, and
	// noContainers says why.
	containers   *oci.Driver
	noContainers string
	metrics      *metrics.Metrics
	gateway      *gateway.Gateway
	control      *control.Controller

	keys      *apikey.Index
	quotas    *ratelimit.Quotas
	analytics *analytics.Analytics
	accessLog *analytics.AccessLog
	bgDone    sync.WaitGroup // the key index and the quota flusher

	gatewayLn, adminLn   net.Listener
	gatewaySrv, adminSrv *http.Server
	cancel               context.CancelFunc
	runDone              chan struct{}
	errc                 chan error

	shutdownOnce sync.Once
	shutdownErr  error
}

// Start opens the data dir and starts every part of the node.
func Start(ctx context.Context, cfg Config) (n *Node, err error) {
	if cfg.DataDir == "" {
		return nil, errors.New("node: no data dir configured")
	}
	if cfg.HTTPAddr == "" {
		cfg.HTTPAddr = DefaultHTTPAddr
	}
	if cfg.AdminAddr == "" {
		cfg.AdminAddr = DefaultAdminAddr
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	n = &Node{cfg: cfg, logger: logger, started: time.Now().UTC(), errc: make(chan error, 2), runDone: make(chan struct{})}
	// On failure, undo whatever was started. (Each "return nil, err" sets
	// n to nil before this runs, so keep a reference of our own.)
	started := n
	defer func() {
		if err != nil {
			started.close(context.Background())
		}
	}()

	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("node: data dir: %w", err)
	}
	if n.lock, err = lockDir(cfg.DataDir); err != nil {
		return nil, err
	}
	if n.token, err = loadOrCreateToken(filepath.Join(cfg.DataDir, TokenFileName)); err != nil {
		return nil, err
	}
	filesDir := filepath.Join(cfg.DataDir, "files")
	if err := prepareFilesDir(filesDir); err != nil {
		return nil, err
	}

	n.store, err = store.Open(ctx, store.Options{Dir: filepath.Join(cfg.DataDir, "store"), Listen: cfg.NATSAddr, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	cacheDir := cfg.CacheDir
	if cacheDir == "" {
		cacheDir = filepath.Join(cfg.DataDir, "cache")
	}
	n.driver, err = wasm.New(wasm.Options{CacheDir: cacheDir, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	n.metrics = metrics.New()
	logs := sandbox.LogFunc(n.store.AppendLog)
	copts := n.startContainers(logger)
	n.noContainers = copts.NoContainers
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	n.cancel = cancel
	if err := n.startAccess(runCtx); err != nil {
		return nil, err
	}
	n.gateway = gateway.New(gateway.Options{
		Logs: logs, Logger: logger,
		Access: gateway.Access{
			Keys: n.keys, Limiter: ratelimit.NewLimiter(), Quotas: n.quotas, JWTCache: jwt.NewCache(4096),
		},
		Trusted:   httpguard.NewTrusted(cfg.TrustedProxies),
		Analytics: n.analytics,
		AccessLog: n.accessLog,
	})

	if n.gatewayLn, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		return nil, fmt.Errorf("node: gateway listener on %s: %w; Try: --http with another address", cfg.HTTPAddr, err)
	}
	n.gatewayLn = httpguard.Listen(n.gatewayLn)
	if n.adminLn, err = net.Listen("tcp", cfg.AdminAddr); err != nil {
		return nil, fmt.Errorf("node: admin listener on %s: %w; Try: --admin with another address", cfg.AdminAddr, err)
	}

	copts.Store, copts.Driver, copts.Gateway, copts.Metrics, copts.Analytics = n.store, n.driver, n.gateway, n.metrics, n.analytics
	copts.FilesDir, copts.Logs, copts.Logger, copts.GatewayURL = filesDir, logs, logger, n.GatewayURL
	n.control = control.New(copts)
	go func() {
		defer close(n.runDone)
		if err := n.control.Run(runCtx); err != nil && runCtx.Err() == nil {
			n.errc <- err
		}
	}()

	n.gatewaySrv = n.gateway.Server()
	n.adminSrv = admin.Server(admin.New(admin.Options{
		Token: n.token, Control: n.control, Store: n.store, Gateway: n.gateway, Metrics: n.metrics,
		Analytics: n.analytics, Keys: n.keys, Info: n.Info, Ready: n.control.Synced, Logger: logger,
	}), logger)
	go n.serve(n.gatewaySrv, n.gatewayLn, "gateway")
	go n.serve(n.adminSrv, n.adminLn, "admin")

	if err := n.waitSynced(ctx); err != nil {
		return nil, err
	}
	if err := n.writeInfo(); err != nil {
		return nil, err
	}
	logger.Info("node ready", "gateway", n.GatewayURL(), "admin", n.AdminURL(), "data", cfg.DataDir)
	return n, nil
}

func (n *Node) serve(srv *http.Server, ln net.Listener, name string) {
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		n.errc <- fmt.Errorf("node: %s listener: %w", name, err)
	}
}

func (n *Node) waitSynced(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, StartTimeout)
	defer cancel()
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for !n.control.Synced() {
		select {
		case err := <-n.errc:
			return err
		case <-ctx.Done():
			return fmt.Errorf("node: stored state not applied: %w", ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// Err returns a channel that reports a listener or reconciler failing while
// the node runs.
func (n *Node) Err() <-chan error { return n.errc }

// Token returns the admin token.
func (n *Node) Token() string { return n.token }

// DataDir returns the node's data directory.
func (n *Node) DataDir() string { return n.cfg.DataDir }

// GatewayURL is the gateway's base URL, e.g. "http://127.0.0.1:8080".
func (n *Node) GatewayURL() string { return listenerURL(n.gatewayLn) }

// AdminURL is the admin API's base URL.
func (n *Node) AdminURL() string { return listenerURL(n.adminLn) }

// Info describes the node.
func (n *Node) Info() api.NodeInfo {
	return api.NodeInfo{
		Version: n.cfg.Version, GatewayURL: n.GatewayURL(), AdminURL: n.AdminURL(),
		DataDir: n.cfg.DataDir, Started: n.started, Services: n.gateway.Table().Len(),
		Platform: "linux/" + runtime.GOARCH, NoContainers: n.noContainers,
	}
}

// Shutdown stops accepting requests, waits for in-flight ones until ctx is
// done, and stops the node. It is safe to call more than once.
func (n *Node) Shutdown(ctx context.Context) error {
	n.shutdownOnce.Do(func() { n.shutdownErr = n.close(ctx) })
	return n.shutdownErr
}

func (n *Node) close(ctx context.Context) error {
	var errs []error
	if n.gatewaySrv != nil {
		errs = append(errs, n.gatewaySrv.Shutdown(ctx))
	} else if n.gatewayLn != nil {
		errs = append(errs, n.gatewayLn.Close())
	}
	if n.adminSrv != nil {
		// Admin streams (logs -f) never end on their own: drain briefly.
		actx, cancel := context.WithTimeout(ctx, time.Second)
		if err := n.adminSrv.Shutdown(actx); err != nil {
			_ = n.adminSrv.Close()
		}
		cancel()
	} else if n.adminLn != nil {
		errs = append(errs, n.adminLn.Close())
	}
	if n.cancel != nil {
		n.cancel()
		if n.control != nil {
			<-n.runDone
		}
	}
	n.bgDone.Wait()
	if n.accessLog != nil {
		errs = append(errs, n.accessLog.Close())
	}
	if n.control != nil {
		errs = append(errs, n.control.Close(ctx))
	}
	if n.driver != nil {
		errs = append(errs, n.driver.Close(context.Background()))
	}
	if n.containers != nil {
		errs = append(errs, n.containers.Close(context.Background()))
	}
	if n.store != nil {
		errs = append(errs, n.store.Close())
	}
	if n.lock != nil {
		_ = os.Remove(filepath.Join(n.cfg.DataDir, InfoFileName))
		errs = append(errs, n.lock.release())
	}
	return errors.Join(errs...)
}

func listenerURL(ln net.Listener) string {
	if ln == nil {
		return ""
	}
	addr := ln.Addr().(*net.TCPAddr)
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, fmt.Sprint(addr.Port))
}

// loadOrCreateToken reads the admin token, or writes a new random one
// (256 bits, hex) with mode 0600.
func loadOrCreateToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		tok := strings.TrimSpace(string(b))
		if len(tok) < 32 {
			return "", fmt.Errorf("node: admin token in %s is shorter than 32 characters; delete the file to make a new one", path)
		}
		return tok, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("node: read admin token: %w", err)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("node: generate admin token: %w", err)
	}
	tok := hex.EncodeToString(raw[:])
	if err := atomicfile.Write(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("node: write admin token: %w", err)
	}
	return tok, nil
}

// InfoFile is the content of DATA/node.json.
type InfoFile struct {
	PID        int    `json:"pid"`
	GatewayURL string `json:"gateway_url"`
	AdminURL   string `json:"admin_url"`
}

func (n *Node) writeInfo() error {
	b, _ := json.MarshalIndent(InfoFile{PID: os.Getpid(), GatewayURL: n.GatewayURL(), AdminURL: n.AdminURL()}, "", "  ")
	if err := atomicfile.Write(filepath.Join(n.cfg.DataDir, InfoFileName), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("node: write %s: %w", InfoFileName, err)
	}
	return nil
}

// startContainers starts the container driver and its image cache when
// this host can run containers, and returns the controller's options for
// them; otherwise the options say why [container] services are refused.
func (n *Node) startContainers(logger *slog.Logger) control.Options {
	if n.cfg.NoContainers {
		return control.Options{NoContainers: "containers are turned off on this node"}
	}
	if err := oci.Check(); err != nil {
		logger.Info("containers are off", "reason", err)
		return control.Options{NoContainers: err.Error()}
	}
	dir := filepath.Join(n.cfg.DataDir, "oci")
	err := os.MkdirAll(dir, 0o700)
	var shift uint32
	if err == nil && userNamespaces() {
		// Container root is an unprivileged host uid: it must be able to
		// reach the image's rootfs through every directory above it.
		if why := searchable(n.cfg.DataDir, dir); why != "" {
			logger.Info("containers run without a user namespace", "reason", why)
		} else {
			shift = ContainerUIDShift
		}
	}
	var cache *rootfs.Cache
	if err == nil {
		cache, err = rootfs.NewCache(filepath.Join(dir, "rootfs"))
	}
	if err == nil {
		n.containers, err = oci.New(oci.Options{StateDir: filepath.Join(dir, "run"), Logger: logger})
	}
	if err != nil {
		logger.Warn("containers are off", "reason", err)
		return control.Options{NoContainers: err.Error()}
	}
	return control.Options{Containers: n.containers, Rootfs: cache, ContainerUIDShift: shift}
}

// searchable reports why a user namespace's root could not reach dir, the
// oci dir inside the data dir: a directory above the data dir that others
// cannot search (a data dir under /root, say). When nothing above stops
// it, it makes the data dir and dir searchable by other users (mode 0711:
// they may pass through, not list) and returns "".
func searchable(dataDir, dir string) string {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return err.Error()
	}
	for p := filepath.Dir(abs); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return err.Error()
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Sprintf("%s (mode %04o) is not searchable by other users; put the data dir (--data) under a directory they can pass through, like /var/lib/mote", p, fi.Mode().Perm())
		}
		if p == filepath.Dir(p) {
			break
		}
	}
	for _, d := range []string{dataDir, dir} {
		if err := os.Chmod(d, 0o711); err != nil {
			return err.Error()
		}
	}
	return ""
}

// userNamespaces reports whether the kernel lets us create user
// namespaces (max_user_namespaces above 0).
func userNamespaces() bool {
	b, err := os.ReadFile("/proc/sys/user/max_user_namespaces")
	if err != nil {
		return false
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return err == nil && n > 0
}

// prepareFilesDir creates the package files dir and removes what a killed
// node left half-written.
func prepareFilesDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("node: files dir: %w", err)
	}
	stale, _ := filepath.Glob(filepath.Join(dir, ".tmp-*"))
	for _, s := range stale {
		_ = os.RemoveAll(s)
	}
	return nil
}

// startAccess starts what the gateway's policies need: the key index
// (caught up with the store before it returns, so a restarted node knows
// every key before it serves), the quota counters with their flusher,
// analytics and the access log. They stop when ctx ends; the flusher
// writes the last counts first.
func (n *Node) startAccess(ctx context.Context) error {
	n.analytics = analytics.New(analytics.Options{Registry: n.metrics.Registry})
	if n.cfg.AccessLog != nil {
		n.accessLog = analytics.NewAccessLog(n.cfg.AccessLog, 4096)
	}
	events, err := n.store.WatchAccess(ctx)
	if err != nil {
		return fmt.Errorf("node: watch keys: %w", err)
	}
	n.keys = apikey.NewIndex()
	synced := make(chan struct{})
	n.bgDone.Add(2)
	go func() {
		defer n.bgDone.Done()
		n.keys.Run(ctx, events, synced)
	}()
	n.quotas = ratelimit.NewQuotas(n.store, ratelimit.QuotaOptions{Logger: n.logger})
	go func() {
		defer n.bgDone.Done()
		if err := n.quotas.Run(ctx); err != nil && ctx.Err() == nil {
			n.logger.Error("quota counters", "err", err)
		}
	}()
	timeout := time.NewTimer(StartTimeout)
	defer timeout.Stop()
	select {
	case <-synced:
		return nil
	case <-timeout.C:
		return errors.New("node: the key index did not catch up with the store in time")
	}
}
