package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
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

func lsCmd(g *globals) *cobra.Command {
	var o output
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List services",
		Example: `  mote ls
  mote ls -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.check(); err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			svcs, err := c.Services(cmd.Context())
			if err != nil {
				return err
			}
			if o == "json" {
				return writeJSON(g.stdout, svcs)
			}
			rows := make([][]string, 0, len(svcs))
			for _, s := range svcs {
				rows = append(rows, []string{s.Name, s.Route, fmt.Sprint(s.Version), s.ABI, ago(s.Updated), s.URL})
			}
			return table(g.stdout, "NAME\tROUTE\tVERSION\tABI\tUPDATED\tURL", rows)
		},
	}
	addOutputFlag(cmd, &o)
	return cmd
}

func psCmd(g *globals) *cobra.Command {
	var o output
	cmd := &cobra.Command{
		Use:   "ps [NAME]",
		Short: "List running instances, of one service or all",
		Long: `List running instances. A WAGI service runs a fresh instance per request, so
its instances are the requests in flight.`,
		Example: `  mote ps
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
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			insts, err := c.Instances(cmd.Context(), name)
			if err != nil {
				return err
			}
			if o == "json" {
				return writeJSON(g.stdout, insts)
			}
			rows := make([][]string, 0, len(insts))
			for _, in := range insts {
				rows = append(rows, []string{in.ID, in.Service, fmt.Sprint(in.Version), in.State, age(in.Started), fmt.Sprint(in.Requests), in.RequestID})
			}
			return table(g.stdout, "ID\tSERVICE\tVERSION\tSTATE\tAGE\tREQUESTS\tREQUEST", rows)
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
	var o output
	cmd := &cobra.Command{
		Use:     "versions NAME",
		Short:   "List a service's versions, newest first",
		Example: `  mote versions hello`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			d, err := c.Service(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if o == "json" {
				return writeJSON(g.stdout, d.Versions)
			}
			weight := map[int]int{}
			for _, t := range d.Traffic {
				weight[t.Version] = t.Weight
			}
			rows := make([][]string, 0, len(d.Versions))
			for _, v := range d.Versions {
				rows = append(rows, []string{fmt.Sprint(v.Number), fmt.Sprintf("%d%%", weight[v.Number]), shortDigest(v.Digest), v.ABI, humanBytes(v.Size), ago(v.Created)})
			}
			return table(g.stdout, "VERSION\tTRAFFIC\tDIGEST\tABI\tSIZE\tCREATED", rows)
		},
	}
	addOutputFlag(cmd, &o)
	return cmd
}

func rmCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "rm NAME...",
		Aliases: []string{"remove"},
		Short:   "Remove services, their versions and their logs",
		Long:    `Remove services. Requests in flight finish; new ones get 404.`,
		Example: `  mote rm hello`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			for _, name := range args {
				if err := c.DeleteService(cmd.Context(), name); err != nil {
					return err
				}
				fmt.Fprintf(g.stdout, "Removed %s\n", name)
			}
			return nil
		},
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
