package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mote-run/mote/internal/sandbox"
	"github.com/mote-run/mote/internal/sandbox/wasm"
)

func runCmd(g *globals) *cobra.Command {
	var (
		envs   []string
		dirs   []string
		memory string
	)
	cmd := &cobra.Command{
		Use:   "run MODULE.wasm [-- ARGS...]",
		Short: "Run a WASI command once, in the same sandbox as services",
		Long: `Run a WASI (preview 1) command once, like 'wasmtime run', with stdin, stdout and
stderr connected, and exit with the module's exit code. The module gets only
what is granted: the --env variables (nothing of the host's environment) and
the --dir directories, each jailed so that ".." and symlinks cannot leave it.`,
		Example: `  mote run tool.wasm -- --help
  mote run tool.wasm --env GREETING=hi --dir ./data:/data -- /data/in.txt
  mote run tool.wasm --dir ./assets:/assets:ro`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			module, err := os.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("read module: %w", err)
			}
			opts := wasm.RunOptions{
				Name: filepath.Base(args[0]), Args: args[1:], Env: envs,
				Stdin: g.stdin, Stdout: g.stdout, Stderr: g.stderr,
			}
			for _, e := range envs {
				if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
					return fmt.Errorf("--env %q: want KEY=VALUE", e)
				}
			}
			for _, d := range dirs {
				m, err := parseMount(d)
				if err != nil {
					return err
				}
				opts.Mounts = append(opts.Mounts, m)
			}
			if memory != "" {
				size, err := parseMemory(memory)
				if err != nil {
					return err
				}
				opts.MemoryLimit = size
			}
			d, err := wasm.New(wasm.Options{})
			if err != nil {
				return err
			}
			defer d.Close(cmd.Context())
			code, err := d.Run(cmd.Context(), module, opts)
			if err != nil {
				if errors.Is(err, sandbox.ErrInvalidModule) {
					return fmt.Errorf("%s: %w", args[0], err)
				}
				var ge *sandbox.GuestError
				if errors.As(err, &ge) {
					fmt.Fprintf(g.stderr, "mote: %s trapped: %s\n", args[0], ge.Detail)
					return exitError{code: int(code)}
				}
				return err
			}
			if code != 0 {
				return exitError{code: int(code)}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&envs, "env", nil, "set a variable KEY=VALUE in the module's environment (repeatable)")
	fl.StringArrayVar(&dirs, "dir", nil, "grant a host directory: HOSTDIR[:GUESTDIR][:ro] (repeatable; GUESTDIR defaults to HOSTDIR)")
	fl.StringVar(&memory, "memory", "", "cap the module's memory, e.g. 256MiB (default 4GiB)")
	return cmd
}

// parseMount reads HOSTDIR[:GUESTDIR][:ro].
func parseMount(s string) (wasm.Mount, error) {
	parts := strings.Split(s, ":")
	m := wasm.Mount{}
	if n := len(parts); n > 1 && (parts[n-1] == "ro" || parts[n-1] == "rw") {
		m.ReadOnly = parts[n-1] == "ro"
		parts = parts[:n-1]
	}
	switch len(parts) {
	case 1:
		m.HostDir, m.GuestDir = parts[0], parts[0]
	case 2:
		m.HostDir, m.GuestDir = parts[0], parts[1]
	default:
		return m, fmt.Errorf("--dir %q: want HOSTDIR[:GUESTDIR][:ro]", s)
	}
	if m.HostDir == "" || m.GuestDir == "" {
		return m, fmt.Errorf("--dir %q: want HOSTDIR[:GUESTDIR][:ro]", s)
	}
	info, err := os.Stat(m.HostDir)
	if err != nil {
		return m, fmt.Errorf("--dir %q: %w", s, err)
	}
	if !info.IsDir() {
		return m, fmt.Errorf("--dir %q: %s is not a directory", s, m.HostDir)
	}
	if !strings.HasPrefix(m.GuestDir, "/") {
		m.GuestDir = "/" + m.GuestDir
	}
	return m, nil
}
