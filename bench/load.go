package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"
)

// openLoopRaw offers rate requests/s to rawURL for d over conns keep-alive
// connections, and times each request from when it was released on
// schedule: a request that waits for a free connection counts its wait (no
// coordinated omission).
// It speaks HTTP/1.1 over raw TCP, which costs far less CPU per request
// than net/http's client, so a fast target is not starved by its own load
// generator (the CPUs are shared). header is one "Name: value" line or "".
func openLoopRaw(rawURL, header string, rate float64, d time.Duration, conns int) (LatencyRun, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return LatencyRun{}, err
	}
	path := u.RequestURI()
	req := "GET " + path + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUser-Agent: mote-bench\r\n"
	if header != "" {
		req += header + "\r\n"
	}
	reqBytes := []byte(req + "\r\n")

	total := int(rate * d.Seconds())
	if total < 1 {
		return LatencyRun{}, fmt.Errorf("open loop %s: rate %.1f/s for %s is no request", rawURL, rate, d)
	}
	interval := float64(time.Second) / rate
	due := make(chan time.Time, total)
	lat := make([]time.Duration, 0, total)
	var (
		mu     sync.Mutex
		errs   int
		first  error
		wg     sync.WaitGroup
		starts = make(chan struct{})
	)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var c *rawConn
			mine := make([]time.Duration, 0, total/conns+16)
			<-starts
			for t := range due {
				var err error
				if c == nil {
					c, err = dialRaw(u.Host)
				}
				if err == nil {
					err = c.do(reqBytes)
					if err != nil {
						c.close()
						c = nil
					}
					if errors.Is(err, errRedial) {
						err = nil
					}
				}
				elapsed := time.Since(t)
				if err != nil {
					mu.Lock()
					errs++
					if first == nil {
						first = err
					}
					mu.Unlock()
					continue
				}
				mine = append(mine, elapsed)
			}
			if c != nil {
				c.close()
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	start := time.Now()
	close(starts)
	// Release each request when it is due: batches of whatever came due
	// since the last wake-up, since sleeps are coarser than the interval.
	// A request is timed from its release: Go's timers wake up to a
	// millisecond late when the process idles (netpoll's resolution), and
	// that lateness is the generator's, not the target's. A request that
	// then waits for a free connection counts its wait.
	for i := 0; i < total; {
		now := time.Now()
		since := now.Sub(start)
		for ; i < total && time.Duration(float64(i)*interval) <= since; i++ {
			due <- now
		}
		if i < total {
			next := time.Duration(float64(i) * interval)
			if wait := next - time.Since(start); wait > 50*time.Microsecond {
				time.Sleep(wait)
			}
		}
	}
	close(due)
	wg.Wait()
	wall := time.Since(start)
	run := LatencyRun{Rate: rate, Duration: d, Count: len(lat), Errors: errs, Achieved: float64(len(lat)) / wall.Seconds()}
	if errs > total/100 || len(lat) == 0 {
		return run, fmt.Errorf("open loop %s: %d of %d requests failed, first: %v", rawURL, errs, total, first)
	}
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	run.P50, run.P99, run.P999 = q(0.50), q(0.99), q(0.999)
	run.Quantiles = make([]time.Duration, 1000)
	for i := range run.Quantiles {
		run.Quantiles[i] = q(float64(i+1) / 1000)
	}
	return run, nil
}

// rawConn is one keep-alive HTTP/1.1 connection.
type rawConn struct {
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(host string) (*rawConn, error) {
	c, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &rawConn{c: c, br: bufio.NewReaderSize(c, 16<<10)}, nil
}

func (c *rawConn) close() { c.c.Close() }

var (
	errStatus = errors.New("status not 200")
	// errRedial: the response was served, but the server closes the
	// connection.
	errRedial = errors.New("connection closed by the server")
)

// do sends req and reads the whole response. A response that is not 200,
// or that closes the connection, is an error (the caller redials).
func (c *rawConn) do(req []byte) error {
	_ = c.c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.c.Write(req); err != nil {
		return err
	}
	return readResponse(c.br)
}

// readResponse reads one HTTP/1.1 response from br: its status line,
// headers, and a body framed by Content-Length or chunked encoding.
func readResponse(br *bufio.Reader) error {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return err
	}
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return fmt.Errorf("bad status line %q", line)
	}
	status := string(line[9:12])
	length, chunked, closing := -1, false, false
	for {
		h, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		name, value, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			continue
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil {
				return fmt.Errorf("bad Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			closing = bytes.EqualFold(value, []byte("close"))
		}
	}
	switch {
	case chunked:
		for {
			l, err := br.ReadSlice('\n')
			if err != nil {
				return err
			}
			size, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.SplitN(l, []byte(";"), 2)[0])), 16, 64)
			if err != nil {
				return fmt.Errorf("bad chunk size %q", l)
			}
			if _, err := br.Discard(int(size) + 2); err != nil {
				return err
			}
			if size == 0 {
				break
			}
		}
	case length >= 0:
		if _, err := br.Discard(length); err != nil {
			return err
		}
	default:
		_, _ = io.Copy(io.Discard, br)
		closing = true
	}
	if status != "200" {
		return fmt.Errorf("%w: %s", errStatus, status)
	}
	if closing {
		return errRedial
	}
	return nil
}
