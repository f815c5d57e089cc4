package oci

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// nsID identifies a namespace: the device and inode of its nsfs file.
type nsID struct{ dev, ino uint64 }

func statNS(f *os.File) (nsID, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return nsID{}, err
	}
	return nsID{uint64(st.Dev), st.Ino}, nil
}

// openNetns opens the network namespace of process pid and checks it is
// not the node's own (a pid reused by a host process would give that).
func (d *Driver) openNetns(pid int) (*os.File, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/net")
	if err != nil {
		return nil, fmt.Errorf("the container's network namespace: %w", err)
	}
	id, err := statNS(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("the container's network namespace: %w", err)
	}
	if id == d.hostNSID {
		f.Close()
		return nil, errors.New("process " + strconv.Itoa(pid) + " is in the node's network namespace, not a container's")
	}
	return f, nil
}

// dialIn connects to the TCP address addr inside the network namespace
// ns. The socket is made on a fresh goroutine locked to its thread while
// the thread is in ns; the thread then returns to the node's namespace, or,
// if it cannot, stays locked so that it ends with the goroutine and no
// other code ever runs in the container's namespace.
func (d *Driver) dialIn(ctx context.Context, ns *os.File, addr string) (net.Conn, error) {
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := d.dialLocked(ctx, ns, addr)
		ch <- result{c, err}
	}()
	res := <-ch
	return res.c, res.err
}

func (d *Driver) dialLocked(ctx context.Context, ns *os.File, addr string) (net.Conn, error) {
	runtime.LockOSThread()
	if err := setns(ns); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("entering the container's network namespace: %w", err)
	}
	var dialer net.Dialer
	c, err := dialer.DialContext(ctx, "tcp", addr)
	if rerr := setns(d.hostNS); rerr != nil {
		// Leave the thread locked: it exits with this goroutine.
		d.logger.Error("oci: a thread could not return to the node's network namespace; it is discarded", "err", rerr)
		return c, err
	}
	runtime.UnlockOSThread()
	return c, err
}

// setns moves the calling thread into the network namespace f. f's
// descriptor is held for the call, so a concurrent Close cannot make it
// name another file.
func setns(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) { serr = unix.Setns(int(fd), unix.CLONE_NEWNET) }); err != nil {
		return err
	}
	return serr
}
