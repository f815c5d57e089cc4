package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/mote-run/mote/client"
	"github.com/mote-run/mote/examples"
	"github.com/mote-run/mote/internal/ipfilter"
	"github.com/mote-run/mote/internal/node"
)

// shutdownTimeout bounds the drain of in-flight requests on Ctrl-C/SIGTERM.
const shutdownTimeout = 30 * time.Second

type upFlags struct {
	data, http, admin, nats string
	logLevel                string
	trustedProxies          []string
	accessLog               string
	noContainers            bool
}

func (f *upFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.data, "data", envOr("MOTE_DATA", client.DefaultDataDir()), "data directory ($MOTE_DATA)")
	fl.StringVar(&f.http, "http", envOr("MOTE_HTTP", node.DefaultHTTPAddr), "gateway listen address ($MOTE_HTTP)")
	fl.StringVar(&f.admin, "admin", envOr("MOTE_ADMIN", node.DefaultAdminAddr), "admin API listen address ($MOTE_ADMIN)")
	fl.StringVar(&f.nats, "nats", "", "expose the embedded NATS server for clients on this address (default: no port)")
	fl.StringVar(&f.logLevel, "log-level", "info", "node log level: debug, info, warn or error")
	fl.StringSliceVar(&f.trustedProxies, "trusted-proxy", nil, "a proxy (address or CIDR) whose X-Forwarded-For the gateway believes; repeatable (default: none)")
	fl.StringVar(&f.accessLog, "access-log", "", `write one JSON line per gateway request to this file ("-" for stdout; default: none)`)
	fl.BoolVar(&f.noContainers, "no-containers", false, "refuse [container] services even where runc could run them")
}

// accessConfig turns the --trusted-proxy and --access-log flags into the
// node's settings.
func (f upFlags) accessConfig(g *globals) ([]netip.Prefix, io.Writer, error) {
	var trusted []netip.Prefix
	for _, s := range f.trustedProxies {
		p, err := ipfilter.ParsePrefix(s)
		if err != nil {
			return nil, nil, fmt.Errorf("--trusted-proxy: %w", err)
		}
		trusted = append(trusted, p)
	}
	switch f.accessLog {
	case "":
		return trusted, nil, nil
	case "-":
		return trusted, g.stdout, nil
	}
	file, err := os.OpenFile(f.accessLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("--access-log: %w", err)
	}
	return trusted, file, nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func upCmd(g *globals) *cobra.Command {
	var f upFlags
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run a node in the foreground",
		Long: `Run a node in the foreground: the gateway, the admin API, the embedded store
and the sandboxes. Ctrl-C or SIGTERM drains in-flight requests and stops it.

The first start writes a random admin token to DATA/admin.token (mode 0600);
client commands on this machine read it from there.`,
		Example: `  mote up
  mote up --data ./data --http :9090 --admin 127.0.0.1:9091
  mote up --trusted-proxy 10.0.0.0/8 --access-log /var/log/mote/access.log`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			n, err := startNode(cmd.Context(), g, f)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "mote node ready\n  gateway  %s\n  admin    %s\n  data     %s\n", n.GatewayURL(), n.AdminURL(), n.DataDir())
			return waitAndStop(cmd.Context(), g, n)
		},
	}
	f.register(cmd)
	return cmd
}

func demoCmd(g *globals) *cobra.Command {
	var f upFlags
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a node with the example services deployed",
		Long: `Run a node (as 'mote up' does) and deploy the examples to it: hello-c, hello-go
and echo-go. Their URLs are printed; Ctrl-C stops the node.`,
		Example: `  mote demo
  curl http://127.0.0.1:8080/hello-c/world`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			n, err := startNode(ctx, g, f)
			if err != nil {
				return err
			}
			if err := deployExamples(ctx, g, n); err != nil {
				_ = n.Shutdown(context.Background())
				return err
			}
			return waitAndStop(ctx, g, n)
		},
	}
	f.register(cmd)
	return cmd
}

func startNode(ctx context.Context, g *globals, f upFlags) (*node.Node, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", f.logLevel)
	}
	data, err := filepath.Abs(f.data)
	if err != nil {
		return nil, err
	}
	trusted, accessLog, err := f.accessConfig(g)
	if err != nil {
		return nil, err
	}
	logger := slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: level}))
	node.TuneGC()
	return node.Start(ctx, node.Config{
		DataDir: data, HTTPAddr: f.http, AdminAddr: f.admin, NATSAddr: f.nats,
		Version: version, Logger: logger, TrustedProxies: trusted, AccessLog: accessLog, NoContainers: f.noContainers,
	})
}

// waitAndStop blocks until the context ends (a signal) or the node fails,
// then drains and stops it.
func waitAndStop(ctx context.Context, g *globals, n *node.Node) error {
	var runErr error
	select {
	case <-ctx.Done():
		fmt.Fprintln(g.stderr, "stopping: draining in-flight requests (Ctrl-C again to force)")
	case runErr = <-n.Err():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := n.Shutdown(sctx); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}

// deployExamples deploys every embedded example through the admin API and
// prints how to call each.
func deployExamples(ctx context.Context, g *globals, n *node.Node) error {
	c, err := client.New(n.AdminURL(), client.WithToken(n.Token()), client.WithUserAgent("mote-demo/"+version))
	if err != nil {
		return err
	}
	all, err := examples.All()
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "mote demo: node ready (admin %s, data %s)\n\n", n.AdminURL(), n.DataDir())
	for _, ex := range all {
		res, err := c.Deploy(ctx, client.Package{Manifest: ex.Manifest, Module: ex.Module, Files: ex.Files})
		if err != nil {
			return fmt.Errorf("deploy example %s: %w", ex.Name, err)
		}
		fmt.Fprintf(g.stdout, "  %-10s %s\n", ex.Name, res.Service.URL)
	}
	fmt.Fprintf(g.stdout, "\nTry:\n  curl %s/hello-c/world\n  curl -d 'hi' '%s/echo-go/path?x=1'\n  mote ls\n\nCtrl-C stops the node.\n", n.GatewayURL(), n.GatewayURL())
	return nil
}

// localNodeAddr returns the admin URL a node on dataDir recorded in
// node.json, or "" when there is none.
func localNodeAddr(dataDir string) string {
	b, err := os.ReadFile(filepath.Join(dataDir, node.InfoFileName))
	if err != nil {
		return ""
	}
	var info node.InfoFile
	if json.Unmarshal(b, &info) != nil {
		return ""
	}
	return info.AdminURL
}
