package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mote-run/mote/client"
)

func invokeCmd(g *globals) *cobra.Command {
	var (
		method  string
		data    string
		headers []string
		include bool
	)
	cmd := &cobra.Command{
		Use:   "invoke NAME [PATH]",
		Short: "Send a request to a service and print its response",
		Long: `Send an HTTP request to a service through the node's admin API, as if it had
come through the gateway at the service's route followed by PATH, and print the
response body. The exit status is 1 when the response status is 400 or more.`,
		Example: `  mote invoke hello /world
  mote invoke echo-go '/path?x=1' -X POST -d 'hello' -H 'Content-Type: text/plain'
  mote invoke echo-go -d @body.json -i`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := client.InvokeRequest{Method: method, Header: http.Header{}}
			if len(args) == 2 {
				req.Path = args[1]
			}
			for _, h := range headers {
				k, v, ok := strings.Cut(h, ":")
				if !ok || strings.TrimSpace(k) == "" {
					return fmt.Errorf("-H %q: want 'Name: value'", h)
				}
				req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
			}
			if cmd.Flags().Changed("data") {
				body, err := readData(g, data)
				if err != nil {
					return err
				}
				req.Body = bytes.NewReader(body)
				if req.Method == "" {
					req.Method = http.MethodPost
				}
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			resp, err := c.Invoke(cmd.Context(), args[0], req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if e := client.ResponseError(resp); e != nil {
				return e
			}
			if include {
				fmt.Fprintf(g.stdout, "%s %s\n", resp.Proto, resp.Status)
				keys := make([]string, 0, len(resp.Header))
				for k := range resp.Header {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					for _, v := range resp.Header[k] {
						fmt.Fprintf(g.stdout, "%s: %s\n", k, v)
					}
				}
				fmt.Fprintln(g.stdout)
			}
			if _, err := io.Copy(g.stdout, resp.Body); err != nil {
				return err
			}
			if resp.StatusCode >= 400 {
				fmt.Fprintf(g.stderr, "mote: the service answered %s (request %s)\n", resp.Status, resp.Header.Get("X-Request-Id"))
				return exitError{code: 1}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&method, "request", "X", "", "HTTP method (default GET, or POST with -d)")
	fl.StringVarP(&data, "data", "d", "", "request body; @FILE reads a file, @- reads stdin")
	fl.StringArrayVarP(&headers, "header", "H", nil, "request header 'Name: value' (repeatable)")
	fl.BoolVarP(&include, "include", "i", false, "print the status line and headers too")
	return cmd
}

func readData(g *globals, data string) ([]byte, error) {
	name, ok := strings.CutPrefix(data, "@")
	switch {
	case !ok:
		return []byte(data), nil
	case name == "-":
		return io.ReadAll(g.stdin)
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("-d @%s: %w", name, err)
	}
	return b, nil
}

func jsonLine(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}
