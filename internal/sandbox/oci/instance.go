package oci

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/sandbox"
)

// Restart backoff: the first restart waits minBackoff, each next one twice
// as long up to maxBackoff; a process that ran for resetBackoff starts the
// count again.
const (
	minBackoff   = time.Second
	maxBackoff   = 60 * time.Second
	resetBackoff = 60 * time.Second
)

// Polling for the pid file and for the port: the first wait is pollFirst,
// each next one twice as long up to the cap.
const (
	pollFirst   = 200 * time.Microsecond
	pollPidCap  = 5 * time.Millisecond
	pollPortCap = 20 * time.Millisecond
)

// maxLine is the longest log line; the rest of a longer line is dropped.
const maxLine = 16 << 10

// killWait bounds the wait for a process after SIGKILL before the driver
// kills runc itself.
const killWait = 10 * time.Second

// Why a start or a poll ended early.
var (
	errExited  = errors.New("the process exited")
	errStopped = errors.New("the instance was stopped")
	errPollEnd = errors.New("deadline passed")
)

// process is one run of an instance's container: `runc run` in the
// foreground.
type process struct {
	cmd       *exec.Cmd
	began     time.Time
	netns     *os.File
	transport *http.Transport
	exited    chan struct{} // closed when runc run exited; code is set before
	code      int           // runc run's exit status: the container's (128+n for signal n)
	ctx       context.Context
	cancel    context.CancelFunc // called after exited is closed
}

// hasExited reports whether p's process has exited.
func (p *process) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// supervise runs inst's process until the instance is stopped: it starts
// the process, waits for it to exit or for the stop, restarts it after a
// backoff when it exited unexpectedly and is still wanted, and removes the
// container and its bundle at the end.
func (r *runner) supervise(inst *instance) {
	defer r.wg.Done()
	defer r.cleanup(inst)
	var backoff time.Duration
	for {
		r.mu.Lock()
		a := inst.attempt
		r.mu.Unlock()
		p, err := r.startProcess(inst)
		r.mu.Lock()
		a.proc, a.err = p, err
		if errors.Is(err, errStopped) {
			a.err = fmt.Errorf("%w: the instance was stopped while it started", sandbox.ErrClosed)
		}
		if err == nil && inst.phase == phaseStarting {
			inst.phase, inst.proc, inst.started, inst.lastUsed = phaseReady, p, p.began, time.Now()
		}
		close(a.done)
		r.mu.Unlock()

		if err == nil {
			r.health.ok()
			logf(&r.spec, "info", "instance %d: container %s started in %s", inst.seq, inst.id, time.Since(p.began).Round(time.Millisecond))
			select {
			case <-p.exited:
				logf(&r.spec, "error", "instance %d: the process exited with %s", inst.seq, describeStatus(p.code))
				r.closeProcess(p)
			case <-inst.stopping:
				r.stopProcess(inst, p)
				return
			}
		} else if errors.Is(err, errStopped) {
			return
		} else {
			r.health.failed(err)
			logf(&r.spec, "error", "instance %d: %s", inst.seq, errorDetail(err))
		}

		r.mu.Lock()
		if inst.phase == phaseStopping {
			r.mu.Unlock()
			return
		}
		if !r.wantedLocked() {
			r.stopLocked(inst)
			r.grantLocked()
			r.mu.Unlock()
			logf(&r.spec, "info", "instance %d is not restarted: no more instances are needed", inst.seq)
			return
		}
		if p != nil && time.Since(p.began) >= resetBackoff {
			backoff = 0
		}
		backoff = min(max(2*backoff, minBackoff), maxBackoff)
		inst.phase, inst.proc = phaseRestarting, nil
		r.mu.Unlock()
		logf(&r.spec, "warn", "instance %d: restarting in %s", inst.seq, backoff)

		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-inst.stopping:
			t.Stop()
			return
		}
		r.mu.Lock()
		if inst.phase == phaseStopping {
			r.mu.Unlock()
			return
		}
		inst.phase, inst.started = phaseStarting, time.Now()
		inst.restarts++
		inst.attempt = &attempt{done: make(chan struct{})}
		r.mu.Unlock()
	}
}

// startProcess starts inst's container and waits until its process accepts
// connections on the port, within StartTimeout. A failed start leaves no
// container behind; its error is a *sandbox.GuestError of Kind "start", or
// errStopped when the instance was stopped meanwhile.
func (r *runner) startProcess(inst *instance) (*process, error) {
	began := time.Now()
	deadline := began.Add(r.c.StartTimeout)
	if err := r.writeBundle(inst); err != nil {
		return nil, &sandbox.GuestError{Kind: "start", Detail: err.Error()}
	}
	if _, err := os.Stat(filepath.Join(r.d.runc.root, inst.id)); err == nil {
		// A previous run of this instance that runc did not delete.
		ctx, cancel := context.WithTimeout(context.Background(), killWait)
		_ = r.d.runc.forceDelete(ctx, inst.id)
		cancel()
	}
	pidFile := filepath.Join(inst.bundle, "pid")
	_ = os.Remove(pidFile)
	p, err := r.launch(inst.id, inst.bundle, pidFile)
	if err != nil {
		return nil, &sandbox.GuestError{Kind: "start", Detail: err.Error()}
	}
	p.began = began
	fail := func(err error) (*process, error) {
		if !errors.Is(err, errStopped) && !errors.Is(err, errExited) {
			// A process that exits early fails the steps after its pid file
			// (its network namespace is gone): say that it exited.
			t := time.NewTimer(exitWait)
			select {
			case <-p.exited:
				err = errExited
			case <-t.C:
			}
			t.Stop()
		}
		r.forceStop(inst.id, p)
		switch {
		case errors.Is(err, errStopped):
			return nil, errStopped
		case errors.Is(err, errExited):
			return nil, &sandbox.GuestError{Kind: "start", ExitCode: uint32(max(p.code, 0)),
				Detail: fmt.Sprintf("the process exited with %s before it listened on %s (see its stderr)", describeStatus(p.code), r.addr)}
		case errors.Is(err, errPollEnd):
			return nil, &sandbox.GuestError{Kind: "start",
				Detail: fmt.Sprintf("the process did not listen on %s within %s ([container] start timeout); make it serve on $PORT", r.addr, r.c.StartTimeout)}
		}
		return nil, &sandbox.GuestError{Kind: "start", Detail: err.Error()}
	}
	pid, err := waitPid(pidFile, deadline, pollPidCap, p.exited, inst.stopping)
	if err != nil {
		return fail(err)
	}
	if p.netns, err = r.d.openNetns(pid); err != nil {
		return fail(err)
	}
	p.transport = r.newTransport(p)
	if err := r.waitListening(p, deadline, inst.stopping); err != nil {
		return fail(err)
	}
	return p, nil
}

// writeBundle writes inst's bundle (config.json and the hosts file) if it
// is not there yet.
func (r *runner) writeBundle(inst *instance) error {
	cfg := filepath.Join(inst.bundle, "config.json")
	if _, err := os.Stat(cfg); err == nil {
		return nil
	}
	if err := os.MkdirAll(inst.bundle, 0o711); err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	hosts := filepath.Join(inst.bundle, "hosts")
	if err := os.WriteFile(hosts, []byte(hostsFile(r.spec.Service)), 0o644); err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	b, err := json.Marshal(Spec(r.spec, inst.id, hosts))
	if err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	if err := os.WriteFile(cfg, b, 0o600); err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	return nil
}

// launch starts `runc run` for the container id in the background, its
// stdout and stderr going to the version's logs.
func (r *runner) launch(id, bundle, pidFile string) (*process, error) {
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, err
	}
	cmd := r.d.runc.command(context.Background(), "run", "--bundle", bundle, "--pid-file", pidFile, id)
	cmd.Stdout, cmd.Stderr = outW, errW
	// Its own process group: a ^C meant for the node is not forwarded to
	// the container by runc.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, fmt.Errorf("starting runc: %w", err)
	}
	p := &process{cmd: cmd, began: time.Now(), exited: make(chan struct{})}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	r.wg.Add(2)
	go r.pump(outR, api.StreamStdout)
	go r.pump(errR, api.StreamStderr)
	go func() {
		_ = cmd.Wait()
		p.code = cmd.ProcessState.ExitCode()
		close(p.exited)
		p.cancel()
	}()
	return p, nil
}

// waitPid polls pidFile until it names a process, deadline passes
// (errPollEnd) or a channel is closed (errExited, errStopped).
func waitPid(pidFile string, deadline time.Time, every time.Duration, exited, stopping <-chan struct{}) (int, error) {
	pid := 0
	err := poll(deadline, every, exited, stopping, func() bool {
		b, err := os.ReadFile(pidFile)
		if err != nil {
			return false
		}
		n, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || n <= 0 {
			return false
		}
		pid = n
		return true
	})
	return pid, err
}

// waitListening polls the port inside p's network namespace until a
// connection succeeds.
func (r *runner) waitListening(p *process, deadline time.Time, stopping <-chan struct{}) error {
	return poll(deadline, pollPortCap, p.exited, stopping, func() bool {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		defer cancel()
		c, err := r.d.dialIn(ctx, p.netns, r.addr)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
}

// poll calls try until it reports true: at once, then after pollFirst,
// doubling the wait up to every. It gives up with errPollEnd after
// deadline, errExited when exited is closed, errStopped when stopping is.
func poll(deadline time.Time, every time.Duration, exited, stopping <-chan struct{}, try func() bool) error {
	wait := pollFirst
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-exited:
			return errExited
		case <-stopping:
			return errStopped
		default:
		}
		if try() {
			return nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return errPollEnd
		}
		t.Reset(min(wait, left))
		wait = min(2*wait, every)
		select {
		case <-exited:
			return errExited
		case <-stopping:
			return errStopped
		case <-t.C:
		}
	}
}

// stopProcess stops p for good: SIGTERM, SIGKILL after the grace (at once
// when the runner is closing past its ctx), then waits for it.
func (r *runner) stopProcess(inst *instance, p *process) {
	ctx, cancel := context.WithTimeout(context.Background(), killWait)
	defer cancel()
	select {
	case <-r.hurry:
	default:
		if err := r.d.runc.kill(ctx, inst.id, "TERM"); err == nil {
			t := time.NewTimer(r.c.Grace)
			select {
			case <-p.exited:
			case <-t.C:
				logf(&r.spec, "warn", "instance %d: still running %s after SIGTERM ([container] grace): killed", inst.seq, r.c.Grace)
			case <-r.hurry:
			}
			t.Stop()
		}
	}
	r.forceStop(inst.id, p)
}

// forceStop kills p's container unless it has exited, and waits for runc
// run to end (killing it too after killWait).
func (r *runner) forceStop(id string, p *process) {
	select {
	case <-p.exited:
	default:
		ctx, cancel := context.WithTimeout(context.Background(), killWait)
		_ = r.d.runc.kill(ctx, id, "KILL")
		cancel()
		t := time.NewTimer(killWait)
		select {
		case <-p.exited:
		case <-t.C:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		t.Stop()
	}
	r.closeProcess(p)
}

// closeProcess releases what the driver holds of an exited process.
func (r *runner) closeProcess(p *process) {
	if p.transport != nil {
		p.transport.CloseIdleConnections()
	}
	if p.netns != nil {
		p.netns.Close()
	}
}

// cleanup removes what is left of a stopped instance: its container (if
// runc run did not delete it) and its bundle.
func (r *runner) cleanup(inst *instance) {
	if _, err := os.Stat(filepath.Join(r.d.runc.root, inst.id)); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), killWait)
		if err := r.d.runc.forceDelete(ctx, inst.id); err != nil {
			r.d.logger.Warn("oci: deleting a stopped container", "id", inst.id, "err", err)
		}
		cancel()
	}
	if err := os.RemoveAll(inst.bundle); err != nil {
		r.d.logger.Warn("oci: removing a bundle", "dir", inst.bundle, "err", err)
	}
}

// pump sends each line read from rd to the version's logs on stream, cut
// at maxLine bytes, until EOF.
func (r *runner) pump(rd io.ReadCloser, stream string) {
	defer r.wg.Done()
	defer rd.Close()
	readLines(rd, func(line []byte) {
		r.spec.Logs.Log(api.LogEntry{
			Time: time.Now(), Service: r.spec.Service, Version: r.spec.Version, Stream: stream,
			Message: strings.ToValidUTF8(string(line), "\uFFFD"),
		})
	})
}

// readLines calls emit with each line of rd (without its "\n" or "\r\n"),
// the first maxLine bytes of a longer one, until EOF or an error. A last
// line without a newline is emitted too.
func readLines(rd io.Reader, emit func([]byte)) {
	br := bufio.NewReaderSize(rd, maxLine)
	skipping := false
	for {
		line, err := br.ReadSlice('\n')
		if !skipping && len(line) > 0 {
			line = trimEOL(line)
			emit(line)
		}
		skipping = errors.Is(err, bufio.ErrBufferFull)
		if err != nil && !skipping {
			return
		}
	}
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}

// describeStatus names an exit status of runc run: the container's own,
// or 128+n when signal n ended it.
func describeStatus(code int) string {
	switch {
	case code < 0:
		return "runc killed"
	case code == 128+int(syscall.SIGKILL):
		return "status 137 (SIGKILL: out of memory ([limits] memory), or killed)"
	case code > 128 && code < 128+65:
		return fmt.Sprintf("status %d (signal %s)", code, syscall.Signal(code-128))
	}
	return "status " + strconv.Itoa(code)
}

// errorDetail is err's description for a log line.
func errorDetail(err error) string {
	var ge *sandbox.GuestError
	if errors.As(err, &ge) {
		return "start failed: " + ge.Detail
	}
	return err.Error()
}
