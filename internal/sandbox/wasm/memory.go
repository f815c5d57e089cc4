package wasm

import (
	"math/bits"
	"sync"
	"sync/atomic"

	"github.com/tetratelabs/wazero/experimental"
)

// Linear memories are pooled. Allocating a fresh instance's memory with make
// costs a large, zeroed allocation per request plus the garbage collection
// of it; a pool turns that into clearing the bytes the previous guest used.
// Buffers are cleared when freed, so a pooled buffer is all zeroes and no
// guest ever sees another's data.

// maxPooled is the largest buffer kept for reuse; bigger memories are rare
// and left to the garbage collector.
const maxPooled = 16 << 20

// minPooledShift is log2 of the smallest size class (one 64 KiB page).
const minPooledShift = 16

// memPools holds one pool per power-of-two size class, 64 KiB to maxPooled.
var memPools [24 - minPooledShift + 1]sync.Pool // 2^16 .. 2^24 = maxPooled

// memoryAllocator is the experimental.MemoryAllocator given to every
// instance.
var memoryAllocator = experimental.MemoryAllocatorFunc(func(capacity, max uint64) experimental.LinearMemory {
	liveMemories.Add(1)
	return &pooledMemory{buf: getBuffer(capacity), max: max}
})

// liveMemories counts the memories allocated and not yet freed, so tests
// can check that closing an instance gives its memory back.
var liveMemories atomic.Int64

// class returns the size class index for n bytes, or -1 when n is too big
// to pool.
func class(n uint64) int {
	if n > maxPooled {
		return -1
	}
	if n <= 1<<minPooledShift {
		return 0
	}
	return bits.Len64(n-1) - minPooledShift
}

// getBuffer returns a zeroed buffer of length 0 and capacity >= n.
func getBuffer(n uint64) []byte {
	c := class(n)
	if c < 0 {
		return make([]byte, 0, n)
	}
	if b, ok := memPools[c].Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return make([]byte, 0, 1<<(c+minPooledShift))
}

// putBuffer clears the used part of b and pools it.
func putBuffer(b []byte) {
	c := cap(b)
	if c > maxPooled || c&(c-1) != 0 || c < 1<<minPooledShift {
		return // not one of ours: sizes are exact powers of two
	}
	clear(b[:len(b)])
	b = b[:0]
	memPools[class(uint64(c))].Put(&b)
}

// pooledMemory is one instance's linear memory.
type pooledMemory struct {
	buf []byte
	max uint64
}

// Reallocate grows the memory to size bytes. Within capacity the new bytes
// are already zero (pooled buffers are clear past their used length).
func (m *pooledMemory) Reallocate(size uint64) []byte {
	if size > m.max {
		return nil
	}
	if size <= uint64(cap(m.buf)) {
		m.buf = m.buf[:size]
		return m.buf
	}
	want := size
	if size > maxPooled {
		// Above the pools a buffer is made to measure: grow it
		// geometrically (to at least twice the old capacity, within the
		// limit), or a guest growing a page at a time would copy its whole
		// memory on every grow — quadratic time and garbage.
		want = min(max(size, 2*uint64(cap(m.buf))), m.max)
	}
	grown := getBuffer(want)[:size]
	copy(grown, m.buf)
	putBuffer(m.buf)
	m.buf = grown
	return m.buf
}

// Free returns the buffer to its pool, cleared.
func (m *pooledMemory) Free() {
	if m.buf != nil {
		putBuffer(m.buf)
		m.buf = nil
		liveMemories.Add(-1)
	}
}
