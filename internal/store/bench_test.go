package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/mote-run/mote/api"
)

var syncModes = []struct {
	name   string
	noSync bool
}{{"sync=always", false}, {"sync=nosync", true}}

// BenchmarkAppendLog measures what a request pays to log a line ("call":
// the queue may overflow, drops are reported) and what the background
// publisher sustains ("sustained": the queue is drained every 4096 lines, so
// nothing is dropped and the time includes the publish).
func BenchmarkAppendLog(b *testing.B) {
	e := api.LogEntry{Service: "bench", Version: 3, RequestID: "01J8Z6W6Q3N7K2", Stream: api.StreamStdout, Message: "GET /hello 200 0.4ms"}
	b.Run("call", func(b *testing.B) {
		s := openStore(b, "")
		b.ReportAllocs()
		for b.Loop() {
			s.AppendLog(e)
		}
		b.ReportMetric(float64(s.LogsDropped())/float64(b.N), "dropped/op")
	})
	b.Run("stored", func(b *testing.B) {
		s := openStore(b, "")
		lastSeq := func() uint64 {
			info, err := s.logs.Info(b.Context())
			if err != nil {
				b.Fatal(err)
			}
			return info.State.LastSeq
		}
		base := lastSeq()
		waitStored := func(n uint64) {
			deadline := time.Now().Add(10 * time.Second)
			for lastSeq()-base < n {
				if time.Now().After(deadline) {
					b.Fatalf("only %d of %d lines stored", lastSeq()-base, n)
				}
				time.Sleep(100 * time.Microsecond)
			}
		}
		var n uint64
		for b.Loop() {
			s.AppendLog(e)
			if n++; n%4096 == 0 {
				waitStored(n)
			}
		}
		waitStored(n)
		b.ReportMetric(float64(s.LogsDropped())/float64(b.N), "dropped/op")
	})
}

func BenchmarkUpdateService(b *testing.B) {
	for _, m := range syncModes {
		b.Run(m.name, func(b *testing.B) {
			s := openStore(b, "", func(o *Options) { o.NoSync = m.noSync })
			ctx := b.Context()
			svc := api.Service{Name: "bench", Route: "/bench", ABI: api.ABIWAGI}
			rev, err := s.CreateService(ctx, svc)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				svc.Latest++
				if rev, err = s.UpdateService(ctx, svc, rev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkBlobPut1MiB(b *testing.B) {
	for _, m := range syncModes {
		b.Run(m.name, func(b *testing.B) {
			s := openStore(b, "", func(o *Options) { o.NoSync = m.noSync })
			ctx := b.Context()
			content := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
			b.SetBytes(int64(len(content)))
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				binary.LittleEndian.PutUint64(content, uint64(i)) // a new blob each time
				d := digestOf(content)
				b.StartTimer()
				if _, err := s.PutBlob(ctx, d, bytes.NewReader(content)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLogsTail10 reads the last 10 of a service's 10000 lines,
// interleaved with another service's 10000.
func BenchmarkLogsTail10(b *testing.B) {
	s := openStore(b, "")
	for i := range MaxLogsPerService {
		s.AppendLog(api.LogEntry{Service: "a", Message: fmt.Sprint(i)})
		s.AppendLog(api.LogEntry{Service: "b", Message: fmt.Sprint(i)})
		if i%1000 == 0 {
			eventually(b, "the queue to drain", func() bool { return len(s.logCh) == 0 })
		}
	}
	eventually(b, "all lines", func() bool {
		n := 0
		for range s.Logs(b.Context(), "a", LogQuery{Tail: MaxLogsPerService}) {
			n++
		}
		return n == MaxLogsPerService
	})
	for b.Loop() {
		n := 0
		for _, err := range s.Logs(b.Context(), "a", LogQuery{Tail: 10}) {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != 10 {
			b.Fatalf("%d lines", n)
		}
	}
}

// BenchmarkKV measures a guest's kv_set and kv_get as the store serves them
// (100-byte values over 1000 keys).
func BenchmarkKV(b *testing.B) {
	value := bytes.Repeat([]byte("v"), 100)
	for _, m := range syncModes {
		b.Run("set/"+m.name, func(b *testing.B) {
			s := openStore(b, "", func(o *Options) { o.NoSync = m.noSync })
			ctx := b.Context()
			i := 0
			for b.Loop() {
				if err := s.KVSet(ctx, "bench", fmt.Sprint("key-", i%1000), value, 0); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
	b.Run("get", func(b *testing.B) {
		s := openStore(b, "")
		ctx := b.Context()
		for i := range 1000 {
			if err := s.KVSet(ctx, "bench", fmt.Sprint("key-", i), value, time.Hour); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := s.KVGet(ctx, "bench", fmt.Sprint("key-", i%1000)); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprint("list", n), func(b *testing.B) {
			s := openStore(b, "", func(o *Options) { o.NoSync = true })
			ctx := b.Context()
			for i := range n {
				if err := s.KVSet(ctx, "bench", fmt.Sprint("key-", i), value, 0); err != nil {
					b.Fatal(err)
				}
			}
			for b.Loop() {
				if keys, err := s.KVList(ctx, "bench", "key-"); err != nil || len(keys) != n {
					b.Fatal(len(keys), err)
				}
			}
		})
	}
}
