package crashtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mote-run/mote/api"
	"github.com/mote-run/mote/internal/ratelimit"
)

// quotaBucket is the store's KV bucket of quota counters (package store's
// quotaBucket), read over NATS to see what the node flushed.
const quotaBucket = "mote_quota"

// freeAddr returns a loopback address with a port nothing listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// storedCount reads a quota counter from the node's store over NATS; -1
// when it is absent.
func storedCount(ctx context.Context, natsAddr, counter string) (int, error) {
	st, err := readCounter(ctx, natsAddr, counter)
	return st.value, err
}

// counterState is a quota counter as the store holds it.
type counterState struct {
	value int    // -1 when absent
	rev   uint64 // the KV entry's revision
	// lastSeq is the stream's last message for the counter's subject,
	// which a KV update must name: it equals rev in a healthy store.
	lastSeq uint64
}

func (s counterState) String() string {
	return fmt.Sprintf("%d (revision %d, the stream's last message for it %d)", s.value, s.rev, s.lastSeq)
}

// readCounter reads a quota counter from the node's store over NATS.
func readCounter(ctx context.Context, natsAddr, counter string) (counterState, error) {
	st := counterState{value: -1}
	nc, err := nats.Connect("nats://"+natsAddr, nats.Timeout(2*time.Second))
	if err != nil {
		return st, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return st, err
	}
	kv, err := js.KeyValue(ctx, quotaBucket)
	if err != nil {
		return st, err
	}
	// Batched (ratelimit.EntryKey), else the counter's own entry.
	key, member := ratelimit.EntryKey(counter), counter[:strings.IndexByte(counter, '.')]
	e, err := kv.Get(ctx, key)
	if err == nil {
		var v struct {
			Counts map[string]int `json:"counts"`
		}
		if err := json.Unmarshal(e.Value(), &v); err != nil {
			return st, err
		}
		n, ok := v.Counts[member]
		if !ok {
			err = jetstream.ErrKeyNotFound
		}
		st.value = n
	}
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		key = counter
		e, err = kv.Get(ctx, key)
		if err == nil {
			_, err = fmt.Sscan(string(e.Value()), &st.value)
		}
	}
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return counterState{value: -1}, nil
		}
		return st, err
	}
	st.rev = e.Revision()
	stream, err := js.Stream(ctx, "KV_"+quotaBucket)
	if err != nil {
		return st, err
	}
	m, err := stream.GetLastMsgForSubject(ctx, "$KV."+quotaBucket+"."+key)
	if err != nil {
		return st, err
	}
	st.lastSeq = m.Sequence
	return st, nil
}

// TestFlushedQuotaSurvivesKill uses up a key's quota in two flushes (one
// request, then the rest), waits until the store holds the full count,
// SIGKILLs the node and checks that the restarted node still refuses the
// key, and what its store holds.
func TestFlushedQuotaSurvivesKill(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("crash safety is tested with SIGKILL on Unix")
	}
	bin, dir := moteBinary(t), t.TempDir()
	natsAddr := freeAddr(t)
	n := startNode(t, bin, dir, "--nats", natsAddr)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	r := &run{node: n, l: newLedger()}
	ex := mustExample(t, "hello-c")
	if _, err := n.admin.Deploy(ctx, exampleFor(ex, keyedService, "quota", true)); err != nil {
		t.Fatal(err)
	}
	if _, err := n.admin.CreatePlan(ctx, api.Plan{Name: tinyPlan, Quota: fmt.Sprintf("%d/day", tinyQuota)}); err != nil {
		t.Fatal(err)
	}
	k, err := n.admin.CreateKey(ctx, api.KeyRequest{App: "crash-tiny", Plan: tinyPlan})
	if err != nil {
		t.Fatal(err)
	}
	counter := k.ID + "." + time.Now().UTC().Format(time.DateOnly)
	waitStored := func(want int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			got, err := storedCount(ctx, natsAddr, counter)
			if err == nil && got == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the store holds %d (%v) for %s, not %d, 5s after the requests\n%s", got, err, counter, want, n.output())
			}
			pause(ctx, 20*time.Millisecond)
		}
	}
	use := func(want int) {
		t.Helper()
		status, _, err := n.get(ctx, "/"+keyedService+"/x", k.Secret)
		if err != nil || status != want {
			t.Fatalf("request with the key: %d %v, want %d\n%s", status, err, want, n.output())
		}
	}
	if status, err := r.firstUse(ctx, k.Secret); err != nil || status != http.StatusOK {
		t.Fatalf("first request with the key: %d %v", status, err)
	}
	waitStored(1)
	for range tinyQuota - 1 {
		use(http.StatusOK)
	}
	use(http.StatusTooManyRequests)
	waitStored(tinyQuota)
	t.Logf("the store holds %d for %s; killing the node", tinyQuota, counter)

	if err := n.kill(); err != nil {
		t.Fatal(err)
	}
	killed := n
	n = startNode(t, bin, dir, "--nats", natsAddr)
	got, err := storedCount(ctx, natsAddr, counter)
	status, h, err2 := n.get(ctx, "/"+keyedService+"/x", k.Secret)
	if err2 != nil || status != http.StatusTooManyRequests {
		t.Errorf("after the restart the key whose quota was used up, and stored as %d, answers %d %v (X-RateLimit-Remaining %q), want 429; the store holds %d (%v)\nthe node killed:\n%s\nthe node restarted:\n%s",
			tinyQuota, status, err2, h.Get("X-RateLimit-Remaining"), got, err, killed.output(), n.output())
	}
}
