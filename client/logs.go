package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/mote-run/mote/api"
)

// maxLogLine bounds one NDJSON line of a log stream.
const maxLogLine = 4 << 20

// LogOptions selects the lines Logs returns. The zero value asks for the
// node's default selection, without following.
type LogOptions struct {
	// Tail returns only the last Tail lines; 0 (or less) means the node's
	// default.
	Tail int
	// Since skips lines older than Since; the zero time means no bound.
	Since time.Time
	// Follow keeps the stream open and returns new lines as they are
	// written, until the context is done.
	Follow bool
}

// Logs streams a service's log lines, oldest first. Each iteration sends
// one request and ranges over the NDJSON answer as it arrives; breaking out
// of the loop closes it.
//
// The sequence ends without an error when the node closes the stream or
// ctx is done, so cancelling ctx is how to stop following. A failed request
// (unknown service, unreachable node) yields one error and ends. A line
// that is not a log entry yields an error and the stream goes on with the
// next line if the loop continues.
//
//	for e, err := range c.Logs(ctx, "hello", client.LogOptions{Tail: 50, Follow: true}) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(e.Time.Format(time.TimeOnly), e.Stream, e.Message)
//	}
func (c *Client) Logs(ctx context.Context, name string, opts LogOptions) iter.Seq2[api.LogEntry, error] {
	return func(yield func(api.LogEntry, error) bool) {
		p, err := servicePath(name, "/logs")
		if err != nil {
			yield(api.LogEntry{}, err)
			return
		}
		q := url.Values{}
		if opts.Tail > 0 {
			q.Set("tail", strconv.Itoa(opts.Tail))
		}
		if !opts.Since.IsZero() {
			q.Set("since", opts.Since.UTC().Format(time.RFC3339Nano))
		}
		if opts.Follow {
			q.Set("follow", "true")
		}
		resp, err := c.call(ctx, request{method: http.MethodGet, path: p, query: q, accept: "application/x-ndjson"})
		if err != nil {
			if ctx.Err() == nil {
				yield(api.LogEntry{}, err)
			}
			return
		}
		defer resp.Body.Close() // no draining: a followed stream never ends
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 0, 64<<10), maxLogLine)
		for sc.Scan() {
			line := bytes.TrimSpace(sc.Bytes())
			if len(line) == 0 {
				continue
			}
			var e api.LogEntry
			if err := json.Unmarshal(line, &e); err != nil {
				if !yield(api.LogEntry{}, fmt.Errorf("client: logs of %s: a line is not a log entry: %w", name, err)) {
					return
				}
				continue
			}
			if !yield(e, nil) {
				return
			}
		}
		if err := sc.Err(); err != nil && ctx.Err() == nil {
			yield(api.LogEntry{}, fmt.Errorf("client: logs of %s: %w", name, err))
		}
	}
}
