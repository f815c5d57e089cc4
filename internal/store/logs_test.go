package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
)

func collectLogs(t testing.TB, s *Store, service string, q LogQuery) []api.LogEntry {
	t.Helper()
	var out []api.LogEntry
	for e, err := range s.Logs(t.Context(), service, q) {
		if err != nil {
			t.Fatalf("Logs(%s, %+v): %v", service, q, err)
		}
		out = append(out, e)
	}
	return out
}

func messages(es []api.LogEntry) string {
	var b []string
	for _, e := range es {
		b = append(b, e.Message)
	}
	return strings.Join(b, ",")
}

func seqMessages(from, to int) string {
	var b []string
	for i := from; i < to; i++ {
		b = append(b, fmt.Sprint(i))
	}
	return strings.Join(b, ",")
}

func TestLogsQuery(t *testing.T) {
	s := openStore(t, "")
	const n = 700
	// Interleave three services so the tail search has gaps to skip.
	for i := range n {
		s.AppendLog(api.LogEntry{Service: "a", Stream: api.StreamStdout, Message: fmt.Sprint(i)})
		s.AppendLog(api.LogEntry{Service: "b", Stream: api.StreamStderr, Message: fmt.Sprint(i)})
		if i%3 == 0 {
			s.AppendLog(api.LogEntry{Service: "c", Message: fmt.Sprint(i)})
		}
	}
	eventually(t, "all lines", func() bool { return len(collectLogs(t, s, "b", LogQuery{})) == n })

	tests := []struct {
		tail int
		want string
	}{
		{0, seqMessages(0, n)},
		{1, seqMessages(n-1, n)},
		{2, seqMessages(n-2, n)},
		{10, seqMessages(n-10, n)},
		{257, seqMessages(n-257, n)},
		{n - 1, seqMessages(1, n)},
		{n, seqMessages(0, n)},
		{n + 100, seqMessages(0, n)},
		{-3, seqMessages(0, n)},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint("tail ", tt.tail), func(t *testing.T) {
			got := collectLogs(t, s, "a", LogQuery{Tail: tt.tail})
			if messages(got) != tt.want {
				t.Errorf("got %d lines %.60s…, want %.60s…", len(got), messages(got), tt.want)
			}
			for _, e := range got {
				if e.Service != "a" || e.Stream != api.StreamStdout || e.Time.IsZero() {
					t.Fatalf("entry %+v", e)
				}
			}
		})
	}
	if got := collectLogs(t, s, "nobody", LogQuery{Tail: 5}); len(got) != 0 {
		t.Errorf("logs of a service without logs: %+v", got)
	}

	// Since: only the second batch.
	cut := time.Now()
	for i := range 5 {
		s.AppendLog(api.LogEntry{Service: "a", Message: fmt.Sprint("late", i)})
	}
	eventually(t, "late lines", func() bool { return len(collectLogs(t, s, "a", LogQuery{})) == n+5 })
	if got := messages(collectLogs(t, s, "a", LogQuery{Since: cut})); got != "late0,late1,late2,late3,late4" {
		t.Errorf("Since: %s", got)
	}
	if got := messages(collectLogs(t, s, "a", LogQuery{Since: cut, Tail: 2})); got != "late3,late4" {
		t.Errorf("Since+Tail 2: %s", got)
	}
	if got := messages(collectLogs(t, s, "a", LogQuery{Since: cut, Tail: 50})); got != "late0,late1,late2,late3,late4" {
		t.Errorf("Since+Tail 50: %s", got)
	}
	if got := collectLogs(t, s, "a", LogQuery{Since: time.Now().Add(time.Hour)}); len(got) != 0 {
		t.Errorf("Since in the future: %d lines", len(got))
	}

	// Stopping early is fine.
	for e, err := range s.Logs(t.Context(), "a", LogQuery{}) {
		if err != nil || e.Message != "0" {
			t.Errorf("first entry %+v, %v", e, err)
		}
		break
	}

	if err := s.DeleteLogs(t.Context(), "a"); err != nil {
		t.Fatal(err)
	}
	if got := collectLogs(t, s, "a", LogQuery{}); len(got) != 0 {
		t.Errorf("after DeleteLogs: %d lines", len(got))
	}
	if got := collectLogs(t, s, "b", LogQuery{Tail: 1}); messages(got) != fmt.Sprint(n-1) {
		t.Errorf("other service after DeleteLogs: %s", messages(got))
	}
	if err := s.DeleteLogs(t.Context(), "never"); err != nil {
		t.Errorf("DeleteLogs of a service without logs: %v", err)
	}
}

func TestLogsTruncated(t *testing.T) {
	s := openStore(t, "")
	long := strings.Repeat("é", MaxLogMessage) // 2 bytes a rune: the cut lands mid-rune
	s.AppendLog(api.LogEntry{Service: "a", Message: long})
	s.AppendLog(api.LogEntry{Service: "a", Message: strings.Repeat("\x01", MaxLogMessage+1)}) // escapes to 6x in JSON
	var got []api.LogEntry
	eventually(t, "the lines", func() bool { got = collectLogs(t, s, "a", LogQuery{}); return len(got) == 2 })
	for _, e := range got {
		if len(e.Message) > MaxLogMessage+len("…[truncated]") || !strings.HasSuffix(e.Message, "…[truncated]") {
			t.Errorf("message of %d bytes, suffix %q", len(e.Message), e.Message[len(e.Message)-20:])
		}
	}
	if s.LogsDropped() != 0 {
		t.Errorf("LogsDropped = %d", s.LogsDropped())
	}
	s.AppendLog(api.LogEntry{Service: "Bad.Name", Message: "x"})
	if s.LogsDropped() != 1 {
		t.Errorf("invalid service name: LogsDropped = %d, want 1", s.LogsDropped())
	}
}

func TestLogsFollow(t *testing.T) {
	tests := []struct {
		name    string
		q       LogQuery
		before  int // lines appended before Logs starts
		want    string
		waitOld bool
	}{
		{"empty", LogQuery{Follow: true}, 0, "new0,new1,new2", false},
		{"all", LogQuery{Follow: true}, 3, "old0,old1,old2,new0,new1,new2", true},
		{"tail", LogQuery{Follow: true, Tail: 1}, 3, "old2,new0,new1,new2", true},
		{"since now", LogQuery{Follow: true, Since: time.Now().Add(time.Hour)}, 3, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t, "")
			for i := range tt.before {
				s.AppendLog(api.LogEntry{Service: "a", Message: fmt.Sprint("old", i)})
			}
			eventually(t, "old lines", func() bool { return len(collectLogs(t, s, "a", LogQuery{})) == tt.before })

			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			got := make(chan api.LogEntry, 100)
			done := make(chan error, 1)
			go func() {
				defer close(done)
				for e, err := range s.Logs(ctx, "a", tt.q) {
					if err != nil {
						done <- err
						return
					}
					got <- e
				}
			}()
			var msgs []string
			if tt.waitOld {
				// Wait for the catch-up so "new" lines are really new.
				for range strings.Count(tt.want, "old") {
					msgs = append(msgs, (<-got).Message)
				}
			}
			for i := range 3 {
				s.AppendLog(api.LogEntry{Service: "a", Message: fmt.Sprint("new", i)})
				s.AppendLog(api.LogEntry{Service: "b", Message: "other service"})
			}
			want := strings.Split(tt.want, ",")
			if tt.want == "" {
				want = nil
				// Give a wrong implementation time to show lines it should not.
				eventually(t, "the new lines to be stored", func() bool { return len(collectLogs(t, s, "a", LogQuery{})) == tt.before+3 })
			}
			deadline := time.After(10 * time.Second)
			for len(msgs) < len(want) {
				select {
				case e := <-got:
					msgs = append(msgs, e.Message)
				case err := <-done:
					t.Fatalf("Logs ended early: %v", err)
				case <-deadline:
					t.Fatalf("got %v, want %v", msgs, want)
				}
			}
			if strings.Join(msgs, ",") != tt.want {
				t.Errorf("got %v, want %v", msgs, want)
			}
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Logs ended with %v after ctx ended, want no error", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Logs did not end after ctx ended")
			}
			if len(got) != 0 {
				t.Errorf("extra lines: %+v", <-got)
			}
		})
	}
}
