package wasm

import "testing"

// A buffer handed back to the pool dirty must come out clean: one guest
// must never see another's memory.
func TestPooledMemoryIsZeroed(t *testing.T) {
	for range 50 {
		m := memoryAllocator.Allocate(2<<16, 64<<16)
		buf := m.Reallocate(2 << 16)
		for i := range buf {
			buf[i] = 0xAB
		}
		buf = m.Reallocate(5 << 16) // grow past the first capacity
		for i := range buf {
			buf[i] = 0xCD
		}
		m.Free()
		m2 := memoryAllocator.Allocate(2<<16, 64<<16)
		buf2 := m2.Reallocate(8 << 16)
		for i, b := range buf2 {
			if b != 0 {
				t.Fatalf("byte %d of a fresh memory is %#x", i, b)
			}
		}
		m2.Free()
	}
}

func TestPooledMemoryRespectsMax(t *testing.T) {
	m := memoryAllocator.Allocate(1<<16, 2<<16)
	if m.Reallocate(3<<16) != nil {
		t.Fatal("grew past max")
	}
	m.Free()
}

func TestSizeClasses(t *testing.T) {
	for _, tt := range []struct {
		n    uint64
		want int
	}{{0, 0}, {1, 0}, {1 << 16, 0}, {1<<16 + 1, 1}, {1 << 17, 1}, {1 << 24, 8}, {1<<24 + 1, -1}} {
		if got := class(tt.n); got != tt.want {
			t.Errorf("class(%d) = %d, want %d", tt.n, got, tt.want)
		}
	}
}
