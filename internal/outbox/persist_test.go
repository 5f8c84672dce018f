package outbox

import (
	"context"
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

func (m *memStore) Full() bool { return false }

func (m *memStore) setFail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail = err
}

// records is what a process starting on the store would find.
func (m *memStore) records() ([]EventRecord, []OpenRecord) {
	ev, op := m.snapshot()
	var events []EventRecord
	for _, r := range ev {
		events = append(events, r)
	}
	var opens []OpenRecord
	for _, r := range op {
		opens = append(opens, r)
	}
	return events, opens
}
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
	type seen struct {
		d      Delivery
		stored map[uint64]EventRecord
	}
	sends := make(chan seen, 1)
	b := &fakeBackend{customers: map[string]string{"t1": "c1"}, lookups: 1}
	b.respond = func(d Delivery) error {
		ev, _ := st.snapshot()
		sends <- seen{d, ev}
		return nil
	}
	o := newTestOutbox(t, b, func(c *Config) { c.Store = st })
	r, _ := ingest(o, map[Key]int64{k1: 3})
	require.NoError(t, o.Persist())
	wait(t, r)
	s := <-sends
	require.Len(t, s.stored, 1, "stored before the send")
	for _, rec := range s.stored {
		assert.Equal(t, s.d.ID, rec.ID)
		assert.Equal(t, s.d.Customer, rec.Customer)
	}
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
	entered, release := make(chan struct{}), make(chan struct{})
	b := &fakeBackend{customers: map[string]string{"t1": "c1"}, lookups: 1}
	b.respond = func(d Delivery) error {
		if d.Units == 1 {
			close(entered)
			<-release
		}
		return nil
	}
	o := newTestOutbox(t, b, func(c *Config) { c.Store = st })
	r, _ := ingest(o, map[Key]int64{k1: 1})
	require.NoError(t, o.Persist())
	<-entered // the first event is in flight
	ingest(o, map[Key]int64{k1: 4})
	require.NoError(t, o.Persist())
	close(release)
	wait(t, r)
	flush(t, o)
	assert.Equal(t, int64(5), o.Stats().DeliveredUnits)
}

// A failing store holds new events back, unsent, until a commit succeeds:
// the failure is counted and returned, and once the store works again the
// events are stored, then sent.
func TestStoreFailureHoldsEventsUntilStored(t *testing.T) {
	st := newMemStore()
	st.setFail(errors.New("disk full"))
	b := &fakeBackend{customers: map[string]string{"t1": "c1"}, lookups: 1}
	o := newTestOutbox(t, b, func(c *Config) { c.Store = st })
	ingest(o, map[Key]int64{k1: 2})
	require.ErrorContains(t, o.Persist(), "disk full")
	assert.Empty(t, b.delivered(), "not sent before it is stored")
	assert.Equal(t, int64(1), o.Stats().StoreErrors)

	st.setFail(nil)
	require.NoError(t, o.Persist())
	flush(t, o)
	require.Len(t, b.delivered(), 1)
	require.NoError(t, o.Persist()) // the deletion, batched otherwise
	ev, _ := st.snapshot()
	assert.Empty(t, ev, "stored, sent, acknowledged and deleted")
}

// Regression (review): with a failing store, an event frozen from open
// usage was sent while the store still held that open amount; a restart
// then sent those units again under a new key. Now the event waits for the
// store, so across the restart each unit is billed under one key.
func TestStoreFailureThenRestartBillsOnce(t *testing.T) {
	st := newMemStore()
	entered, release := make(chan struct{}), make(chan struct{})
	b := &fakeBackend{customers: map[string]string{"t1": "c1"}, lookups: 1}
	b.respond = func(d Delivery) error {
		if d.Units == 3 {
			close(entered)
			<-release
		}
		return nil
	}
	o := newTestOutbox(t, b, func(c *Config) { c.Store = st })
	r1, _ := ingest(o, map[Key]int64{k1: 3})
	require.NoError(t, o.Persist())
	<-entered
	ingest(o, map[Key]int64{k1: 5}) // open while the first event is in flight
	require.NoError(t, o.Persist())
	st.setFail(errors.New("ENOSPC"))
	close(release) // acknowledged: the 5 units become the next event
	wait(t, r1)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, o.Flush(ctx), context.DeadlineExceeded, "the next event waits for the store")
	require.ErrorContains(t, o.Close(), "ENOSPC", "the final commit fails too, and says so")

	// The process dies; the next one starts from what the store holds.
	events, opens := st.records()
	b2 := &fakeBackend{customers: map[string]string{"t1": "c1"}, lookups: 1}
	o2 := New(Config{Instance: "next", MaxSeries: 10, Concurrency: 1, IdleTTL: time.Hour, Backend: b2, Classify: classify, Store: newMemStore()})
	require.NoError(t, o2.Restore(events, opens))
	o2.Start()
	defer o2.Close()
	flush(t, o2)
	billed := map[ID]int64{}
	for _, d := range append(b.delivered(), b2.delivered()...) {
		billed[d.ID] = d.Units
	}
	var total int64
	for _, u := range billed {
		total += u
	}
	assert.Equal(t, int64(8), total, "3 + 5 counted, each unit under one key: %v", billed)
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
