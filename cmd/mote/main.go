// Command mote is the mote nanoservice platform: `mote up` runs a node, and
// every other verb drives a node through its admin API (package client), the
// way `docker` drives dockerd.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/client"
	"github.com/mote-run/mote/internal/manifest"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// exitError carries a specific exit code (for `mote run`) without a message.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// run executes the CLI and returns the process exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRoot(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	printError(stderr, err)
	return 1
}

// printError writes "Error: ..." and, when known, "Try: ...".
func printError(w io.Writer, err error) {
	var (
		ae   *api.Error
		me   *manifest.Error
		hint string
	)
	switch {
	case errors.As(err, &me):
		// me.Error() has one "FILE:LINE: problem" line per problem.
		file := me.File
		if file == "" {
			file = manifest.FileName
		}
		fmt.Fprintf(w, "Error: %s is not valid:\n", file)
		for line := range strings.SplitSeq(me.Error(), "\n") {
			fmt.Fprintf(w, "  %s\n", line)
		}
		return
	case errors.As(err, &ae):
		fmt.Fprintf(w, "Error: %s\n", ae.Message)
		for _, d := range ae.Details {
			fmt.Fprintf(w, "  %s\n", d)
		}
		hint = ae.Hint
	default:
		msg := err.Error()
		// Errors in this code base put advice after "; Try: ".
		if i := strings.Index(msg, "; Try: "); i >= 0 {
			msg, hint = msg[:i], msg[i+len("; Try: "):]
		}
		var h interface{ Hint() string }
		if hint == "" && errors.As(err, &h) {
			hint = h.Hint()
			// Some errors also end their message with the hint in
			// parentheses; print it once, on the Try line.
			msg = strings.TrimSuffix(msg, " ("+hint+")")
		}
		fmt.Fprintf(w, "Error: %s\n", msg)
	}
	if hint != "" {
		if !strings.Contains(hint, "Try:") {
			hint = "Try: " + hint
		}
		fmt.Fprintln(w, hint)
	}
}

// globals are the flags every client command shares.
type globals struct {
	addr, token string
	stdin       io.Reader
	stdout      io.Writer
	stderr      io.Writer
}

func newRoot(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdin: stdin, stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "mote",
		Short: "mote runs tiny HTTP services compiled to WebAssembly behind a built-in API gateway",
		Long: `mote is a nanoservice platform in one binary. Write a tiny HTTP service in any
language that compiles to WebAssembly, deploy it with 'mote deploy', and mote
serves it behind its gateway, starting instances in well under a millisecond.

Start a node with 'mote up' (or 'mote demo' for one with examples deployed);
every other command talks to a node's admin API, found with --addr or
MOTE_ADDR and authenticated with --token, MOTE_TOKEN or DATA/admin.token.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	pf := root.PersistentFlags()
	pf.StringVar(&g.addr, "addr", "", "admin API base URL (default $MOTE_ADDR, else the local node's, else "+client.DefaultAddr+")")
	pf.StringVar(&g.token, "token", "", "admin token (default $MOTE_TOKEN, else DATA/admin.token)")

	root.AddGroup(&cobra.Group{ID: "node", Title: "Run a node:"},
		&cobra.Group{ID: "services", Title: "Deploy and manage services:"},
		&cobra.Group{ID: "api", Title: "Manage APIs (plans, keys, JWT, lifecycle, analytics):"},
		&cobra.Group{ID: "develop", Title: "Write and run modules:"})
	add := func(group string, cmds ...*cobra.Command) {
		for _, c := range cmds {
			c.GroupID = group
			root.AddCommand(c)
		}
	}
	add("node", upCmd(g), demoCmd(g))
	add("services", deployCmd(g), lsCmd(g), psCmd(g), inspectCmd(g), versionsCmd(g), trafficCmd(g), rollbackCmd(g), scaleCmd(g), logsCmd(g), invokeCmd(g), configCmd(g), rmCmd(g))
	add("services", applyCmd(g))
	add("api", plansCmd(g), keysCmd(g), jwtCmd(g), statsCmd(g), docsCmd(g), lifecycleCmd(g))
	add("develop", newCmd(g), buildCmd(g), runCmd(g))
	root.AddCommand(versionCmd(g))
	return root
}

// client returns an SDK client configured from flags, environment and the
// local node's files.
func (g *globals) client() (*client.Client, error) {
	var opts []client.Option
	addr := g.addr
	if addr == "" && os.Getenv(client.EnvAddr) == "" {
		addr = localNodeAddr(client.DefaultDataDir())
	}
	if addr != "" {
		opts = append(opts, client.WithAddr(addr))
	}
	if g.token != "" {
		opts = append(opts, client.WithToken(g.token))
	}
	opts = append(opts, client.WithUserAgent("mote-cli/"+version))
	return client.FromEnv(opts...)
}
