package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/client"
)

func logsCmd(g *globals) *cobra.Command {
	var (
		follow bool
		tail   int
		since  string
		o      output
	)
	cmd := &cobra.Command{
		Use:   "logs NAME",
		Short: "Show a service's logs",
		Long: `Show a service's logs: its guests' stderr, tagged with the request id, and the
node's own lines about it (deploys, guest failures, timeouts).`,
		Example: `  mote logs hello
  mote logs hello -f
  mote logs hello --tail 20 --since 10m`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o != "table" && o != "json" {
				return fmt.Errorf("-o %s: want text or json", string(o))
			}
			opts := client.LogOptions{Follow: follow, Tail: tail}
			if since != "" {
				t, err := parseSince(since)
				if err != nil {
					return err
				}
				opts.Since = t
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			for e, err := range c.Logs(cmd.Context(), args[0], opts) {
				if err != nil {
					return err
				}
				if o == "json" {
					if err := jsonLine(g.stdout, e); err != nil {
						return err
					}
					continue
				}
				fmt.Fprintln(g.stdout, formatLog(e))
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new entries until interrupted")
	cmd.Flags().IntVarP(&tail, "tail", "n", 0, "only the last N entries (0: all retained)")
	cmd.Flags().StringVar(&since, "since", "", "only entries newer than a duration (10m) or an RFC 3339 time")
	cmd.Flags().StringVarP((*string)(&o), "output", "o", "table", "output format: table (text) or json (one entry per line)")
	return cmd
}

func parseSince(s string) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--since %q is neither a duration (10m, 1h30m) nor an RFC 3339 time (2026-01-02T15:04:05Z)", s)
}

// formatLog renders an entry as one line:
// "15:04:05.000 v3 a1b2c3d4 stderr  message".
func formatLog(e api.LogEntry) string {
	req := e.RequestID
	if req == "" {
		req = "-"
	}
	stream := e.Stream
	if e.Level != "" && e.Stream == api.StreamMote {
		stream += "/" + e.Level
	}
	return fmt.Sprintf("%s v%d %s %-10s %s", e.Time.Local().Format("2006-01-02 15:04:05.000"), e.Version, req, stream, e.Message)
}
