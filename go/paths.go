package multipool

import "sync"

// chunkBits sets the paths per chunk of the table (4,096): a tag is an index into it.
const chunkBits = 12

// pathTable maps tags to the paths they were added with, so that results carry their path and
// callers never see a tag. Tags are consecutive indexes into chunks of a slice table (cheaper
// than a map or a cgo.Handle per path); a chunk goes back to chunkPool once all its paths have
// come back, emptied, for the next chunk of this session or another: a new 64 KiB chunk is
// memory the process touches for the first time (page faults) and more for the GC to do.
type pathTable struct {
	mu     sync.Mutex
	chunks map[uint64]*chunk
	next   uint64
}

type chunk struct {
	paths [1 << chunkBits]string
	left  int // paths added to the chunk and not yet taken back
}

// chunkPool holds emptied chunks: every path "", left 0.
var chunkPool = sync.Pool{New: func() any { return new(chunk) }}

// add reserves consecutive tags for paths and returns the first.
func (t *pathTable) add(paths []string) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.chunks == nil {
		t.chunks = make(map[uint64]*chunk)
	}
	first := t.next
	for len(paths) > 0 {
		// One lookup per chunk, not per path.
		c := t.chunks[t.next>>chunkBits]
		if c == nil {
			c = chunkPool.Get().(*chunk)
			t.chunks[t.next>>chunkBits] = c
		}
		at := int(t.next & (1<<chunkBits - 1))
		n := copy(c.paths[at:], paths)
		c.left += n
		t.next += uint64(n)
		paths = paths[n:]
	}
	return first
}

// takeLocked returns the path of tag and forgets it, the lock held.
func (t *pathTable) takeLocked(tag uint64) string {
	c := t.chunks[tag>>chunkBits]
	if c == nil {
		return ""
	}
	p := c.paths[tag&(1<<chunkBits-1)]
	c.paths[tag&(1<<chunkBits-1)] = ""
	if c.left--; c.left == 0 && tag>>chunkBits != t.next>>chunkBits {
		delete(t.chunks, tag>>chunkBits)
		chunkPool.Put(c)
	}
	return p
}

// lookLocked returns the path of tag, the lock held, and keeps it.
func (t *pathTable) lookLocked(tag uint64) string {
	if c := t.chunks[tag>>chunkBits]; c != nil {
		return c.paths[tag&(1<<chunkBits-1)]
	}
	return ""
}

// takeAll sets out[i].Path to the path of tags[i], forgetting each, under one lock: a batch of
// results costs one lock, not one per result.
func (t *pathTable) takeAll(tags []uint64, out []Result) {
	t.mu.Lock()
	defer t.mu.Unlock()
	// Consecutive tags mostly share a chunk: look the map up only when the chunk changes.
	var c *chunk
	at := ^uint64(0)
	for i, tag := range tags {
		if tag>>chunkBits != at {
			at, c = tag>>chunkBits, t.chunks[tag>>chunkBits]
		}
		if c == nil {
			out[i].Path = ""
			continue
		}
		slot := &c.paths[tag&(1<<chunkBits-1)]
		out[i].Path, *slot = *slot, ""
		if c.left--; c.left == 0 && at != t.next>>chunkBits {
			delete(t.chunks, at)
			chunkPool.Put(c)
			c = nil
			at = ^uint64(0)
		}
	}
}

// drop forgets n tags from first: their paths were refused.
func (t *pathTable) drop(first uint64, n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range n {
		t.takeLocked(first + uint64(i))
	}
}
