package outbox

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiorch/litewavemetric/internal/usage"
)

// gatedStore is a memStore whose commits, once shut is called, wait at a
// gate and say so.
type gatedStore struct {
	*memStore
	mu      sync.Mutex
	gate    chan struct{}
	entered chan struct{}
	open    sync.Once
}

func newGatedStore() *gatedStore {
	return &gatedStore{memStore: newMemStore(), entered: make(chan struct{}, 1)}
}

func (g *gatedStore) shut() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gate == nil {
		g.gate = make(chan struct{})
	}
}

func (g *gatedStore) release() {
	g.shut()
	g.open.Do(func() { close(g.gate) })
}

func (g *gatedStore) Commit(ch *Change) error {
	g.mu.Lock()
	gate := g.gate
	g.mu.Unlock()
	if gate != nil {
		select {
		case g.entered <- struct{}{}:
		default:
		}
		<-gate
	}
	return g.memStore.Commit(ch)
}

// Flush returns only once the store no longer holds what was delivered: a
// commit under way has taken the acknowledgements out of the queues, and
// Flush waits for it to end. (With settled ignoring the commit under way,
// Flush returns while the deletion is still being written, and this fails.)
func TestFlushWaitsForTheCommitUnderWay(t *testing.T) {
	st := newGatedStore()
	b := &fakeBackend{respond: func(usage.Event) usage.Outcome {
		st.shut() // the next commit, the acknowledgement's, waits at the gate
		return usage.Outcome{Result: usage.Delivered}
	}}
	customers := newCustomers(map[string]string{"t1": "c1"})
	customers.cached["t1"] = true
	o := newTestOutbox(t, b, customers, func(c *Config) { c.Store = st })
	defer st.release() // Close waits for the scheduler, which may be at the gate
	r, _ := ingestInts(o, map[Key]int64{k1: 2})
	wait(t, r)
	select {
	case <-st.entered: // the acknowledgement's commit is under way
	case <-time.After(10 * time.Second):
		t.Fatal("no commit of the acknowledgement")
	}

	// Either Flush returns (wrongly) or it waits for progress.
	f, returned := startFlush(t, o, func(*Outbox) bool { return true })
	require.False(t, returned, "Flush returned while the acknowledgement was being committed")

	st.release()
	f.returns("once the commit ended")
	assert.Empty(t, st.contents().Events, "the delivered event is no longer stored")
}
