package kafka

import (
	"sync/atomic"
	"unsafe"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/aiorch/litewavemetric/internal/usage"
)

// promises collects what franz-go reports of one Send's records, and holds
// those records and their bytes. Its promise goroutine fills it; Send
// reads it once, when every record has reported or ctx ended: one wakeup
// per Send, not one per record. Once every record has reported, franz-go
// is done with them, and a later Send reuses the whole: the records, their
// bytes and the promise, so that Sends allocate nothing per record.
//
// A promise writes only its own record's entries, errs[i] before
// fired[i], so that reporting takes no lock: Send reads errs[i] once
// fired[i] says it is written.
type promises struct {
	errs  []error
	fired []atomic.Bool
	left  atomic.Int64
	all   chan struct{} // closed when left reaches 0

	recs   []kgo.Record
	bytes  []byte
	enc    usage.RecordEncoder
	report func(*kgo.Record, error) // the promise of every record in recs
}

// takePromises returns promises for n records (n > 0), reused if one is
// free.
func (b *Backend) takePromises(n int) *promises {
	p, _ := b.promises.Get().(*promises)
	if p == nil {
		p = new(promises)
		// One promise for all the records, rather than one closure per
		// record: franz-go hands it the record, which says which it is.
		p.report = func(r *kgo.Record, err error) { b.fire(p, p.index(r), err) }
	}
	if cap(p.recs) < n {
		p.errs, p.fired, p.recs = make([]error, n), make([]atomic.Bool, n), make([]kgo.Record, n)
		p.bytes = make([]byte, 0, n*recordGuess)
	}
	p.errs, p.fired, p.recs = p.errs[:n], p.fired[:n], p.recs[:n]
	clear(p.errs)
	clear(p.fired)
	p.bytes = p.bytes[:0]
	p.left.Store(int64(n))
	p.all = make(chan struct{})
	return p
}

// index returns the position of r in p.recs. franz-go passes each promise
// the pointer it was given with the record, which is into p.recs.
func (p *promises) index(r *kgo.Record) int {
	offset := uintptr(unsafe.Pointer(r)) - uintptr(unsafe.Pointer(unsafe.SliceData(p.recs)))
	return int(offset / unsafe.Sizeof(kgo.Record{}))
}

// fire records the outcome of record i of p.
func (b *Backend) fire(p *promises, i int, err error) {
	p.errs[i] = err
	p.fired[i].Store(true)
	b.countReported(p, 1)
}

// countReported counts n more records of p as reported. The last ends
// the Send's count in pending.
func (b *Backend) countReported(p *promises, n int) {
	if p.left.Add(int64(-n)) == 0 {
		close(p.all)
		b.pending.Done()
	}
}
