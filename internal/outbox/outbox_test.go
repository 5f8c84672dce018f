package outbox

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiorch/litewavemetric/internal/retry"
	"github.com/aiorch/litewavemetric/internal/usage"
)

// An event carries its series, the customer, the units and its window, and
// an id derived from the instance, the session and its sequence.
func TestDeliversFrozenUsageAsOneEvent(t *testing.T) {
	b := &fakeBackend{}
	o := newTestOutbox(t, b, newCustomers(map[string]string{"t1": "c1"}))
	before := time.Now().UnixNano()
	r, rep := ingestInts(o, map[Key]int64{k1: 5})
	assert.Equal(t, int64(5), rep.Units)
	wait(t, r)
	res := o.Release(r)
	assert.Equal(t, int64(1), res.Delivered)
	assert.Equal(t, int64(5), res.DeliveredUnits)

	got := b.delivered()
	require.Len(t, got, 1)
	ev := got[0]
	assert.Equal(t, k1, ev.Key)
	assert.Equal(t, "c1", ev.Customer)
	assert.Equal(t, int64(5), ev.Units)
	assert.Equal(t, usage.DeriveID("test", o.session, k1, 1), ev.ID)
	assert.LessOrEqual(t, ev.Start, before, "the window starts where the previous collection ended")
	assert.GreaterOrEqual(t, ev.End, before)
	assert.Less(t, ev.Start, ev.End)
	st := o.Stats()
	assert.Zero(t, st.OwedUnits)
	assert.Equal(t, int64(5), st.DeliveredUnits)
}

// Two outboxes with the same instance id, fed the same series at the same
// moment, never derive the same key: the session tells them apart.
func TestKeysAreUniqueWhateverTheInstanceID(t *testing.T) {
	seen := map[usage.ID]bool{}
	for range 4 {
		b := &fakeBackend{}
		o := newTestOutbox(t, b, newCustomers(map[string]string{"t1": "c1"}))
		for range 3 {
			r, _ := ingestInts(o, map[Key]int64{k1: 1})
			wait(t, r)
		}
		for _, ev := range b.delivered() {
			assert.False(t, seen[ev.ID], "key %s sent twice", ev.ID)
			seen[ev.ID] = true
		}
	}
	assert.Len(t, seen, 12)
}

// While an event is in flight, new usage accumulates in the open entry and
// becomes the next event once the first is acknowledged: never two requests
// of one series at once, never more than two entries.
func TestOneInFlightPerSeriesAndOpenBecomesNextEvent(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan usage.Event, 10)
	b := &fakeBackend{respond: func(ev usage.Event) usage.Outcome {
		entered <- ev
		if ev.Units == 1 {
			<-release
		}
		return usage.Outcome{Result: usage.Delivered}
	}}
	o := newTestOutbox(t, b, newCustomers(map[string]string{"t1": "c1"}))
	r1, _ := ingestInts(o, map[Key]int64{k1: 1})
	first := <-entered
	for range 5 {
		ingestInts(o, map[Key]int64{k1: 2})
	}
	st := o.Stats()
	assert.Equal(t, int64(1), st.OwedEvents, "one frozen event, the rest open")
	assert.Equal(t, int64(11), st.OwedUnits)
	assert.Equal(t, int64(1), st.InFlight)
	close(release)
	wait(t, r1)
	second := <-entered
	flush(t, o)
	assert.Equal(t, int64(10), second.Units, "open usage went out as one event")
	assert.NotEqual(t, first.ID, second.ID)
	assert.Equal(t, first.End, second.Start, "the second window starts where the first ended")
	assert.Len(t, b.delivered(), 2)
}

func TestRetryRepeatsTheSameEventThenDelivers(t *testing.T) {
	var mu sync.Mutex
	n := 0
	b := &fakeBackend{respond: func(usage.Event) usage.Outcome {
		mu.Lock()
		defer mu.Unlock()
		if n++; n <= 3 {
			return retryWith(errors.New("connection refused"))
		}
		return usage.Outcome{Result: usage.Delivered}
	}}
	o := newTestOutbox(t, b, newCustomers(map[string]string{"t1": "c1"}))
	r, _ := ingestInts(o, map[Key]int64{k1: 7})
	wait(t, r)
	assert.Equal(t, int64(1), o.Release(r).Deferred)
	flush(t, o)
	got := b.delivered()
	require.Len(t, got, 4)
	for _, ev := range got {
		assert.Equal(t, got[0], ev, "every attempt sends the same event")
	}
	assert.Equal(t, int64(3), o.Stats().Retries)
}

// A rejected event is set aside; later usage of its series goes on as new
// events, bound to a customer asked afresh. RetryRejected sends the rejected
// usage again under a new key.
func TestRejectedUsageIsSetAsideAndLaterUsageGoesOn(t *testing.T) {
	customers := newCustomers(map[string]string{"t1": "old"})
	b := &fakeBackend{respond: func(ev usage.Event) usage.Outcome {
		if ev.Customer == "old" {
			return rejectWith(errors.New("customer old is closed"))
		}
		return usage.Outcome{Result: usage.Delivered}
	}}
	var background []Rejected
	var mu sync.Mutex
	o := newTestOutbox(t, b, customers, func(c *Config) {
		c.OnRejected = func(p Rejected) { mu.Lock(); background = append(background, p); mu.Unlock() }
	})
	r, _ := ingestInts(o, map[Key]int64{k1: 3})
	wait(t, r)
	res := o.Release(r)
	require.Len(t, res.Rejected, 1)
	assert.Equal(t, k1, res.Rejected[0].Key)
	assert.Equal(t, int64(3), res.Rejected[0].Units)
	assert.Contains(t, res.Rejected[0].Reason, "closed")

	customers.set("t1", "new", nil) // the tenant's account changed
	r, _ = ingestInts(o, map[Key]int64{k1: 4})
	wait(t, r)
	flush(t, o)
	st := o.Stats()
	assert.Equal(t, int64(4), st.DeliveredUnits, "later usage is delivered, not held behind the rejection")
	assert.Equal(t, int64(3), st.RejectedUnits)
	assert.Equal(t, int64(1), st.RejectedEvents)
	assert.Zero(t, st.OwedUnits)
	rejected := o.Rejected()
	require.Len(t, rejected, 1)
	assert.Equal(t, int64(3), rejected[0].Units)
	mu.Lock()
	assert.Empty(t, background, "reported through the round, not twice")
	mu.Unlock()

	assert.Equal(t, 1, o.RetryRejected())
	flush(t, o)
	st = o.Stats()
	assert.Equal(t, int64(7), st.DeliveredUnits)
	assert.Zero(t, st.RejectedUnits)
	got := b.delivered()
	last := got[len(got)-1]
	assert.Equal(t, "new", last.Customer)
	assert.Equal(t, int64(3), last.Units)
	assert.NotEqual(t, got[0].ID, last.ID, "rejected usage goes again under a new key")
}

func TestFailedLookupKeepsUsageOwedUntilItSucceeds(t *testing.T) {
	customers := newCustomers(map[string]string{})
	customers.set("t1", "", errors.New("lookup: 503"))
	b := &fakeBackend{}
	o := newTestOutbox(t, b, customers)
	r, _ := ingestInts(o, map[Key]int64{k1: 9})
	wait(t, r)
	assert.Equal(t, int64(1), o.Release(r).Deferred)
	assert.Empty(t, b.delivered())
	assert.Equal(t, int64(9), o.Stats().OwedUnits)

	customers.set("t1", "c1", nil)
	flush(t, o)
	got := b.delivered()
	require.Len(t, got, 1)
	assert.Equal(t, "c1", got[0].Customer)
	assert.Equal(t, int64(9), got[0].Units)
}

// Batches never exceed the backend's limit, and a collection of many
// series goes out in few of them.
func TestBatchesHoldAtMostMaxBatchEvents(t *testing.T) {
	b := &fakeBackend{maxBatch: 10}
	o := newTestOutbox(t, b, newCustomers(map[string]string{"t1": "c1"}), func(c *Config) { c.Concurrency = 1 })
	// A first event binds the customer, so the next collection's events
	// are frozen bound and all ready at once.
	r, _ := ingestInts(o, map[Key]int64{k1: 1})
	wait(t, r)
	points := map[Key]int64{}
	for i := range 25 {
		points[key("t1", string(rune('a'+i)), "m")] = 1
	}
	r, _ = ingestInts(o, points)
	wait(t, r)
	b.mu.Lock()
	batches := append([]int(nil), b.batches[1:]...)
	b.mu.Unlock()
	assert.Equal(t, []int{10, 10, 5}, batches)
	assert.Equal(t, int64(26), o.Stats().DeliveredUnits)
}

func TestBadValuesAndOverflowAreRejectedLoudly(t *testing.T) {
	b := &fakeBackend{}
	o := newTestOutbox(t, b, newCustomers(map[string]string{"t1": "c1"}))
	var c Collection
	c.IntKey(k1, nil, -1)
	c.FloatKey(k1, nil, -0.5)
	c.FloatKey(k1, nil, math.NaN())
	c.IntKey(k1, nil, 1<<62)
	c.IntKey(k1, nil, 1<<62-1) // the total is now math.MaxInt64
	c.IntKey(k1, nil, 1)       // overflows
	c.FloatKey(k1, nil, 1e30)  // too large for int64 units
	r, rep := o.Ingest(&c)
	wait(t, r)
	assert.Equal(t, 3, rep.BadValue.Points)
	assert.Zero(t, rep.BadValue.Units, "negative or NaN values are no amount: counters never run backwards")
	assert.Equal(t, 2, rep.TooLarge.Points)
	flush(t, o)
	st := o.Stats()
	assert.Equal(t, int64(math.MaxInt64), st.DeliveredUnits, "valid usage beside them is billed")
	assert.GreaterOrEqual(t, st.RefusedUnits, 0.0)
}

func TestSeriesCapRefusesNewSeriesButKeepsExistingOnes(t *testing.T) {
	b := &fakeBackend{respond: func(usage.Event) usage.Outcome { return retryWith(errors.New("down")) }}
	o := newTestOutbox(t, b, newCustomers(map[string]string{"t1": "c1"}), func(c *Config) { c.MaxSeries = 2 })
	r, rep := ingestInts(o, map[Key]int64{key("t1", "a", "m"): 1, key("t1", "b", "m"): 1})
	wait(t, r)
	assert.Zero(t, rep.OverCapacity.Points)
	_, rep = ingestInts(o, map[Key]int64{key("t1", "c", "m"): 5, key("t1", "a", "m"): 1})
	assert.Equal(t, 1, rep.OverCapacity.Points)
	assert.Equal(t, 5.0, rep.OverCapacity.Units)
	assert.Contains(t, rep.OverCapacity.Reason, "series cap 2")
	assert.Equal(t, int64(3), o.Stats().OwedUnits)
}

func TestIdleSeriesAreEvictedToMakeRoom(t *testing.T) {
	b := &fakeBackend{}
	o := newTestOutbox(t, b, newCustomers(map[string]string{"t1": "c1"}), func(c *Config) { c.MaxSeries = 2 })
	r, _ := ingestInts(o, map[Key]int64{key("t1", "a", "m"): 1, key("t1", "b", "m"): 1})
	wait(t, r)
	flush(t, o)
	r, rep := ingestInts(o, map[Key]int64{key("t1", "c", "m"): 1})
	wait(t, r)
	assert.Zero(t, rep.OverCapacity.Points, "delivered series hold nothing and make room")
	flush(t, o)
	assert.Equal(t, int64(3), o.Stats().DeliveredUnits)
}

// A series whose event failed before it was delivered keeps nothing of
// its retries: it holds nothing, so it makes room like any other.
func TestSeriesThatRecoveredMakeRoom(t *testing.T) {
	var mu sync.Mutex
	failed := map[Key]bool{}
	b := &fakeBackend{respond: func(ev usage.Event) usage.Outcome {
		mu.Lock()
		defer mu.Unlock()
		if !failed[ev.Key] {
			failed[ev.Key] = true
			return retryWith(errors.New("connection refused"))
		}
		return usage.Outcome{Result: usage.Delivered}
	}}
	o := newTestOutbox(t, b, newCustomers(map[string]string{"t1": "c1"}), func(c *Config) { c.MaxSeries = 2 })
	r, _ := ingestInts(o, map[Key]int64{key("t1", "a", "m"): 1, key("t1", "b", "m"): 1})
	wait(t, r)
	flush(t, o)
	assert.Equal(t, int64(2), o.Stats().Retries)
	_, rep := ingestInts(o, map[Key]int64{key("t1", "c", "m"): 1})
	assert.Zero(t, rep.OverCapacity.Points, "delivered series hold nothing and make room")
	flush(t, o)
	assert.Equal(t, int64(3), o.Stats().DeliveredUnits)
}

func TestCloseAbandonsInFlightRequestsAndKeepsThemOwed(t *testing.T) {
	entered := make(chan struct{})
	var o *Outbox
	b := &fakeBackend{respond: func(usage.Event) usage.Outcome {
		close(entered)
		<-o.ctx.Done()
		return retryWith(o.ctx.Err())
	}}
	var reports []Health
	cfg := testConfig(b, newCustomers(map[string]string{"t1": "c1"}))
	cfg.Concurrency = 1
	cfg.Retry = retry.Policy{InitialInterval: time.Second, MaxInterval: time.Second}
	cfg.OnHealth = func(h Health) { reports = append(reports, h) }
	o = New(cfg)
	o.Start()
	ingestInts(o, map[Key]int64{k1: 4})
	<-entered
	require.NoError(t, o.Close())
	st := o.Stats()
	assert.Equal(t, int64(4), st.OwedUnits)
	assert.Equal(t, int64(0), st.InFlight)
	assert.Empty(t, reports, "a request the outbox abandoned itself is no outage")
}

// Flush waits within its context, and returns its cause when it ends.
func TestFlushHonoursItsContext(t *testing.T) {
	b := &fakeBackend{respond: func(usage.Event) usage.Outcome { return retryWith(errors.New("down")) }}
	o := newTestOutbox(t, b, newCustomers(map[string]string{"t1": "c1"}))
	ingestInts(o, map[Key]int64{k1: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, o.Flush(ctx), context.DeadlineExceeded)
}

// Once a Flush starts, events waiting on a long backoff are attempted at
// once, and failures retry on the short flush backoff: a backend that
// comes back during the flush gets the usage at once.
func TestFlushRetriesOnTheShortBackoff(t *testing.T) {
	var mu sync.Mutex
	down := true
	attempts := 0
	b := &fakeBackend{respond: func(usage.Event) usage.Outcome {
		mu.Lock()
		defer mu.Unlock()
		attempts++
		if down {
			return retryWith(errors.New("503"))
		}
		return usage.Outcome{Result: usage.Delivered}
	}}
	o := newTestOutbox(t, b, newCustomers(map[string]string{"t1": "c1"}), func(c *Config) {
		c.Retry = retry.Policy{InitialInterval: time.Hour, MaxInterval: time.Hour, MaxRetryAfter: time.Hour}
	})
	r, _ := ingestInts(o, map[Key]int64{k1: 2})
	wait(t, r) // first attempt failed: next one in an hour

	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done <- o.Flush(ctx)
	}()
	// Polls for the moment the flush has failed a few times; nothing is
	// asserted by timing.
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return attempts >= 4 }, 10*time.Second, time.Millisecond,
		"the flush retries on its short backoff, not the hour")
	mu.Lock()
	down = false
	mu.Unlock()
	require.NoError(t, <-done)
	assert.Equal(t, int64(2), o.Stats().DeliveredUnits)
}

// A server's wait is honoured as the server's: not cut short by a flush,
// and not stretched to the long backoff either.
func TestServerWaitIsTheWait(t *testing.T) {
	var mu sync.Mutex
	var at []time.Time
	b := &fakeBackend{respond: func(usage.Event) usage.Outcome {
		mu.Lock()
		defer mu.Unlock()
		at = append(at, time.Now())
		if len(at) == 1 {
			return usage.Outcome{Result: usage.Retry, Wait: 300 * time.Millisecond, Err: errors.New("429")}
		}
		return usage.Outcome{Result: usage.Delivered}
	}}
	o := newTestOutbox(t, b, newCustomers(map[string]string{"t1": "c1"}), func(c *Config) {
		c.Retry = retry.Policy{InitialInterval: time.Hour, MaxInterval: time.Hour, MaxRetryAfter: time.Hour}
	})
	r, _ := ingestInts(o, map[Key]int64{k1: 1})
	wait(t, r)
	flush(t, o)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, at, 2)
	assert.GreaterOrEqual(t, at[1].Sub(at[0]), 300*time.Millisecond, "the flush waited for the server")
}
