package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/mote-run/mote/api"
)

// Log retention, per service. The whole stream is also capped (1 GiB, or a
// quarter of JetStream's storage limit if that is smaller); the oldest
// lines go first.
const (
	// MaxLogsPerService is how many lines a service keeps.
	MaxLogsPerService = 10000
	// LogRetention is how long a line is kept.
	LogRetention = 7 * 24 * time.Hour
	// MaxLogMessage is the longest Message AppendLog stores; longer ones
	// are cut (at a UTF-8 boundary) and end with "…[truncated]".
	MaxLogMessage = 16 << 10

	maxLogMsg   = 128 << 10 // an entry's JSON, even with a full message of escaped characters
	logQueueLen = 8192
	logPage     = 256 // entries per direct-get batch
)

// AppendLog queues e for the service's log (e.Service) and returns at once:
// it never blocks and never fails. A background publisher sends queued
// entries to NATS (a core publish, no ack). Entries are dropped — and
// counted, see LogsDropped — when the queue is full, the service name is
// invalid or the store is closed. e.Time is set to now if zero.
func (s *Store) AppendLog(e api.LogEntry) {
	if s.closed.Load() || !validName(e.Service) {
		s.logDropped.Add(1)
		return
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	select {
	case s.logCh <- e:
	default:
		s.logDropped.Add(1)
	}
}

// LogsDropped counts the log entries AppendLog dropped since Open.
func (s *Store) LogsDropped() uint64 { return s.logDropped.Load() }

func (s *Store) startLogPublisher() {
	s.logCh = make(chan api.LogEntry, logQueueLen)
	s.logQuit = make(chan struct{})
	s.logDone = make(chan struct{})
	go func() {
		defer close(s.logDone)
		for {
			select {
			case e := <-s.logCh:
				s.publishLog(e)
			case <-s.logQuit:
				for {
					select {
					case e := <-s.logCh:
						s.publishLog(e)
					default:
						return
					}
				}
			}
		}
	}()
}

func (s *Store) stopLogPublisher() {
	if s.logQuit == nil {
		return
	}
	close(s.logQuit)
	<-s.logDone
}

func (s *Store) publishLog(e api.LogEntry) {
	if len(e.Message) > MaxLogMessage {
		cut := MaxLogMessage
		for cut > 0 && !utf8.RuneStart(e.Message[cut]) {
			cut--
		}
		e.Message = e.Message[:cut] + "…[truncated]"
	}
	b, err := json.Marshal(e)
	if err != nil || len(b) > maxLogMsg {
		s.logDropped.Add(1)
		return
	}
	if err := s.lnc.Publish(logsSubject+e.Service, b); err != nil {
		s.logDropped.Add(1)
	}
}

// LogQuery selects log entries. The zero value asks for every retained entry.
type LogQuery struct {
	// Tail, when positive, starts at the service's Tail-th newest entry.
	Tail int
	// Since, when set, leaves out entries older than Since.
	Since time.Time
	// Follow keeps the sequence going with new entries until ctx ends.
	Follow bool
}

// Logs returns the service's log entries, oldest first. Without Follow the
// sequence ends once it has caught up with the stream; with Follow it then
// yields new entries as they arrive and ends, without an error, when ctx
// ends. A failure is yielded once as the last pair. A service without logs
// yields nothing.
//
// Tail N does not read the lines before the N-th newest: the log stream's
// batched direct get reports with each message how many of the subject's
// messages follow it, so a search over stream sequence numbers (galloping
// back from the newest line, then bisecting; see logReader.start) finds
// the N-th newest line in O(log) one-message requests, and reading starts
// there, in batches of up to 256 lines. Lines appended during the search
// can make the result a few lines longer than N.
func (s *Store) Logs(ctx context.Context, service string, q LogQuery) iter.Seq2[api.LogEntry, error] {
	return func(yield func(api.LogEntry, error) bool) {
		if err := checkName(service); err != nil {
			yield(api.LogEntry{}, err)
			return
		}
		r, err := s.newLogReader(service)
		if err != nil {
			yield(api.LogEntry{}, fmt.Errorf("logs of %s: %w", service, err))
			return
		}
		defer r.close()
		last, err := r.catchUp(ctx, q, yield)
		if err != nil {
			// A follower's end is its context's end, whenever that comes.
			if !errors.Is(err, errStop) && !(q.Follow && ctx.Err() != nil) {
				yield(api.LogEntry{}, fmt.Errorf("logs of %s: %w", service, err))
			}
			return
		}
		if !q.Follow {
			return
		}
		if err := s.followLogs(ctx, service, q, last, yield); err != nil && !errors.Is(err, errStop) && ctx.Err() == nil {
			yield(api.LogEntry{}, fmt.Errorf("logs of %s: %w", service, err))
		}
	}
}

// errStop says the consumer of a Logs sequence stopped early.
var errStop = errors.New("stop")

// DeleteLogs removes every log entry of service. No logs is not an error.
func (s *Store) DeleteLogs(ctx context.Context, service string) error {
	if err := checkName(service); err != nil {
		return err
	}
	if err := s.logs.Purge(ctx, jetstream.WithPurgeSubject(logsSubject+service)); err != nil {
		return fmt.Errorf("delete logs of %s: %w", service, err)
	}
	return nil
}

// logReader reads a service's logs with the stream's batched direct get
// ($JS.API.DIRECT.GET.MOTE_LOGS), which answers on one inbox with the
// messages and then an end-of-batch status carrying the pending count.
type logReader struct {
	nc      *nats.Conn
	subject string
	inbox   string
	sub     *nats.Subscription
	msgs    chan *nats.Msg
}

// directGetRequest is the JSON body of a direct get (nats-server's
// JSApiMsgGetRequest, the fields used here).
type directGetRequest struct {
	Seq       uint64     `json:"seq,omitempty"`
	NextFor   string     `json:"next_by_subj,omitempty"`
	Batch     int        `json:"batch,omitempty"`
	MaxBytes  int        `json:"max_bytes,omitempty"`
	StartTime *time.Time `json:"start_time,omitempty"`
}

// logMsg is one message of a direct-get batch.
type logMsg struct {
	seq     uint64
	pending uint64 // the subject's messages after this one
	data    []byte
}

func (s *Store) newLogReader(service string) (*logReader, error) {
	// Room for a whole batch and its end marker: requests go one at a time.
	r := &logReader{nc: s.nc, subject: logsSubject + service, inbox: s.nc.NewInbox(), msgs: make(chan *nats.Msg, logPage+8)}
	sub, err := s.nc.ChanSubscribe(r.inbox, r.msgs)
	if err != nil {
		return nil, err
	}
	r.sub = sub
	return r, nil
}

func (r *logReader) close() { _ = r.sub.Unsubscribe() }

// get runs one batched direct get and returns its messages and the pending
// count after them (0: caught up). No message is not an error.
func (r *logReader) get(ctx context.Context, req directGetRequest) ([]logMsg, uint64, error) {
	req.NextFor = r.subject
	body, err := json.Marshal(req)
	if err != nil {
		return nil, 0, err
	}
	if err := r.nc.PublishRequest("$JS.API.DIRECT.GET."+logsStream, r.inbox, body); err != nil {
		return nil, 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var msgs []logMsg
	for {
		var m *nats.Msg
		select {
		case m = <-r.msgs:
		case <-ctx.Done():
			return nil, 0, fmt.Errorf("direct get: %w", ctx.Err())
		}
		switch status := m.Header.Get("Status"); status {
		case "":
			seq, err1 := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
			np, err2 := strconv.ParseUint(m.Header.Get("Nats-Num-Pending"), 10, 64)
			if err1 != nil || err2 != nil {
				return nil, 0, fmt.Errorf("direct get: malformed reply headers %v", m.Header)
			}
			msgs = append(msgs, logMsg{seq: seq, pending: np, data: m.Data})
		case "204": // end of batch
			np, err := strconv.ParseUint(m.Header.Get("Nats-Num-Pending"), 10, 64)
			if err != nil {
				return nil, 0, fmt.Errorf("direct get: malformed end of batch %v", m.Header)
			}
			return msgs, np, nil
		case "404": // nothing at or after the start
			return msgs, 0, nil
		default:
			return nil, 0, fmt.Errorf("direct get: status %s %s", status, m.Header.Get("Description"))
		}
	}
}

// probe returns the subject's first message at or after seq (or at or
// after since, when set) and how many of the subject's messages there are
// from it on; count 0 when there is none.
func (r *logReader) probe(ctx context.Context, seq uint64, since time.Time) (first, count uint64, err error) {
	req := directGetRequest{Seq: seq, Batch: 1}
	if !since.IsZero() {
		req = directGetRequest{StartTime: &since, Batch: 1}
	}
	msgs, _, err := r.get(ctx, req)
	if err != nil || len(msgs) == 0 {
		return 0, 0, err
	}
	return msgs[0].seq, msgs[0].pending + 1, nil
}

// start finds the stream sequence to read from for q: the first entry not
// older than q.Since, then moved on to the q.Tail-th newest. found is false
// when no entry qualifies.
//
// The server counts a subject's messages from a sequence on by scanning the
// message block that holds it, so probes near the end are cheap: the search
// gallops back from the newest entry (distances tail, 4·tail, 16·tail, …)
// until it has more than tail entries behind it, then bisects that window.
func (r *logReader) start(ctx context.Context, q LogQuery) (seq uint64, found bool, err error) {
	first, count, err := r.probe(ctx, 1, q.Since)
	if err != nil || count == 0 {
		return 0, false, err
	}
	tail := uint64(max(q.Tail, 0))
	if tail == 0 || count <= tail {
		return first, true, nil
	}
	last, err := r.lastSeq(ctx)
	if err != nil {
		return 0, false, err
	}
	if tail == 1 && last >= first {
		return last, true, nil
	}
	// Invariant of the bisection: count(lo) > tail and the tail-th newest
	// entry lies in (lo, hi].
	lo, hi := first, last
	for d := tail; last > first && d < last-first; d *= 4 {
		s := last - d + 1
		m, c, err := r.probe(ctx, s, time.Time{})
		if err != nil {
			return 0, false, err
		}
		if c == tail {
			return m, true, nil
		}
		if c > tail {
			lo = m
			break
		}
		hi = s - 1
	}
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		m, c, err := r.probe(ctx, mid, time.Time{})
		if err != nil {
			return 0, false, err
		}
		switch {
		case c == tail:
			return m, true, nil
		case c > tail:
			lo = m
		default:
			hi = mid - 1
		}
	}
	// Only reached when the stream changed under the search: start after
	// the last entry known to have more than tail successors.
	return lo + 1, true, nil
}

// lastSeq is the sequence of the subject's newest message (0 if none).
func (r *logReader) lastSeq(ctx context.Context) (uint64, error) {
	req, err := json.Marshal(map[string]string{"last_by_subj": r.subject})
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	m, err := r.nc.RequestWithContext(ctx, "$JS.API.DIRECT.GET."+logsStream, req)
	if err != nil {
		return 0, fmt.Errorf("direct get last: %w", err)
	}
	if st := m.Header.Get("Status"); st == "404" {
		return 0, nil
	} else if st != "" {
		return 0, fmt.Errorf("direct get last: status %s %s", st, m.Header.Get("Description"))
	}
	return strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
}

// catchUp yields the entries q selects that exist now and returns the
// sequence of the last one read (0 if none).
func (r *logReader) catchUp(ctx context.Context, q LogQuery, yield func(api.LogEntry, error) bool) (uint64, error) {
	seq, found, err := r.start(ctx, q)
	if err != nil || !found {
		return 0, err
	}
	var last uint64
	for {
		msgs, pending, err := r.get(ctx, directGetRequest{Seq: seq, Batch: logPage, MaxBytes: 1 << 20})
		if err != nil {
			return last, err
		}
		for _, m := range msgs {
			last = m.seq
			if err := yieldEntry(m.data, q.Since, yield); err != nil {
				return last, err
			}
		}
		if len(msgs) == 0 || pending == 0 {
			return last, nil
		}
		seq = last + 1
	}
}

// followLogs yields the entries appended after sequence last (or, when
// nothing was read, every entry that q selects from now on) until ctx ends.
func (s *Store) followLogs(ctx context.Context, service string, q LogQuery, last uint64, yield func(api.LogEntry, error) bool) error {
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{logsSubject + service},
		InactiveThreshold: 30 * time.Second,
	}
	switch {
	case last > 0:
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = last + 1
	case !q.Since.IsZero():
		cfg.DeliverPolicy = jetstream.DeliverByStartTimePolicy
		cfg.OptStartTime = &q.Since
	default:
		// Nothing existed at catch-up: everything stored since is new.
		cfg.DeliverPolicy = jetstream.DeliverAllPolicy
	}
	cons, err := s.logs.OrderedConsumer(ctx, cfg)
	if err != nil {
		return fmt.Errorf("follow: %w", err)
	}
	msgs, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("follow: %w", err)
	}
	defer msgs.Stop()
	for {
		m, err := msgs.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("follow: %w", err)
		}
		if err := yieldEntry(m.Data(), q.Since, yield); err != nil {
			return err
		}
	}
}

// yieldEntry decodes one stored entry and yields it unless it is older than
// since. It returns errStop when the consumer stopped.
func yieldEntry(data []byte, since time.Time, yield func(api.LogEntry, error) bool) error {
	var e api.LogEntry
	if err := json.Unmarshal(data, &e); err != nil {
		// Cannot happen for entries AppendLog wrote; say so rather than skip.
		e = api.LogEntry{Time: time.Now(), Stream: api.StreamMote, Level: "error",
			Message: fmt.Sprintf("undecodable log entry: %v", err)}
	} else if !since.IsZero() && e.Time.Before(since) {
		return nil
	}
	if !yield(e, nil) {
		return errStop
	}
	return nil
}
