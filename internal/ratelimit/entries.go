package ratelimit

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// QuotaEntries is raw, compare-and-set access to the key-value bucket
// behind a QuotaStore. A QuotaStore that also implements it lets Quotas
// keep many counters in one entry (the batched format in the package doc),
// so that a flush writes at most entryShards entries per window however
// many keys were used, instead of one per key. Both methods must be safe
// for concurrent use.
type QuotaEntries interface {
	// QuotaEntry returns the value and revision of the entry under key;
	// nil and 0 when there is none.
	QuotaEntry(ctx context.Context, key string) (value []byte, revision uint64, err error)
	// SwapQuotaEntry writes value under key if the entry's revision is
	// still revision (0: if there is no entry) and returns the new
	// revision. When the revision no longer matches (another writer was
	// first) it returns ok false and no error.
	SwapQuotaEntry(ctx context.Context, key string, value []byte, revision uint64) (newRevision uint64, ok bool, err error)
}

// The batched format. Changing any of these changes where counts are
// stored: a node would no longer find the counts an older one wrote.
const (
	// entryShards is how many entries share a window's counters.
	entryShards = 64
	// entryPrefix starts an entry's key: "shard.<window>.<shard, 2 hex>".
	entryPrefix = "shard."
	// maxEntryBytes bounds an entry's encoded size: once an entry is
	// larger, counters new to it are kept in their own entries instead
	// (about 20,000 keys per entry, over a million per window).
	maxEntryBytes = 512 << 10
)

// EntryKey returns the key of the batched entry that holds counter
// ("<key>.<window>") once a node with batching has flushed it:
// "shard.<window>.<nn>". Its value is JSON, {"counts":{"<key>":total}}.
func EntryKey(counter string) string {
	entry, _ := entryOf(counter)
	return entry
}

// entryOf returns the key of the entry that holds counter
// "<key>.<window>", and the counter's member name in it (<key>).
func entryOf(counter string) (entry, member string) {
	i := strings.LastIndexByte(counter, '.')
	member, window := counter[:max(i, 0)], counter[i+1:]
	h := uint32(2166136261) // FNV-1a, 32 bits
	for j := 0; j < len(member); j++ {
		h = (h ^ uint32(member[j])) * 16777619
	}
	const hexDigits = "0123456789abcdef"
	s := h % entryShards
	return entryPrefix + window + "." + string([]byte{hexDigits[s>>4], hexDigits[s&15]}), member
}

// entryValue is an entry as stored: JSON, {"counts": {"<key>": total}}.
type entryValue struct {
	Counts map[string]int64 `json:"counts"`
}

// errBadEntry marks a stored value Quotas cannot read.
var errBadEntry = errors.New("quota entry is damaged")

// decodeEntry parses an entry's value; an empty value is an empty entry.
// The map is never nil.
func decodeEntry(b []byte) (map[string]int64, error) {
	var v entryValue
	if len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, fmt.Errorf("%w: %v", errBadEntry, err)
		}
	}
	for k, n := range v.Counts {
		if n < 0 {
			return nil, fmt.Errorf("%w: %q counts %d", errBadEntry, k, n)
		}
	}
	if v.Counts == nil {
		v.Counts = map[string]int64{}
	}
	return v.Counts, nil
}

func encodeEntry(m map[string]int64) []byte {
	b, _ := json.Marshal(entryValue{Counts: m}) // cannot fail for this type
	return b
}

// readCounterEntry reads a per-counter entry (the format before batching,
// and the overflow of full entries): the total in decimal. Absent is 0.
func readCounterEntry(ctx context.Context, e QuotaEntries, counter string) (int64, uint64, error) {
	b, rev, err := e.QuotaEntry(ctx, counter)
	if err != nil || rev == 0 {
		return 0, 0, err
	}
	n, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64)
	if err != nil || n < 0 {
		return 0, 0, fmt.Errorf("%w: %s holds %.20q", errBadEntry, counter, b)
	}
	return n, rev, nil
}

// ReadCounter returns a counter's total as Quotas stores it through e:
// what a node loads on the counter's first use. A counter is in its
// batched entry once a node with batching has flushed it; before that
// (counts from before batching, or an entry that was full) it is in its
// own entry.
func ReadCounter(ctx context.Context, e QuotaEntries, counter string) (int64, error) {
	n, _, err := loadEntries(ctx, e, counter)
	return n, err
}

// loadEntries returns counter's total and whether it is in its batched
// entry.
func loadEntries(ctx context.Context, e QuotaEntries, counter string) (int64, bool, error) {
	entry, member := entryOf(counter)
	b, _, err := e.QuotaEntry(ctx, entry)
	if err != nil {
		return 0, false, err
	}
	m, err := decodeEntry(b)
	if err != nil {
		return 0, false, fmt.Errorf("%s: %w", entry, err)
	}
	if n, ok := m[member]; ok {
		return n, true, nil
	}
	n, _, err := readCounterEntry(ctx, e, counter)
	return n, false, err
}

// loadBatched loads c from its batched entry, or from its own entry if it
// is not in it yet, and remembers the latter's total for c's first flush.
func (q *Quotas) loadBatched(ctx context.Context, c *counter) (int64, error) {
	n, batched, err := loadEntries(ctx, q.entries, c.name)
	if err != nil {
		return 0, err
	}
	c.own, c.ownKnown = 0, true
	if !batched {
		c.own = n
	}
	return n, nil
}

// flushBatched pushes the counters' usage entry by entry, a few entries
// at once, the busiest entries first. It returns the errors.
func (q *Quotas) flushBatched(ctx context.Context, todo []*counter) []error {
	byEntry := map[string][]*counter{}
	for _, c := range todo {
		byEntry[c.entry] = append(byEntry[c.entry], c)
	}
	groups := make([]*group, 0, len(byEntry))
	for entry, cs := range byEntry {
		g := &group{entry: entry, items: make([]groupItem, len(cs))}
		for i, c := range cs {
			g.items[i] = groupItem{c: c, delta: c.pending.Swap(0)}
			g.weight += g.items[i].delta
		}
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(a, b *group) int { return cmp.Compare(b.weight, a.weight) })
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		next atomic.Int64
	)
	for range min(flushWorkers, len(groups)) {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(len(groups)) {
					return
				}
				if es := q.flushGroup(ctx, groups[i]); len(es) > 0 {
					mu.Lock()
					errs = append(errs, es...)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return errs
}

// group is the counters of one entry in one flush.
type group struct {
	entry  string
	items  []groupItem
	weight int64 // the usage it pushes
}

type groupItem struct {
	c     *counter
	delta int64 // swapped out of c.pending
	own   int64 // the counter's own entry, when read in this flush
	read  bool  // own was read in this flush
	done  bool  // adopted, or failed with its delta given back
}

// flushGroup adds g's deltas to its entry with one compare-and-set write
// (retried when another node wrote first) and adopts the totals. A counter
// not yet in the entry enters it with its own entry's total (read at its
// load, else now) plus its delta; when the entry is full (over maxEntry
// before this write, so it may pass it by one flush's new counters) the
// delta is added to the counter's own entry instead. On failure the
// deltas go back to pending.
func (q *Quotas) flushGroup(ctx context.Context, g *group) []error {
	var errs []error
	giveBack := func(err error) []error {
		for i := range g.items {
			if it := &g.items[i]; !it.done {
				it.c.pending.Add(it.delta)
				it.done = true
			}
		}
		return append(errs, fmt.Errorf("quota %s: %w", g.entry, err))
	}
	for {
		if err := ctx.Err(); err != nil {
			return giveBack(err)
		}
		b, rev, err := q.entries.QuotaEntry(ctx, g.entry)
		if err != nil {
			return giveBack(err)
		}
		m, err := decodeEntry(b)
		if err != nil {
			return giveBack(err)
		}
		// Whether counters new to the entry may enter depends only on the
		// entry as read, which only grows: once a node finds it full, every
		// later write finds it full, and counters new to it are counted in
		// their own entries by every node alike.
		full := len(b) > q.maxEntry
		totals := make([]int64, len(g.items))
		overflow := make([]bool, len(g.items)) // counted in their own entries
		changed := false
		for i := range g.items {
			it := &g.items[i]
			if it.done {
				continue
			}
			if n, ok := m[it.c.member]; ok {
				totals[i] = n + it.delta
				if it.delta != 0 {
					m[it.c.member] = totals[i]
					changed = true
				}
				continue
			}
			if full {
				overflow[i] = true
				continue
			}
			own, err := q.ownTotal(ctx, it)
			if err != nil {
				it.c.pending.Add(it.delta)
				it.done = true
				errs = append(errs, fmt.Errorf("quota %s: %w", it.c.name, err))
				continue
			}
			totals[i] = own + it.delta
			if it.delta != 0 { // else a stale counter learns its total: nothing to write
				m[it.c.member] = totals[i]
				changed = true
			}
		}
		if changed {
			_, ok, err := q.entries.SwapQuotaEntry(ctx, g.entry, encodeEntry(m), rev)
			if err != nil {
				return giveBack(err)
			}
			if !ok {
				continue // another node wrote first: add to what it wrote
			}
		}
		for i := range g.items {
			it := &g.items[i]
			if it.done || overflow[i] {
				continue
			}
			q.adopt(it.c, it.delta, totals[i])
			if _, in := m[it.c.member]; !in {
				it.c.own, it.c.ownKnown = totals[i], true
			}
			it.done = true
		}
		for i := range g.items {
			it := &g.items[i]
			if it.done {
				continue
			}
			total, err := q.addOwn(ctx, it.c.name, it.delta)
			if err != nil {
				it.c.pending.Add(it.delta)
				errs = append(errs, fmt.Errorf("quota %s: %w", it.c.name, err))
			} else {
				q.adopt(it.c, it.delta, total)
				it.c.own, it.c.ownKnown = total, true
			}
			it.done = true
		}
		return errs
	}
}

// ownTotal returns the total of it's counter in its own entry: known
// since its load, or read now (once per flush).
func (q *Quotas) ownTotal(ctx context.Context, it *groupItem) (int64, error) {
	if it.c.ownKnown {
		return it.c.own, nil
	}
	if !it.read {
		n, _, err := readCounterEntry(ctx, q.entries, it.c.name)
		if err != nil {
			return 0, err
		}
		it.own, it.read = n, true
	}
	return it.own, nil
}

// addOwn adds delta to a counter's own entry, as AddQuota does to a
// counter, and returns the new total.
func (q *Quotas) addOwn(ctx context.Context, counter string, delta int64) (int64, error) {
	for {
		n, rev, err := readCounterEntry(ctx, q.entries, counter)
		if err != nil || delta == 0 {
			return n, err
		}
		n += delta
		_, ok, err := q.entries.SwapQuotaEntry(ctx, counter, []byte(strconv.FormatInt(n, 10)), rev)
		if err != nil {
			return 0, err
		}
		if ok {
			return n, nil
		}
		if err := ctx.Err(); err != nil {
			return 0, err
		}
	}
}
