package outbox

// Store makes the outbox durable. Commit writes one Change atomically and
// durably; an error means none of it may be assumed written.
type Store interface {
	Commit(*Change) error
	// Full reports whether the store has reached its size cap; new series
	// are then refused.
	Full() bool
	Close() error
}

// Change is one transaction's worth of record updates. Deletions apply
// before insertions.
type Change struct {
	DeleteEvents []uint64
	PutEvents    []EventRecord
	DeleteOpen   []Key
	PutOpen      []OpenRecord
}

// Empty reports whether the change writes nothing.
func (c *Change) Empty() bool {
	return len(c.DeleteEvents)+len(c.PutEvents)+len(c.DeleteOpen)+len(c.PutOpen) == 0
}

// EventRecord is a frozen event as stored.
type EventRecord struct {
	Seq      uint64
	Key      Key
	Units    int64
	End      int64 // window end: with the key, what the id is derived from
	ID       ID
	Customer string // empty until bound
}

// OpenRecord is a series' open usage and fraction as stored.
type OpenRecord struct {
	Key   Key
	Units int64
	Rem   Remainder
}
