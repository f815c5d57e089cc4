package main

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/spf13/cobra"
)

func versionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the client's and, if reachable, the node's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(g.stdout, "Client: mote %s (%s, %s/%s)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			c, err := g.client()
			if err != nil {
				return nil
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Second)
			defer cancel()
			info, err := c.Info(ctx)
			if err != nil {
				fmt.Fprintf(g.stdout, "Node:   not reachable at %s\n", c.Addr())
				return nil
			}
			fmt.Fprintf(g.stdout, "Node:   mote %s at %s (gateway %s)\n", info.Version, info.AdminURL, info.GatewayURL)
			return nil
		},
	}
}
