package outbox

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiorch/litewavemetric/internal/usage"
)

// An event is in the store before its first attempt: the backend, when it
// is first sent an event, finds the store holding it with the same id and
// customer. No test call to Persist races the outbox here: the outbox's own
// commit must come first. (With makeSendable changed to send before storing,
// this fails.)
func TestStoreHoldsEventsBeforeTheyAreSent(t *testing.T) {
	st := newMemStore()
	type seen struct {
		ev     usage.Event
		stored Contents
	}
	sends := make(chan seen, 4)
	customers := newCustomers(map[string]string{"t1": "c1"})
	b := &fakeBackend{respond: func(ev usage.Event) usage.Outcome {
		sends <- seen{ev, st.contents()}
		return usage.Outcome{Result: usage.Delivered}
	}}
	o := newTestOutbox(t, b, customers, func(c *Config) { c.Store = st })
	for _, n := range []int64{3, 4} { // unbound, then bound at freezing
		r, _ := ingestInts(o, map[Key]int64{k1: n})
		wait(t, r)
		s := <-sends
		require.Len(t, s.stored.Events, 1, "stored before the send")
		assert.Equal(t, s.ev.ID, s.stored.Events[0].ID)
		assert.Equal(t, s.ev.Customer, s.stored.Events[0].Customer)
		assert.Equal(t, s.ev.Units, s.stored.Events[0].Units)
		assert.Equal(t, s.ev.Start, s.stored.Events[0].Start)
	}
	flush(t, o)
	c := st.contents()
	assert.Empty(t, c.Events, "acknowledged events are deleted")
	assert.Empty(t, c.Opens)
}

// A commit completes before any event it holds is sent: while the store
// has not returned from Commit, the backend sees nothing.
func TestCommitCompletesBeforeTheFirstSend(t *testing.T) {
	st := newMemStore()
	st.gate = make(chan struct{})
	b := &fakeBackend{}
	customers := newCustomers(map[string]string{"t1": "c1"})
	customers.cached["t1"] = true
	o := newTestOutbox(t, b, customers, func(c *Config) { c.Store = st })
	r, _ := ingestInts(o, map[Key]int64{k1: 2})
	select {
	case <-r.Done():
		t.Fatal("the event was attempted while its commit had not returned")
	case <-time.After(100 * time.Millisecond):
	}
	assert.Empty(t, b.delivered(), "nothing sent while the commit is under way")
	close(st.gate)
	wait(t, r)
	assert.Len(t, b.delivered(), 1)
}

// Regression: usage that arrives while an event is in flight is frozen when
// the event is acknowledged; with a store that new event must be committed
// and sent without waiting for another Export.
func TestStoreReleasesEventsFrozenOnAcknowledgement(t *testing.T) {
	st := newMemStore()
	entered, release := make(chan struct{}), make(chan struct{})
	b := &fakeBackend{respond: func(ev usage.Event) usage.Outcome {
		if ev.Units == 1 {
			close(entered)
			<-release
		}
		return usage.Outcome{Result: usage.Delivered}
	}}
	o := newTestOutbox(t, b, newCustomers(map[string]string{"t1": "c1"}), func(c *Config) { c.Store = st })
	r, _ := ingestInts(o, map[Key]int64{k1: 1})
	<-entered // the first event is in flight
	ingestInts(o, map[Key]int64{k1: 4})
	close(release)
	wait(t, r)
	flush(t, o)
	assert.Equal(t, int64(5), o.Stats().DeliveredUnits)
}

// A failing store holds new events back, unsent, until a commit succeeds:
// the failure is counted, returned and reported once, and once the store
// works again the events are stored, then sent.
func TestStoreFailureHoldsEventsUntilStored(t *testing.T) {
	st := newMemStore()
	st.setFail(errors.New("disk full"))
	var reports []Health
	b := &fakeBackend{}
	o := newTestOutbox(t, b, newCustomers(map[string]string{"t1": "c1"}), func(c *Config) {
		c.Store = st
		c.OnHealth = func(h Health) { reports = append(reports, h) }
	})
	ingestInts(o, map[Key]int64{k1: 2})
	require.ErrorContains(t, o.Persist(), "disk full")
	require.ErrorContains(t, o.Persist(), "disk full")
	assert.Empty(t, b.delivered(), "not sent before it is stored")
	assert.GreaterOrEqual(t, o.Stats().SpoolErrors, int64(2))

	st.setFail(nil)
	require.NoError(t, o.Persist())
	flush(t, o)
	require.Len(t, b.delivered(), 1)
	assert.Empty(t, st.contents().Events, "stored, sent, acknowledged and deleted")
	require.Len(t, reports, 2, "the failure was reported when it began and when it ended: %v", reports)
	assert.Equal(t, Spool, reports[0].Class)
	assert.Equal(t, Began, reports[0].State)
	assert.Equal(t, Ended, reports[1].State)
}

// Regression (review): with a failing store, an event frozen from open
// usage was sent while the store still held that open amount; a restart
// then sent those units again under a new key. Now the event waits for the
// store, so across the restart each unit is billed under one key.
func TestStoreFailureThenRestartBillsOnce(t *testing.T) {
	st := newMemStore()
	entered, release := make(chan struct{}), make(chan struct{})
	b := &fakeBackend{respond: func(ev usage.Event) usage.Outcome {
		if ev.Units == 3 {
			close(entered)
			<-release
		}
		return usage.Outcome{Result: usage.Delivered}
	}}
	o := newTestOutbox(t, b, newCustomers(map[string]string{"t1": "c1"}), func(c *Config) { c.Store = st })
	r1, _ := ingestInts(o, map[Key]int64{k1: 3})
	<-entered
	ingestInts(o, map[Key]int64{k1: 5}) // open while the first event is in flight
	require.NoError(t, o.Persist())
	st.setFail(errors.New("ENOSPC"))
	close(release) // acknowledged: the 5 units become the next event
	wait(t, r1)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, o.Flush(ctx), context.DeadlineExceeded, "the next event waits for the store")
	require.ErrorContains(t, o.Close(), "ENOSPC", "the final commit fails too, and says so")

	// The process dies; the next one starts from what the store holds.
	b2 := &fakeBackend{}
	o2 := New(testConfig(b2, newCustomers(map[string]string{"t1": "c1"})))
	require.NoError(t, o2.Restore(st.contents()))
	o2.Start()
	defer o2.Close()
	flush(t, o2)
	billed := map[usage.ID]int64{}
	for _, ev := range append(b.delivered(), b2.delivered()...) {
		billed[ev.ID] = ev.Units
	}
	var total int64
	for _, u := range billed {
		total += u
	}
	assert.Equal(t, int64(8), total, "3 + 5 counted, each unit under one key: %v", billed)
}

// Restore puts stored events back in their original order with their
// original ids and bytes, turns stored open usage into new events, and
// sends rejected usage again.
func TestRestoreReplaysInOrder(t *testing.T) {
	b := &fakeBackend{}
	customers := newCustomers(map[string]string{"t1": "c1", "t2": "c2", "t3": "c3", "t4": "c4"})
	id1, id2 := usage.DeriveID("old", usage.Session{}, k1, 4), usage.DeriveID("old", usage.Session{}, key("t2", "d", "m"), 9)
	o := New(testConfig(b, customers))
	o.cfg.Concurrency = 1
	require.NoError(t, o.Restore(Contents{
		Events: []EventRecord{
			{Seq: 9, Key: key("t2", "d", "m"), Units: 2, Start: 1, End: 2, ID: id2, Customer: "c2"},
			{Seq: 4, Key: k1, Units: 1, Start: 1, End: 2, ID: id1, Customer: "c1"},
		},
		Opens:    []OpenRecord{{Key: key("t3", "d", "m"), Units: 5, Start: 7}},
		Rejected: []RejectedRecord{{Key: key("t4", "d", "m"), Units: 6, Reason: "400", Since: 8}},
	}))
	o.Start()
	defer o.Close()
	flush(t, o)
	got := b.delivered()
	require.Len(t, got, 4)
	assert.Equal(t, usage.Event{ID: id1, Key: k1, Customer: "c1", Units: 1, Start: 1, End: 2}, got[0], "seq 4 first, as stored")
	assert.Equal(t, id2, got[1].ID)
	assert.Equal(t, int64(5+6), got[2].Units+got[3].Units, "open and rejected usage go out as new events")
	assert.NotEqual(t, got[2].ID, got[3].ID)
	assert.Equal(t, int64(14), o.Stats().DeliveredUnits)

	dup := New(testConfig(b, customers))
	err := dup.Restore(Contents{Events: []EventRecord{{Seq: 1, Key: k1, Units: 1, ID: id1}, {Seq: 2, Key: k1, Units: 1, ID: id2}}})
	assert.ErrorContains(t, err, "two stored events")
}

// Rejected usage is stored aside, so that a restart sends it again.
func TestRejectedUsageIsStored(t *testing.T) {
	st := newMemStore()
	b := &fakeBackend{respond: func(usage.Event) usage.Outcome { return rejectWith(errors.New("400 bad meter")) }}
	o := newTestOutbox(t, b, newCustomers(map[string]string{"t1": "c1"}), func(c *Config) { c.Store = st })
	r, _ := ingestInts(o, map[Key]int64{k1: 6})
	wait(t, r)
	flush(t, o)
	c := st.contents()
	assert.Empty(t, c.Events, "the rejected event's record is gone")
	require.Len(t, c.Rejected, 1)
	assert.Equal(t, int64(6), c.Rejected[0].Units)
	assert.Contains(t, c.Rejected[0].Reason, "bad meter")
}

// A store that lost its file (removed under the running process) gets
// everything held written again, and the loss is reported.
func TestLostStoreGetsEverythingAgain(t *testing.T) {
	st := newMemStore()
	var lost []error
	b := &fakeBackend{respond: func(usage.Event) usage.Outcome { return retryWith(errors.New("down")) }}
	o := newTestOutbox(t, b, newCustomers(map[string]string{"t1": "c1"}), func(c *Config) {
		c.Store = st
		c.OnStoreLost = func(err error) { lost = append(lost, err) }
	})
	var col Collection
	col.IntKey(k1, nil, 3)
	col.PutStream(StreamRecord{ID: StreamID{7}, Start: 1, Int: 40})
	r, _ := o.Ingest(&col)
	wait(t, r)
	ingestInts(o, map[Key]int64{k1: 2, key("t1", "d2", "pages"): 1})
	require.NoError(t, o.Persist())

	st.mu.Lock()
	st.lose = true
	st.mu.Unlock()
	ingestInts(o, map[Key]int64{key("t1", "d3", "pages"): 9})
	require.NoError(t, o.Persist(), "the second write, to the fresh store, succeeds")
	require.Len(t, lost, 1)
	c := st.contents()
	var held int64
	for _, e := range c.Events {
		held += e.Units
	}
	for _, op := range c.Opens {
		held += op.Units
	}
	assert.Equal(t, int64(3+2+1+9), held, "everything owed is in the fresh store")
	assert.Equal(t, []StreamRecord{{ID: StreamID{7}, Start: 1, Int: 40}}, c.Streams)
}

// Stream state is committed in the same transaction as the usage it
// produced, and a failed commit keeps it for the next.
func TestStreamRecordsCommitWithUsage(t *testing.T) {
	st := newMemStore()
	b := &fakeBackend{}
	o := newTestOutbox(t, b, newCustomers(map[string]string{"t1": "c1"}), func(c *Config) { c.Store = st })
	st.setFail(errors.New("EIO"))
	var col Collection
	col.IntKey(k1, nil, 5)
	col.PutStream(StreamRecord{ID: StreamID{1}, Int: 5})
	o.Ingest(&col)
	require.Error(t, o.Persist())
	assert.Empty(t, st.contents().Streams)
	st.setFail(nil)
	require.NoError(t, o.Persist())
	c := st.contents()
	require.Len(t, c.Streams, 1)
	require.Len(t, c.Events, 1, "the usage and its stream state arrive together")

	col.DeleteStream(StreamID{1})
	o.Ingest(&col)
	flush(t, o)
	assert.Empty(t, st.contents().Streams)
}
