package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
)

func TestServiceCRUD(t *testing.T) {
	s := openStore(t, "")
	ctx := t.Context()

	if _, _, err := s.Service(ctx, "hello"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Service of a missing service: %v, want ErrNotFound", err)
	}
	svc := api.Service{Name: "hello", Route: "/hello", Version: 1, Latest: 1}
	rev1, err := s.CreateService(ctx, svc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateService(ctx, svc); !errors.Is(err, ErrExists) {
		t.Fatalf("second CreateService: %v, want ErrExists", err)
	}
	got, rev, err := s.Service(ctx, "hello")
	if err != nil || rev != rev1 || got.Route != "/hello" {
		t.Fatalf("Service = %+v, %d, %v; want route /hello rev %d", got, rev, err, rev1)
	}

	svc.Version, svc.Latest = 2, 2
	rev2, err := s.UpdateService(ctx, svc, rev1)
	if err != nil {
		t.Fatal(err)
	}
	if rev2 <= rev1 {
		t.Errorf("revision went from %d to %d", rev1, rev2)
	}
	svc.Version = 3
	if _, err := s.UpdateService(ctx, svc, rev1); !errors.Is(err, ErrConflict) {
		t.Fatalf("UpdateService with a stale revision: %v, want ErrConflict", err)
	}
	if _, err := s.UpdateService(ctx, svc, 0); !errors.Is(err, ErrConflict) {
		t.Fatalf("UpdateService with revision 0: %v, want ErrConflict", err)
	}
	if got, _, _ := s.Service(ctx, "hello"); got.Version != 2 {
		t.Errorf("after a failed CAS the service has version %d, want 2", got.Version)
	}

	if _, err := s.CreateService(ctx, api.Service{Name: "abc"}); err != nil {
		t.Fatal(err)
	}
	list, err := s.Services(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "abc" || list[1].Name != "hello" {
		t.Errorf("Services = %+v, want abc, hello", list)
	}

	if err := s.DeleteService(ctx, "hello"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteService(ctx, "hello"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second DeleteService: %v, want ErrNotFound", err)
	}
	if _, _, err := s.Service(ctx, "hello"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Service after delete: %v, want ErrNotFound", err)
	}
	if _, err := s.UpdateService(ctx, svc, rev2); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateService after delete: %v, want ErrNotFound", err)
	}
	if list, _ := s.Services(ctx); len(list) != 1 {
		t.Errorf("Services after delete = %+v", list)
	}
	// The name is free again.
	if _, err := s.CreateService(ctx, svc); err != nil {
		t.Errorf("CreateService after delete: %v", err)
	}
}

func TestInvalidNames(t *testing.T) {
	s := openStore(t, "")
	ctx := t.Context()
	for _, name := range []string{"", "Hello", "a.b", "a*", "a>", "a b", "$KV", "x/y", strings.Repeat("a", 64)} {
		t.Run(fmt.Sprintf("%q", name), func(t *testing.T) {
			if _, err := s.CreateService(ctx, api.Service{Name: name}); !errors.Is(err, ErrInvalidName) {
				t.Errorf("CreateService: %v", err)
			}
			if _, _, err := s.Service(ctx, name); !errors.Is(err, ErrInvalidName) {
				t.Errorf("Service: %v", err)
			}
			if err := s.DeleteService(ctx, name); !errors.Is(err, ErrInvalidName) {
				t.Errorf("DeleteService: %v", err)
			}
			if _, err := s.Versions(ctx, name); !errors.Is(err, ErrInvalidName) {
				t.Errorf("Versions: %v", err)
			}
			if err := s.DeleteLogs(ctx, name); !errors.Is(err, ErrInvalidName) {
				t.Errorf("DeleteLogs: %v", err)
			}
		})
	}
	if err := s.PutVersion(ctx, api.Version{Service: "ok", Number: 0}); !errors.Is(err, ErrInvalidName) {
		t.Errorf("PutVersion number 0: %v", err)
	}
}

func TestVersions(t *testing.T) {
	s := openStore(t, "")
	ctx := t.Context()
	if _, err := s.CreateService(ctx, api.Service{Name: "a"}); err != nil {
		t.Fatal(err)
	}
	// Out of order on purpose, and a neighbour whose name shares a prefix.
	for _, n := range []int{2, 1, 10, 3} {
		if err := s.PutVersion(ctx, api.Version{Service: "a", Number: n, Manifest: fmt.Sprint("m", n)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutVersion(ctx, api.Version{Service: "a-b", Number: 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutVersion(ctx, api.Version{Service: "a", Number: 2}); !errors.Is(err, ErrExists) {
		t.Errorf("PutVersion of an existing number: %v, want ErrExists", err)
	}
	vs, err := s.Versions(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	var nums []int
	for _, v := range vs {
		nums = append(nums, v.Number)
	}
	if fmt.Sprint(nums) != "[10 3 2 1]" {
		t.Errorf("Versions numbers %v, want [10 3 2 1]", nums)
	}
	if v, err := s.Version(ctx, "a", 3); err != nil || v.Manifest != "m3" {
		t.Errorf("Version 3 = %+v, %v", v, err)
	}
	if _, err := s.Version(ctx, "a", 4); !errors.Is(err, ErrNotFound) {
		t.Errorf("Version 4: %v, want ErrNotFound", err)
	}
	if vs, err := s.Versions(ctx, "none"); err != nil || len(vs) != 0 {
		t.Errorf("Versions of a service without any = %v, %v", vs, err)
	}

	// Deleting the service takes its versions and logs, not its neighbour's.
	s.AppendLog(api.LogEntry{Service: "a", Message: "x"})
	s.AppendLog(api.LogEntry{Service: "a-b", Message: "y"})
	eventually(t, "logs", func() bool {
		return len(collectLogs(t, s, "a", LogQuery{})) == 1 && len(collectLogs(t, s, "a-b", LogQuery{})) == 1
	})
	if err := s.DeleteService(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if vs, _ := s.Versions(ctx, "a"); len(vs) != 0 {
		t.Errorf("versions after delete: %+v", vs)
	}
	if _, err := s.Version(ctx, "a", 1); !errors.Is(err, ErrNotFound) {
		t.Errorf("Version after delete: %v", err)
	}
	if logs := collectLogs(t, s, "a", LogQuery{}); len(logs) != 0 {
		t.Errorf("logs after delete: %+v", logs)
	}
	if vs, _ := s.Versions(ctx, "a-b"); len(vs) != 1 {
		t.Errorf("neighbour's versions after delete: %+v", vs)
	}
	if logs := collectLogs(t, s, "a-b", LogQuery{}); len(logs) != 1 {
		t.Errorf("neighbour's logs after delete: %+v", logs)
	}
	// A new service of the same name starts from version 1 again.
	if err := s.PutVersion(ctx, api.Version{Service: "a", Number: 1}); err != nil {
		t.Errorf("PutVersion after delete: %v", err)
	}
}

func TestWatch(t *testing.T) {
	s := openStore(t, "")
	ctx := t.Context()
	for _, name := range []string{"a", "b", "gone"} {
		if _, err := s.CreateService(ctx, api.Service{Name: name, Route: "/" + name}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteService(ctx, "gone"); err != nil {
		t.Fatal(err)
	}

	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, err := s.Watch(wctx)
	if err != nil {
		t.Fatal(err)
	}
	next := func() Event {
		t.Helper()
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatal("watch channel closed")
			}
			return ev
		case <-time.After(10 * time.Second):
			t.Fatal("no watch event within 10s")
		}
		return Event{}
	}

	initial := map[string]bool{}
	for {
		ev := next()
		if ev.Synced {
			break
		}
		if ev.Deleted {
			t.Errorf("deletion during the initial values: %+v", ev)
		}
		initial[ev.Service.Name] = true
	}
	if len(initial) != 2 || !initial["a"] || !initial["b"] {
		t.Errorf("initial values %v, want a and b", initial)
	}

	_, rev, _ := s.Service(ctx, "a")
	if _, err := s.UpdateService(ctx, api.Service{Name: "a", Route: "/a2"}, rev); err != nil {
		t.Fatal(err)
	}
	if ev := next(); ev.Service.Name != "a" || ev.Service.Route != "/a2" || ev.Deleted || ev.Synced {
		t.Errorf("update event %+v", ev)
	}
	if err := s.DeleteService(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if ev := next(); ev.Service.Name != "b" || !ev.Deleted {
		t.Errorf("delete event %+v", ev)
	}
	if _, err := s.CreateService(ctx, api.Service{Name: "c"}); err != nil {
		t.Fatal(err)
	}
	if ev := next(); ev.Service.Name != "c" || ev.Deleted {
		t.Errorf("create event %+v", ev)
	}

	cancel()
	eventually(t, "the watch channel to close", func() bool {
		select {
		case _, ok := <-ch:
			return !ok
		default:
			return false
		}
	})
}

// TestWatchSlowReader writes more changes than NATS' watcher buffers (256)
// while nobody reads, then reads them all: none may be lost.
func TestWatchSlowReader(t *testing.T) {
	s := openStore(t, "")
	ctx := t.Context()
	ch, err := s.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ev := <-ch; !ev.Synced {
		t.Fatalf("first event of an empty store %+v, want Synced", ev)
	}
	const n = 600
	for i := range n {
		if _, err := s.CreateService(ctx, api.Service{Name: fmt.Sprint("s", i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		select {
		case ev := <-ch:
			if want := fmt.Sprint("s", i); ev.Service.Name != want {
				t.Fatalf("event %d is %+v, want %s", i, ev, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of %d events arrived", i, n)
		}
	}
}

// TestUpdateServiceHammer runs compare-and-set increments from many
// goroutines: every increment must land exactly once.
func TestUpdateServiceHammer(t *testing.T) {
	s := openStore(t, "", func(o *Options) { o.NoSync = true })
	ctx := t.Context()
	if _, err := s.CreateService(ctx, api.Service{Name: "counter"}); err != nil {
		t.Fatal(err)
	}
	const workers, each = 12, 20
	var (
		mu      sync.Mutex
		written = map[int]int{} // Latest value -> how many writers succeeded with it
	)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for done := 0; done < each; {
				svc, rev, err := s.Service(ctx, "counter")
				if err != nil {
					errs <- err
					return
				}
				svc.Latest++
				if _, err := s.UpdateService(ctx, svc, rev); errors.Is(err, ErrConflict) {
					continue
				} else if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				written[svc.Latest]++
				mu.Unlock()
				done++
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	svc, _, err := s.Service(ctx, "counter")
	if err != nil {
		t.Fatal(err)
	}
	if svc.Latest != workers*each {
		t.Errorf("counter = %d, want %d", svc.Latest, workers*each)
	}
	for v := 1; v <= workers*each; v++ {
		if written[v] != 1 {
			t.Errorf("value %d was written %d times, want once", v, written[v])
		}
	}
}

func FuzzValidName(f *testing.F) {
	for _, s := range []string{"", "a", "hello-world", "a.b", "A", strings.Repeat("a", 64), "é"} {
		f.Add(s)
	}
	ref := regexp.MustCompile(`^[a-z0-9-]{1,63}$`)
	f.Fuzz(func(t *testing.T, name string) {
		if got, want := validName(name), ref.MatchString(name); got != want {
			t.Fatalf("validName(%q) = %v, want %v", name, got, want)
		}
	})
}
