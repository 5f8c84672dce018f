package outbox

import (
	"container/heap"
	"slices"
)

// fifo is the queue of series whose event is ready to send, in freezing
// order, so that the oldest usage goes out first.
type fifo struct {
	items []*Series
	head  int
}

// keptReady is the most entries a drained queue keeps room for, 1 MB: a
// steady collection of up to that many events reuses it, a larger one
// grows it again rather than keeping its size for good.
const keptReady = 1 << 17

func (q *fifo) push(s *Series) { q.items = append(q.items, s) }

// reserve makes room for n more series at once: grown by appends, the
// queue of a large collection would allocate about five times its size
// while the collection is sent.
func (q *fifo) reserve(n int) { q.items = slices.Grow(q.items, n) }

func (q *fifo) len() int { return len(q.items) - q.head }

func (q *fifo) pop() *Series {
	if q.head == len(q.items) {
		return nil
	}
	s := q.items[q.head]
	q.items[q.head] = nil
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
		if cap(q.items) > keptReady {
			q.items = nil
		}
	} else if q.head > 1024 && q.head*2 > len(q.items) {
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	return s
}

// retryHeap orders waiting series by the time of their next attempt.
type retryHeap []*Series

func (h retryHeap) Len() int           { return len(h) }
func (h retryHeap) Less(i, j int) bool { return h[i].extra.retry.next < h[j].extra.retry.next }
func (h retryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *retryHeap) Push(x any)        { *h = append(*h, x.(*Series)) }
func (h *retryHeap) Pop() any {
	old := *h
	s := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return s
}

func (h *retryHeap) add(s *Series) { heap.Push(h, s) }

func (h *retryHeap) peek() *Series {
	if len(*h) == 0 {
		return nil
	}
	return (*h)[0]
}

func (h *retryHeap) popMin() *Series { return heap.Pop(h).(*Series) }

// reorder restores the heap after next times were changed in place.
func (h *retryHeap) reorder() { heap.Init(h) }
