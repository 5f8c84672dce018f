package outbox

import (
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// loggedStore is a memStore with an AckLog, as the spool has, whose
// commits that only delete events wait until released.
type loggedStore struct {
	*memStore
	deletions chan struct{} // closed by release
	once      sync.Once
	logMu     sync.Mutex
	logged    []uint64
	fail      error // Acked fails with it, if set
}

func newLoggedStore(fail error) *loggedStore {
	return &loggedStore{memStore: newMemStore(), deletions: make(chan struct{}), fail: fail}
}

func (l *loggedStore) Commit(ch *Change) error {
	if len(ch.DeleteEvents) > 0 && len(ch.PutEvents) == 0 {
		<-l.deletions
	}
	return l.memStore.Commit(ch)
}

func (l *loggedStore) release() { l.once.Do(func() { close(l.deletions) }) }

func (l *loggedStore) Acked(seqs []uint64) error {
	l.logMu.Lock()
	defer l.logMu.Unlock()
	if l.fail != nil {
		return l.fail
	}
	l.logged = append(l.logged, seqs...)
	return nil
}

// resent is what a process killed now would send again at its restart:
// the events the store holds that the log does not name.
func (l *loggedStore) resent() []EventRecord {
	l.logMu.Lock()
	defer l.logMu.Unlock()
	var out []EventRecord
	for _, r := range l.contents().Events {
		if !slices.Contains(l.logged, r.Seq) {
			out = append(out, r)
		}
	}
	return out
}

// Flush returns once what it delivered is deleted from the store, so that
// the store's room is free for new series when it returns (a spool at its
// cap would otherwise refuse them). While that commit is held, the log
// already names every delivered event: a process killed then sends
// nothing again. (With Flush not waiting for the deletion, the first
// assertion fails.)
func TestFlushWaitsForTheDeletionOfWhatItDelivered(t *testing.T) {
	st := newLoggedStore(nil)
	customers := newCustomers(map[string]string{"t1": "c1"})
	customers.cached["t1"] = true
	o := newTestOutbox(t, &fakeBackend{}, customers, func(c *Config) { c.Store = st })
	defer st.release() // Close waits for the scheduler, which may be held
	r, _ := ingestInts(o, map[Key]int64{k1: 2, key("t1", "d2", "pages"): 3})
	wait(t, r)

	f, returned := startFlush(t, o, func(o *Outbox) bool { return o.stats.OwedUnits == 0 })
	require.False(t, returned, "Flush returned before the delivered events' deletion was committed")
	assert.NotEmpty(t, st.contents().Events, "the deletion is held")
	assert.Empty(t, st.resent(), "a process killed now sends nothing again: the log names them")

	st.release()
	f.returns("once the deletion was committed")
	assert.Empty(t, st.contents().Events, "the store holds nothing delivered once Flush returned")
}

// When the log cannot be written, the commit that deletes what was
// delivered alone keeps it from being sent again, and Flush waits for it.
func TestFlushWaitsForTheDeletionWhenTheAckLogFails(t *testing.T) {
	st := newLoggedStore(errors.New("disk full"))
	customers := newCustomers(map[string]string{"t1": "c1"})
	customers.cached["t1"] = true
	o := newTestOutbox(t, &fakeBackend{}, customers, func(c *Config) { c.Store = st })
	defer st.release()
	r, _ := ingestInts(o, map[Key]int64{k1: 2})
	wait(t, r)

	f, returned := startFlush(t, o, func(o *Outbox) bool { return o.stats.OwedUnits == 0 })
	require.False(t, returned, "Flush returned before the delivered event's deletion was committed")
	assert.NotEmpty(t, st.resent(), "a process killed now would send it again")

	st.release()
	f.returns("once the deletion was committed")
	assert.Empty(t, st.resent(), "nothing is sent again once Flush returned")
}
