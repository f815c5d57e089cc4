package main

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"

	"github.com/spf13/cobra"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/client"
	"github.com/mote-run/mote/internal/builder"
	"github.com/mote-run/mote/internal/manifest"
)

func deployCmd(g *globals) *cobra.Command {
	var (
		noBuild, noTraffic bool
		tag                string
	)
	cmd := &cobra.Command{
		Use:   "deploy [PATH]",
		Short: "Deploy a service: build if needed, upload, serve",
		Long: `Deploy the service defined by PATH (a directory holding mote.toml, or the file;
default "."). The manifest is checked first, with every problem reported by line.
If the module is missing or older than its sources, [build] runs. Then the
module and package files are uploaded (only those the node lacks), a new
version is made, and all of the service's traffic switches to it (versions
that had a share finish the requests they started). Deploying the same content
again reports "unchanged" and makes no version.

With --no-traffic the new version takes no requests and the traffic split
stays as it was; --tag gives the version a tag, so it can be tried at
ROUTE@TAG (or with the header X-Mote-Tag: TAG) before 'mote traffic' gives it
a share.`,
		Example: `  mote deploy
  mote deploy examples/hello-c
  mote deploy ./svc/mote.toml --no-build
  mote deploy --no-traffic --tag canary`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "."
			if len(args) == 1 {
				path = args[0]
			}
			var opts []client.DeployOption
			if noTraffic {
				opts = append(opts, client.NoTraffic())
			}
			if tag != "" {
				if err := api.CheckTag(tag); err != nil {
					return fmt.Errorf("--tag: %s", err.(*api.Error).Message)
				}
				opts = append(opts, client.Tag(tag))
			}
			return deploy(cmd.Context(), g, path, !noBuild, opts...)
		},
	}
	cmd.Flags().BoolVar(&noBuild, "no-build", false, "never run [build], even when the module is missing or stale")
	cmd.Flags().BoolVar(&noTraffic, "no-traffic", false, "keep the traffic split: the new version takes no requests")
	cmd.Flags().StringVar(&tag, "tag", "", "tag the new version: it is served at ROUTE@TAG and with X-Mote-Tag: TAG")
	return cmd
}

func deploy(ctx context.Context, g *globals, path string, allowBuild bool, opts ...client.DeployOption) error {
	s, err := loadService(path)
	if err != nil {
		return err
	}
	if allowBuild {
		if err := s.buildIfStale(ctx, g.stderr); err != nil {
			return err
		}
	}
	pkg, err := s.pack(ctx, g)
	if err != nil {
		return err
	}
	c, err := g.client()
	if err != nil {
		return err
	}
	var uploaded atomic.Int64
	opts = append(opts, client.OnBlob(func(b client.BlobEvent) {
		if b.Uploaded {
			uploaded.Add(b.Size)
		}
	}))
	res, err := c.Deploy(ctx, pkg, opts...)
	if err != nil {
		return err
	}
	svc, n := res.Service, res.Version.Number
	tag := tagOf(svc.Traffic, n)
	if res.Unchanged {
		fmt.Fprintf(g.stdout, "%s is unchanged: version %d already has this artifact\n", svc.Name, n)
	} else {
		fmt.Fprintf(g.stdout, "Deployed %s version %d (%s, %s uploaded)", svc.Name, n, shortDigest(res.Version.Digest), humanBytes(uploaded.Load()))
		if w := weightOf(svc.Traffic, n); w < 100 {
			fmt.Fprintf(g.stdout, " with %d%% of the traffic", w)
		}
		fmt.Fprintln(g.stdout)
	}
	switch {
	case tag != "" && svc.URL != "":
		fmt.Fprintf(g.stdout, "  %s (tagged %s: %s)\n", svc.URL, tag, tagURL(svc.URL, tag))
	case svc.URL != "":
		fmt.Fprintf(g.stdout, "  %s\n", svc.URL)
	}
	return nil
}

// manifestPath is the manifest file Load read.
func manifestPath(arg, dir string) string {
	if info, err := os.Stat(arg); err == nil && !info.IsDir() {
		return arg
	}
	return dir + string(os.PathSeparator) + manifest.FileName
}

func buildCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "build [PATH]",
		Short: "Run a service's [build] command",
		Long: `Run the [build] command of the service at PATH (a directory holding mote.toml,
or the file; default ".") in the manifest's directory, and check that it
produced the module. 'mote deploy' does this by itself when the module is
missing or older than its sources.`,
		Example: `  mote build
  mote build examples/hello-c`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "."
			if len(args) == 1 {
				path = args[0]
			}
			m, dir, err := manifest.Load(path)
			if err != nil {
				return err
			}
			if err := builder.Run(cmd.Context(), dir, m, g.stdout, g.stderr); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "Built %s\n", m.Wasm.Module)
			return nil
		},
	}
}
