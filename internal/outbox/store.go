package outbox

import (
	"errors"

	"github.com/aiorch/litewavemetric/internal/usage"
)

// Store makes the outbox durable. Commit writes one Change atomically and
// durably (synced) before it returns; an error means none of it may be
// assumed written.
type Store interface {
	Commit(*Change) error
	// Full reports whether what the store holds, with pending more bytes
	// not committed yet, has reached its cap; new series are then refused.
	Full(pending int64) bool
	Close() error
}

// AckLog is a Store that records acknowledgements ahead of the commit that
// deletes their records, cheaply: written, not synced. A process that dies
// before that commit then does not send them again at its restart; a
// machine that crashes may lose what was not synced, and those events are
// sent again with their keys. The commit still deletes the records, and
// what is Released to a usage.Recoverable backend follows the commit.
type AckLog interface {
	// Acked records that the events of seqs, delivered, need not be sent
	// again (a seq whose record the store does not hold names nothing). An
	// error costs only that: the commit deletes them.
	Acked(seqs []uint64) error
}

// ErrStoreLost is wrapped by a Commit error when the store found its file
// removed or replaced: it has started a fresh, empty one, and nothing it
// held before can be assumed kept. The outbox then writes everything it
// holds again.
var ErrStoreLost = errors.New("spool file was removed or replaced")

// Change is one transaction's worth of record updates. Deletions apply
// before insertions.
type Change struct {
	DeleteEvents   []uint64
	PutEvents      []EventRecord
	DeleteOpen     []Key
	PutOpen        []OpenRecord
	DeleteRejected []Key
	PutRejected    []RejectedRecord
	DeleteStreams  []StreamID
	PutStreams     []StreamRecord
	// Mark is the backend's recovery mark (usage.Recoverable), stored
	// whole; nil leaves the stored one.
	Mark []byte
}

// Empty reports whether the change writes nothing.
func (c *Change) Empty() bool {
	return len(c.DeleteEvents)+len(c.PutEvents)+len(c.DeleteOpen)+len(c.PutOpen)+
		len(c.DeleteRejected)+len(c.PutRejected)+len(c.DeleteStreams)+len(c.PutStreams) == 0
}

// EventRecord is a frozen event as stored: everything it is sent with.
type EventRecord struct {
	Seq        uint64
	Key        Key
	Units      int64
	Start, End int64
	ID         usage.ID
	Customer   string // empty until bound
}

// OpenRecord is a series' open usage and fraction as stored.
type OpenRecord struct {
	Key   Key
	Units int64
	Start int64
	Rem   Remainder
}

// RejectedRecord is a series' rejected usage as stored. A restart retries it.
type RejectedRecord struct {
	Key    Key
	Units  int64
	Reason string
	Since  int64
}

// StreamID identifies a cumulative stream across restarts: a hash of its
// resource, scope, instrument and attributes.
type StreamID [16]byte

// StreamRecord is the state of a cumulative stream as stored, so that a
// restart bills only its growth.
type StreamRecord struct {
	ID    StreamID
	Start int64 // the stream's start time, Unix nanoseconds; 0 if unknown
	Int   int64 // the last value of an int64 stream
	Float float64
}
