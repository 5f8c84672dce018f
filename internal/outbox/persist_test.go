package outbox

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// memStore is a Store in memory that can be made to fail.
type memStore struct {
	mu      sync.Mutex
	events  map[uint64]EventRecord
	opens   map[Key]OpenRecord
	commits int
	fail    error
}

func newMemStore() *memStore {
	return &memStore{events: map[uint64]EventRecord{}, opens: map[Key]OpenRecord{}}
}

func (m *memStore) Commit(ch *Change) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.commits++
	for _, q := range ch.DeleteEvents {
		delete(m.events, q)
	}
	for _, k := range ch.DeleteOpen {
		delete(m.opens, k)
	}
	for _, r := range ch.PutEvents {
		m.events[r.Seq] = r
	}
	for _, r := range ch.PutOpen {
		m.opens[r.Key] = r
	}
	return nil
}

func (m *memStore) Full() bool   { return false }
func (m *memStore) Close() error { return nil }

func (m *memStore) snapshot() (map[uint64]EventRecord, map[Key]OpenRecord) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ev, op := map[uint64]EventRecord{}, map[Key]OpenRecord{}
	for k, v := range m.events {
		ev[k] = v
	}
	for k, v := range m.opens {
		op[k] = v
	}
	return ev, op
}

// An event is in the store before its first attempt.
func TestStoreHoldsEventsBeforeTheyAreSent(t *testing.T) {
	st := newMemStore()
	b := &fakeBackend{customers: map[string]string{"t1": "c1"}, lookups: 1}
	b.respond = func(d Delivery) error {
		ev, _ := st.snapshot()
		require.Len(t, ev, 1, "stored before the send")
		for _, r := range ev {
			assert.Equal(t, d.ID, r.ID)
			assert.Equal(t, d.Customer, r.Customer)
		}
		return nil
	}
	o := newTestOutbox(t, b, func(c *Config) { c.Store = st })
	r, _ := ingest(o, map[Key]int64{k1: 3})
	require.NoError(t, o.Persist())
	wait(t, r)
	flush(t, o)
	require.NoError(t, o.Persist())
	ev, op := st.snapshot()
	assert.Empty(t, ev, "acknowledged events are deleted")
	assert.Empty(t, op)
}

// Regression: usage that arrives while an event is in flight is frozen when
// the event is acknowledged; with a store that new event must be committed
// and sent without waiting for another Export.
func TestStoreReleasesEventsFrozenOnAcknowledgement(t *testing.T) {
	st := newMemStore()
	release := make(chan struct{})
	b := &fakeBackend{customers: map[string]string{"t1": "c1"}, lookups: 1}
	b.respond = func(d Delivery) error {
		if d.Units == 1 {
			<-release
		}
		return nil
	}
	o := newTestOutbox(t, b, func(c *Config) { c.Store = st })
	r, _ := ingest(o, map[Key]int64{k1: 1})
	require.NoError(t, o.Persist())
	for o.Stats().InFlight == 0 {
		time.Sleep(time.Millisecond) // polls for a state, asserts nothing by timing
	}
	ingest(o, map[Key]int64{k1: 4})
	require.NoError(t, o.Persist())
	close(release)
	wait(t, r)
	flush(t, o)
	assert.Equal(t, int64(5), o.Stats().DeliveredUnits)
}

// A failing store does not stop delivery: the events are sent all the same,
// the failure is counted and returned, and the records are written by the
// next commit that succeeds.
func TestStoreFailureDoesNotBlockDelivery(t *testing.T) {
	st := newMemStore()
	st.fail = errors.New("disk full")
	b := &fakeBackend{customers: map[string]string{"t1": "c1"}, lookups: 1}
	b.respond = func(Delivery) error { return errors.New("backend down") }
	o := newTestOutbox(t, b, func(c *Config) { c.Store = st })
	r, _ := ingest(o, map[Key]int64{k1: 2})
	err := o.Persist()
	require.ErrorContains(t, err, "disk full")
	wait(t, r)
	assert.Equal(t, int64(1), o.Result(r).Deferred, "sent despite the store")
	assert.GreaterOrEqual(t, o.Stats().StoreErrors, int64(1))

	st.mu.Lock()
	st.fail = nil
	st.mu.Unlock()
	require.NoError(t, o.Persist())
	ev, _ := st.snapshot()
	assert.Len(t, ev, 1, "the owed event reaches the store once it works again")
}

// Restore puts stored events back in their original order with their
// original ids, and turns stored open usage into new events.
func TestRestoreReplaysInOrder(t *testing.T) {
	b := &fakeBackend{customers: map[string]string{"t1": "c1", "t2": "c2"}, lookups: 1}
	id1, id2 := DeriveID("old", k1, 2), DeriveID("old", Key{"t2", "d", "m"}, 2)
	o := New(Config{Instance: "new", MaxSeries: 10, Concurrency: 1, IdleTTL: time.Hour, Backend: b, Classify: classify, Store: newMemStore()})
	require.NoError(t, o.Restore(
		[]EventRecord{
			{Seq: 9, Key: Key{"t2", "d", "m"}, Units: 2, End: 2, ID: id2, Customer: "c2"},
			{Seq: 4, Key: k1, Units: 1, End: 2, ID: id1, Customer: "c1"},
		},
		[]OpenRecord{{Key: Key{"t3", "d", "m"}, Units: 5}}))
	b.customers["t3"] = "c3"
	o.Start()
	defer o.Close()
	flush(t, o)
	got := b.delivered()
	require.Len(t, got, 3)
	assert.Equal(t, id1, got[0].ID, "seq 4 first")
	assert.Equal(t, id2, got[1].ID)
	assert.Equal(t, int64(5), got[2].Units)
	assert.Equal(t, int64(8), o.Stats().DeliveredUnits)

	dup := New(Config{Instance: "x", MaxSeries: 10, Concurrency: 1, Backend: b, Classify: classify})
	err := dup.Restore([]EventRecord{{Seq: 1, Key: k1, Units: 1, ID: id1}, {Seq: 2, Key: k1, Units: 1, ID: id2}}, nil)
	assert.ErrorContains(t, err, "two stored events")
}
