// Package store keeps mote's desired state, artifacts and logs in NATS
// JetStream, on a NATS server embedded in the node's process.
//
// Open starts the server on a data directory and connects to it in-process
// (no TCP unless Options.Listen asks for a client port). What lives where:
//
//   - services: KV bucket "mote_services", key = service name, value = api.Service JSON;
//   - versions: KV bucket "mote_versions", key = "<service>.<number>", value = api.Version JSON;
//   - config:   KV bucket "mote_config", key = "<service>.<KEY>", value = JSON {value, secret, updated};
//   - kv:       KV bucket "mote_kv_<service>" per service, made on its first KVSet; key = hex of the key;
//   - plans:    KV bucket "mote_plans", key = plan name, value = api.Plan JSON;
//   - keys:     KV bucket "mote_keys", key = API key ID, value = KeyRecord JSON (hash, never the secret);
//   - jwt keys: KV bucket "mote_jwt_keys", key = hex of the key ID, value = JWTKeyRecord JSON;
//   - quota:    KV bucket "mote_quota": key = "shard.<window>.<2 hex>", value = JSON {"counts": {"<key id>": count}} for the keys
//     that hash to that shard (64 per window, so a flush is at most 64 writes); the older per-key "<key id>.<window>" = decimal
//     count is still read (and used for keys beyond a full shard); values expire QuotaRetention after their last change;
//   - blobs:    object store "mote_blobs", object name = "sha256:<hex>";
//   - logs:     stream "MOTE_LOGS", subject "mote.logs.<service>", one api.LogEntry JSON per message.
//
// # Durability
//
// A write is acknowledged only after JetStream stored it. JetStream's file
// store writes each message to its block file (write(2), "flush in place")
// before the ack unless a stream opts into async flushing, so an
// acknowledged write survives the process being SIGKILLed; the crash test
// checks this, and fails if the state buckets flush asynchronously. NATS
// fsyncs only every two minutes by default, which an OS crash or power cut
// can undo, so the store also turns on NATS' SyncAlways (an fsync before
// every ack). On the 2-core dev VM that makes an UpdateService ~0.25 ms
// instead of ~25 µs and a 1 MiB PutBlob ~5 ms instead of ~3 ms (1.7 ms vs
// 80 µs and 30 vs 7 ms when the machine is loaded); Options.NoSync turns
// it off. Key-value data is user data and stays durable too: a KVSet of
// 100 bytes takes ~0.2 ms with the fsync, ~25 µs without; a KVGet ~25 µs.
// Logs opt out per stream (async persist mode): they are best effort, and
// an fsync per line would cap them at a few thousand lines a second.
//
// All methods are safe for concurrent use.
package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/atomicfile"
)

// Errors the store returns. They are wrapped with context; test with errors.Is.
var (
	// ErrNotFound: the service, version, blob, log stream, plan, API key or
	// JWT key does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrExists: a service, version, plan or API key with that name, number
	// or ID already exists.
	ErrExists = errors.New("store: already exists")
	// ErrConflict: a compare-and-set update carried a stale revision.
	ErrConflict = errors.New("store: revision conflict")
	// ErrDigestMismatch: an uploaded blob's content does not hash to its digest.
	ErrDigestMismatch = errors.New("store: content does not match digest")
	// ErrCorrupt: a stored blob no longer hashes to its digest.
	ErrCorrupt = errors.New("store: stored blob is corrupt")
	// ErrTooLarge: a blob is larger than Options.MaxBlobSize, or a
	// configuration or key-value value is over its limit.
	ErrTooLarge = errors.New("store: too large")
	// ErrInvalidDigest: a digest is not "sha256:" followed by 64 lowercase hex digits.
	ErrInvalidDigest = errors.New("store: invalid digest")
	// ErrInvalidName: a service, plan or app name is not 1..63 characters of
	// [a-z0-9-], a version number is not positive, or an API key ID, JWT key
	// ID or quota counter name is malformed.
	ErrInvalidName = errors.New("store: invalid name")
	// ErrInvalidKey: a configuration key is not [A-Za-z_][A-Za-z0-9_]{0,127},
	// a key-value key is not 1..MaxKVKey bytes of UTF-8, or an API key
	// record's hash is not 64 lowercase hex digits.
	ErrInvalidKey = errors.New("store: invalid key")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("store: closed")
)

// Defaults for Options' zero values.
const (
	// DefaultMaxBlobSize is the largest blob PutBlob accepts by default.
	DefaultMaxBlobSize = 256 << 20
	// DefaultStartTimeout bounds Open when its context has no deadline.
	DefaultStartTimeout = 30 * time.Second
)

// Bucket and stream names.
const (
	servicesBucket = "mote_services"
	versionsBucket = "mote_versions"
	configBucket   = "mote_config"
	blobsBucket    = "mote_blobs"
	plansBucket    = "mote_plans"
	keysBucket     = "mote_keys"
	jwtKeysBucket  = "mote_jwt_keys"
	quotaBucket    = "mote_quota"
	logsStream     = "MOTE_LOGS"
	logsSubject    = "mote.logs."

	// maxPayload is the largest NATS message: a full kv value with its
	// headers must fit (NATS' default is 1 MiB).
	maxPayload = 2 << 20

	// jsMaxMemory caps JetStream's memory storage. The store keeps nothing
	// in memory streams; the cap leaves room for others (e.g. counters).
	jsMaxMemory = 256 << 20
)

// Options configures Open. Only Dir is required.
type Options struct {
	// Dir holds JetStream's files. It is created with mode 0700 if missing.
	// Only one process may use a Dir at a time (Open fails otherwise).
	Dir string
	// Listen, when set, is the "host:port" where the server accepts NATS
	// clients (port 0 picks a free port; see ClientURL). Empty means no
	// network listener at all: the store is reachable only in-process.
	// The port has no authentication yet: anyone who reaches it can read
	// and change everything, so bind it to loopback.
	Listen string
	// MaxBlobSize is the largest blob PutBlob accepts; 0 means DefaultMaxBlobSize.
	MaxBlobSize int64
	// MaxStore caps JetStream's file storage in bytes. 0 means NATS' default:
	// 75% of the free space of Dir's file system when the server starts.
	MaxStore int64
	// NoSync turns off the fsync before every acknowledgement (see the
	// package doc): acknowledged writes still survive the process being
	// killed, but not an OS crash or power cut. Writes get ~10x faster.
	NoSync bool
	// Logger receives the NATS server's warnings and errors (notices at
	// debug level). nil discards them.
	Logger *slog.Logger
}

// Store is an open store. Close it to shut the embedded server down cleanly.
type Store struct {
	opts   Options
	log    *slog.Logger
	ns     *server.Server
	nc     *nats.Conn // KV, objects, watches and log queries
	lnc    *nats.Conn // log publishing only, so logs never queue behind state writes
	js     jetstream.JetStream
	lock   *os.File // flock on Dir
	name   string   // server name
	logMax int64    // MOTE_LOGS max bytes

	services jetstream.KeyValue
	versions jetstream.KeyValue
	verSt    jetstream.Stream // the stream behind versions, for purges by service
	config   jetstream.KeyValue
	plans    jetstream.KeyValue
	keys     jetstream.KeyValue
	jwtKeys  jetstream.KeyValue
	quota    jetstream.KeyValue
	blobs    jetstream.ObjectStore
	logs     jetstream.Stream

	kvMu sync.Mutex
	kvs  map[string]*kvBucket // open kv buckets by service

	blobLocks [64]sync.Mutex // serialises PutBlob per digest (by first byte)

	logCh      chan api.LogEntry
	logDropped atomic.Uint64
	logQuit    chan struct{}
	logDone    chan struct{}

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// Open starts the embedded NATS server on opts.Dir, waits until it is ready
// (bounded by ctx's deadline, or DefaultStartTimeout), connects to it and
// creates or updates the store's buckets and streams. Opening a Dir that an
// earlier Store used finds everything that Store acknowledged.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, errors.New("store: open: Options.Dir is empty")
	}
	if opts.MaxBlobSize <= 0 {
		opts.MaxBlobSize = DefaultMaxBlobSize
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	lock, err := lockDir(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", opts.Dir, err)
	}
	s := &Store{opts: opts, log: log, lock: lock}
	ok := false
	defer func() {
		if !ok {
			s.shutdown()
		}
	}()

	if s.name, err = serverName(opts.Dir); err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	if err := s.startServer(ctx); err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	if err := s.connect(); err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	if err := s.setup(ctx); err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	s.startLogPublisher()
	ok = true
	return s, nil
}

func (s *Store) startServer(ctx context.Context) error {
	sopts := &server.Options{
		ServerName:         s.name,
		JetStream:          true,
		StoreDir:           s.opts.Dir,
		JetStreamMaxMemory: jsMaxMemory,
		JetStreamMaxStore:  s.opts.MaxStore,
		SyncAlways:         !s.opts.NoSync,
		MaxPayload:         maxPayload,
		DontListen:         s.opts.Listen == "",
		NoSigs:             true,
	}
	if s.opts.Listen != "" {
		host, port, err := net.SplitHostPort(s.opts.Listen)
		if err != nil {
			return fmt.Errorf("listen address %q: %w", s.opts.Listen, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil || p < 0 || p > 65535 {
			return fmt.Errorf("listen address %q: bad port", s.opts.Listen)
		}
		if p == 0 {
			p = server.RANDOM_PORT
		}
		sopts.Host, sopts.Port = host, p
	}
	ns, err := server.NewServer(sopts)
	if err != nil {
		return fmt.Errorf("nats server: %w", err)
	}
	logger := &serverLogger{log: s.log}
	ns.SetLoggerV2(logger, false, false, false)
	s.ns = ns
	ns.Start()

	wait := DefaultStartTimeout
	if d, ok := ctx.Deadline(); ok {
		wait = time.Until(d)
	}
	if !ns.ReadyForConnections(wait) {
		if msg := logger.fatal.Load(); msg != nil {
			return fmt.Errorf("nats server: %s", *msg)
		}
		return fmt.Errorf("nats server not ready after %s", wait)
	}
	if !ns.JetStreamEnabled() {
		if msg := logger.fatal.Load(); msg != nil {
			return fmt.Errorf("jetstream: %s", *msg)
		}
		return errors.New("jetstream did not start")
	}
	return nil
}

func (s *Store) connect() error {
	var err error
	connOpts := []nats.Option{
		nats.InProcessServer(s.ns),
		nats.Name("mote-store"),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subj := ""
			if sub != nil {
				subj = sub.Subject
			}
			s.log.Warn("nats client error", "subject", subj, "err", err)
		}),
	}
	if s.nc, err = nats.Connect("", connOpts...); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	if s.lnc, err = nats.Connect("", append(connOpts, nats.Name("mote-store-logs"))...); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	if s.js, err = jetstream.New(s.nc); err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	return nil
}

// setup creates or updates every bucket and stream; running it again on the
// same data is a no-op.
func (s *Store) setup(ctx context.Context) error {
	var err error
	if s.services, err = s.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      servicesBucket,
		Description: "mote services: desired state, key = service name",
		History:     1,
		Storage:     jetstream.FileStorage,
	}); err != nil {
		return fmt.Errorf("bucket %s: %w", servicesBucket, err)
	}
	if s.versions, err = s.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      versionsBucket,
		Description: "mote versions: key = <service>.<number>",
		History:     1,
		Storage:     jetstream.FileStorage,
	}); err != nil {
		return fmt.Errorf("bucket %s: %w", versionsBucket, err)
	}
	if s.verSt, err = s.js.Stream(ctx, "KV_"+versionsBucket); err != nil {
		return fmt.Errorf("bucket %s: %w", versionsBucket, err)
	}
	if s.config, err = s.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      configBucket,
		Description: "mote configuration: key = <service>.<KEY>",
		History:     1,
		Storage:     jetstream.FileStorage,
	}); err != nil {
		return fmt.Errorf("bucket %s: %w", configBucket, err)
	}
	for _, b := range []struct {
		kv   *jetstream.KeyValue
		name string
		desc string
		age  time.Duration
	}{
		{&s.plans, plansBucket, "mote plans: key = plan name", 0},
		{&s.keys, keysBucket, "mote API keys: key = key id, value holds the key's hash", 0},
		{&s.jwtKeys, jwtKeysBucket, "mote JWT verification keys: key = hex of the key id", 0},
		{&s.quota, quotaBucket, "mote quota counters: key = <key id>.<window>", QuotaRetention},
	} {
		if *b.kv, err = s.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      b.name,
			Description: b.desc,
			History:     1,
			TTL:         b.age,
			Storage:     jetstream.FileStorage,
		}); err != nil {
			return fmt.Errorf("bucket %s: %w", b.name, err)
		}
	}
	if s.blobs, err = s.js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      blobsBucket,
		Description: "mote blobs: content-addressed artifacts, name = sha256:<hex>",
		Storage:     jetstream.FileStorage,
	}); err != nil {
		return fmt.Errorf("object store %s: %w", blobsBucket, err)
	}

	s.logMax = 1 << 30
	if cfg := s.ns.JetStreamConfig(); cfg != nil && cfg.MaxStore > 0 && cfg.MaxStore/4 < s.logMax {
		s.logMax = cfg.MaxStore / 4
	}
	if s.logs, err = s.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:              logsStream,
		Description:       "mote service logs, one subject per service",
		Subjects:          []string{logsSubject + ">"},
		Storage:           jetstream.FileStorage,
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		MaxMsgsPerSubject: MaxLogsPerService,
		MaxAge:            LogRetention,
		MaxBytes:          s.logMax,
		MaxMsgSize:        maxLogMsg,
		AllowDirect:       true,
		// Logs are best effort: flushing them asynchronously keeps a chatty
		// service from paying an fsync per line.
		PersistMode: jetstream.AsyncPersistMode,
	}); err != nil {
		return fmt.Errorf("stream %s: %w", logsStream, err)
	}
	return nil
}

// ClientURL is the URL NATS clients can connect to, or "" when the store was
// opened without Options.Listen.
func (s *Store) ClientURL() string {
	if s.opts.Listen == "" {
		return ""
	}
	return s.ns.ClientURL()
}

// ServerName is the embedded NATS server's name: "mote-<host>-<random>",
// made on the first Open of a Dir and kept in it, so it is unique per data
// directory and stable across restarts.
func (s *Store) ServerName() string { return s.name }

// Close stops the log publisher (publishing what it holds), closes the
// connections and shuts the embedded server down, waiting until its files
// are closed. Calls after the first return the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.stopLogPublisher()
		s.closeErr = s.shutdown()
	})
	return s.closeErr
}

func (s *Store) shutdown() error {
	var errs []error
	if s.lnc != nil {
		if err := s.lnc.FlushTimeout(5 * time.Second); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			errs = append(errs, fmt.Errorf("flush logs: %w", err))
		}
		s.lnc.Close()
	}
	if s.nc != nil {
		s.nc.Close()
	}
	if s.ns != nil {
		s.ns.Shutdown()
		s.ns.WaitForShutdown()
	}
	if s.lock != nil {
		if err := unlockDir(s.lock); err != nil {
			errs = append(errs, fmt.Errorf("unlock: %w", err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("store: close: %w", errors.Join(errs...))
	}
	return nil
}

// validName reports whether name is a service name: 1..63 of [a-z0-9-],
// the manifest's rule, checked again here because names become KV keys and
// subject tokens (no '.', '*', '>' or spaces can get through).
func validName(name string) bool {
	if len(name) == 0 || len(name) > 63 {
		return false
	}
	for _, c := range []byte(name) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func checkName(name string) error {
	if !validName(name) {
		return fmt.Errorf("%w: service name %q: want 1..63 of [a-z0-9-]", ErrInvalidName, name)
	}
	return nil
}

// serverName returns the name kept in dir, making it on first use.
func serverName(dir string) (string, error) {
	path := filepath.Join(dir, "server-name")
	if b, err := os.ReadFile(path); err == nil {
		if name := strings.TrimSpace(string(b)); name != "" {
			return name, nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	host, _ := os.Hostname()
	host = strings.Trim(regexp.MustCompile(`[^a-z0-9-]+`).ReplaceAllString(strings.ToLower(host), "-"), "-")
	if len(host) > 32 {
		host = host[:32]
	}
	if host == "" {
		host = "node"
	}
	var rnd [4]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", err
	}
	name := "mote-" + host + "-" + hex.EncodeToString(rnd[:])
	if err := atomicfile.Write(path, []byte(name+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("server name: %w", err)
	}
	return name, nil
}

// serverLogger sends the NATS server's log to slog. Fatal messages are kept
// so Open can say why the server did not start (NATS' own loggers exit the
// process on Fatalf; this one never does).
type serverLogger struct {
	log   *slog.Logger
	fatal atomic.Pointer[string]
}

func (l *serverLogger) Noticef(format string, v ...any) {
	l.log.Debug(fmt.Sprintf(format, v...), "component", "nats")
}

func (l *serverLogger) Warnf(format string, v ...any) {
	l.log.Warn(fmt.Sprintf(format, v...), "component", "nats")
}

func (l *serverLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.fatal.Store(&msg)
	l.log.Error(msg, "component", "nats", "fatal", true)
}

func (l *serverLogger) Errorf(format string, v ...any) {
	l.log.Error(fmt.Sprintf(format, v...), "component", "nats")
}

func (l *serverLogger) Debugf(string, ...any) {}
func (l *serverLogger) Tracef(string, ...any) {}
