package cudaexec

import "sort"

// align is the arena's allocation granule in 4-byte elements (256 bytes:
// what cuBLAS and cuDNN want for their pointers, and a whole number of
// 128-byte memory transactions).
const align = 64

func alignUp(n int) int { return (n + align - 1) / align * align }

// planner assigns arena offsets to buffers whose lifetimes are known in
// advance: first fit over the free blocks below the high-water mark,
// adjacent free blocks merged, the top extended when nothing fits. It runs
// once per program, on the host; the arena is then one allocation of Peak
// elements.
type planner struct {
	free []block // sorted by offset, disjoint, not adjacent
	top  int     // end of the highest block in use
	Peak int
}

type block struct{ off, n int }

// alloc returns the offset of n elements (aligned).
func (p *planner) alloc(n int) int {
	n = alignUp(max(n, 1))
	for i, b := range p.free {
		if b.n >= n {
			if b.n == n {
				p.free = append(p.free[:i], p.free[i+1:]...)
			} else {
				p.free[i] = block{b.off + n, b.n - n}
			}
			return b.off
		}
	}
	// extend the top, starting in a free block that ends there
	off := p.top
	if k := len(p.free); k > 0 && p.free[k-1].off+p.free[k-1].n == p.top {
		off = p.free[k-1].off
		p.free = p.free[:k-1]
	}
	p.top = off + n
	p.Peak = max(p.Peak, p.top)
	return off
}

// release returns n elements at off (as given to alloc) to the free list.
func (p *planner) release(off, n int) {
	n = alignUp(max(n, 1))
	if off+n == p.top {
		p.top = off
		// a free block now at the top lowers it further
		if k := len(p.free); k > 0 && p.free[k-1].off+p.free[k-1].n == p.top {
			p.top = p.free[k-1].off
			p.free = p.free[:k-1]
		}
		return
	}
	i := sort.Search(len(p.free), func(i int) bool { return p.free[i].off > off })
	p.free = append(p.free, block{})
	copy(p.free[i+1:], p.free[i:])
	p.free[i] = block{off, n}
	// merge with the next, then with the previous
	if i+1 < len(p.free) && p.free[i].off+p.free[i].n == p.free[i+1].off {
		p.free[i].n += p.free[i+1].n
		p.free = append(p.free[:i+1], p.free[i+2:]...)
	}
	if i > 0 && p.free[i-1].off+p.free[i-1].n == p.free[i].off {
		p.free[i-1].n += p.free[i].n
		p.free = append(p.free[:i], p.free[i+1:]...)
	}
}
