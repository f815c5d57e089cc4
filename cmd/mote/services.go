package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/client"
)

// output is the -o flag of listings: "table" (default) or "json".
type output string

func addOutputFlag(cmd *cobra.Command, o *output) {
	cmd.Flags().StringVarP((*string)(o), "output", "o", "table", "output format: table or json")
}

func (o output) check() error {
	if o != "table" && o != "json" {
		return fmt.Errorf("-o %s: want table or json", string(o))
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func table(w io.Writer, header string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// listing is a command that fetches a list from the node and prints it as
// a table (header and one row per item) or, with -o json, as JSON.
func listing[T any](g *globals, cmd *cobra.Command, header string,
	fetch func(ctx context.Context, c *client.Client, args []string) ([]T, error), row func(T) []string) *cobra.Command {
	var o output
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := o.check(); err != nil {
			return err
		}
		c, err := g.client()
		if err != nil {
			return err
		}
		items, err := fetch(cmd.Context(), c, args)
		if err != nil {
			return err
		}
		if o == "json" {
			return writeJSON(g.stdout, items)
		}
		rows := make([][]string, 0, len(items))
		for _, it := range items {
			rows = append(rows, row(it))
		}
		return table(g.stdout, header, rows)
	}
	addOutputFlag(cmd, &o)
	return cmd
}

func lsCmd(g *globals) *cobra.Command {
	return listing(g, &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List services",
		Example: `  mote ls
  mote ls -o json`,
		Args: cobra.NoArgs,
	}, "NAME\tROUTE\tVERSION\tABI\tUPDATED\tURL",
		func(ctx context.Context, c *client.Client, _ []string) ([]api.Service, error) { return c.Services(ctx) },
		func(s api.Service) []string {
			return []string{s.Name, s.Route, fmt.Sprint(s.Version), s.ABI, ago(s.Updated), s.URL}
		})
}

func psCmd(g *globals) *cobra.Command {
	var o output
	cmd := &cobra.Command{
		Use:   "ps [NAME]",
		Short: "List running instances, of one service or all, by version",
		Long: `List running instances, grouped by service and version (newest first). A WAGI
service runs a fresh instance per request, so its instances are the requests
in flight. With NAME, a summary comes first: each routed or draining version
with its share of the traffic, tag, state and number of instances.`,
		Example: `  mote ps
  mote ps hello
  mote ps hello -o json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			insts, err := c.Instances(ctx, name)
			if err != nil {
				return err
			}
			slices.SortStableFunc(insts, func(a, b api.Instance) int {
				return cmp.Or(strings.Compare(a.Service, b.Service), cmp.Compare(b.Version, a.Version), a.Started.Compare(b.Started))
			})
			if o == "json" {
				return writeJSON(g.stdout, insts)
			}
			if name != "" {
				vs, err := c.Versions(ctx, name)
				if err != nil {
					return err
				}
				count := map[int]int{}
				for _, in := range insts {
					count[in.Version]++
				}
				var rows [][]string
				for _, v := range vs {
					if v.State == api.VersionStandby && count[v.Number] == 0 {
						continue
					}
					rows = append(rows, []string{strconv.Itoa(v.Number), fmt.Sprintf("%d%%", v.Weight), orDash(v.Tag), v.State, strconv.Itoa(count[v.Number])})
				}
				if err := table(g.stdout, "VERSION\tTRAFFIC\tTAG\tSTATE\tINSTANCES", rows); err != nil {
					return err
				}
				fmt.Fprintln(g.stdout)
			}
			rows := make([][]string, 0, len(insts))
			for _, in := range insts {
				rows = append(rows, []string{in.ID, in.Service, fmt.Sprint(in.Version), in.State, age(in.Started), fmt.Sprint(in.Requests), fmt.Sprint(in.Restarts), in.RequestID})
			}
			return table(g.stdout, "ID\tSERVICE\tVERSION\tSTATE\tAGE\tREQUESTS\tRESTARTS\tREQUEST", rows)
		},
	}
	addOutputFlag(cmd, &o)
	return cmd
}

func inspectCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "inspect NAME",
		Short:   "Show one service as JSON: its versions, traffic and instances",
		Example: `  mote inspect hello`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			d, err := c.Service(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return writeJSON(g.stdout, d)
		},
	}
}

func versionsCmd(g *globals) *cobra.Command {
	return listing(g, &cobra.Command{
		Use:   "versions NAME",
		Short: "List a service's versions, newest first, with their traffic and state",
		Long: `List a service's versions, newest first: each one's share of the traffic, tag
and state:

  serving     takes a share of the requests
  tagged      no share, but reachable by its tag (ROUTE@TAG, X-Mote-Tag)
  standby     not routed; 'mote traffic' or 'mote rollback' can route it
  unhealthy   routed, but its instances keep failing
  draining    just left the split; finishing the requests it started`,
		Example: `  mote versions hello
  mote versions hello -o json`,
		Args: cobra.ExactArgs(1),
	}, "VERSION\tTRAFFIC\tTAG\tSTATE\tDIGEST\tABI\tSIZE\tCREATED",
		func(ctx context.Context, c *client.Client, args []string) ([]api.VersionStatus, error) {
			return c.Versions(ctx, args[0])
		},
		func(v api.VersionStatus) []string {
			return []string{strconv.Itoa(v.Number), fmt.Sprintf("%d%%", v.Weight), orDash(v.Tag), v.State,
				shortDigest(v.Digest), v.ABI, humanBytes(v.Size), ago(v.Created)}
		})
}

func rmCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "rm NAME...",
		Aliases: []string{"remove"},
		Short:   "Remove services, their versions, configuration and logs",
		Long:    `Remove services. Requests in flight finish; new ones get 404.`,
		Example: `  mote rm hello`,
		Args:    cobra.MinimumNArgs(1),
		RunE:    removeEach(g, "Removed %s", (*client.Client).DeleteService),
	}
}

func shortDigest(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	if len(d) > 12 {
		d = d[:12]
	}
	return d
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// ago renders a past time like docker does: "3 minutes ago".
func ago(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	if a := age(t); a != "now" {
		return a + " ago"
	}
	return "just now"
}

func age(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Second:
		return "now"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// removeEach returns a RunE that removes each argument with del, printing
// format (with the argument) for each, and stops at the first failure.
func removeEach(g *globals, format string, del func(*client.Client, context.Context, string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		c, err := g.client()
		if err != nil {
			return err
		}
		for _, arg := range args {
			if err := del(c, cmd.Context(), arg); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, format+"\n", arg)
		}
		return nil
	}
}
