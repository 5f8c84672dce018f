package outbox

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/aiorch/litewavemetric/internal/retry"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeBackend records attempts; respond decides each attempt's outcome and
// may block until the test releases it.
type fakeBackend struct {
	mu        sync.Mutex
	customers map[string]string
	lookups   int
	attempts  []Delivery
	respond   func(Delivery) error
	lookupErr error
}

func (b *fakeBackend) CachedCustomer(tenant string) (string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, ok := b.customers[tenant]
	return c, ok && b.lookups > 0 // cached only after a first lookup
}

func (b *fakeBackend) Customer(_ context.Context, tenant string) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lookups++
	if b.lookupErr != nil {
		return "", b.lookupErr
	}
	c, ok := b.customers[tenant]
	if !ok {
		return "", errors.New("no customer")
	}
	return c, nil
}

func (b *fakeBackend) Deliver(_ context.Context, d Delivery) error {
	b.mu.Lock()
	b.attempts = append(b.attempts, d)
	respond := b.respond
	b.mu.Unlock()
	if respond != nil {
		return respond(d)
	}
	return nil
}

func (b *fakeBackend) delivered() []Delivery {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Delivery(nil), b.attempts...)
}

type failure struct {
	permanent  bool
	retryAfter time.Duration
}

func (f failure) Error() string { return fmt.Sprintf("scripted failure (permanent=%v)", f.permanent) }

func classify(err error) Failure {
	var f failure
	if errors.As(err, &f) {
		return Failure{Permanent: f.permanent, RetryAfter: f.retryAfter, Status: 400}
	}
	return Failure{}
}

func newTestOutbox(t *testing.T, b *fakeBackend, mutate ...func(*Config)) *Outbox {
	t.Helper()
	cfg := Config{
		Instance:    "test",
		MaxSeries:   1000,
		Concurrency: 4,
		Retry:       retry.Policy{Initial: time.Millisecond, Max: 4 * time.Millisecond, MaxRetryAfter: time.Minute},
		IdleTTL:     time.Hour,
		Backend:     b,
		Classify:    classify,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	o := New(cfg)
	o.Start()
	t.Cleanup(func() { _ = o.Close() })
	return o
}

func ingest(o *Outbox, points map[Key]int64) (*Round, IngestReport) {
	in := o.BeginIngest()
	for k, v := range points {
		in.Int(k, v)
	}
	return in.End()
}

func wait(t *testing.T, r *Round) {
	t.Helper()
	select {
	case <-r.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("round did not settle")
	}
}

func flush(t *testing.T, o *Outbox) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, o.Flush(ctx))
}

var k1 = Key{"t1", "d1", "pages"}

func TestDeliversFrozenUsageWithDeterministicID(t *testing.T) {
	b := &fakeBackend{customers: map[string]string{"t1": "c1"}}
	o := newTestOutbox(t, b)
	r, rep := ingest(o, map[Key]int64{k1: 5})
	assert.Equal(t, int64(5), rep.Units)
	wait(t, r)
	res := o.Release(r)
	assert.Equal(t, int64(1), res.Delivered)
	assert.Equal(t, int64(5), res.DeliveredUnits)

	got := b.delivered()
	require.Len(t, got, 1)
	assert.Equal(t, Delivery{ID: got[0].ID, Key: k1, Customer: "c1", Units: 5, Attempt: 1}, got[0])
	assert.False(t, got[0].ID.IsZero())
	assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, got[0].ID.String())
	st := o.Stats()
	assert.Equal(t, int64(0), st.OwedUnits)
	assert.Equal(t, int64(5), st.DeliveredUnits)
}

func TestDeriveIDDependsOnEveryInput(t *testing.T) {
	base := DeriveID("i", k1, 2)
	assert.Equal(t, base, DeriveID("i", k1, 2))
	for _, other := range []ID{
		DeriveID("j", k1, 2),
		DeriveID("i", Key{"t2", "d1", "pages"}, 2),
		DeriveID("i", Key{"t1", "d2", "pages"}, 2),
		DeriveID("i", Key{"t1", "d1", "docs"}, 2),
		DeriveID("i", k1, 3),
		DeriveID("i", Key{"t1d", "1", "pages"}, 2), // field boundaries matter
	} {
		assert.NotEqual(t, base, other)
	}
}

// While an event is in flight, new usage accumulates in the open entry and
// becomes the next event once the first is acknowledged: never two requests
// of one series at once, never more than two entries.
func TestOneInFlightPerSeriesAndOpenBecomesNextEvent(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan Delivery, 10)
	b := &fakeBackend{customers: map[string]string{"t1": "c1"}}
	b.respond = func(d Delivery) error {
		entered <- d
		if d.Units == 1 {
			<-release
		}
		return nil
	}
	o := newTestOutbox(t, b)
	r1, _ := ingest(o, map[Key]int64{k1: 1})
	first := <-entered
	for range 5 {
		ingest(o, map[Key]int64{k1: 2})
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
	assert.Len(t, b.delivered(), 2)
}

func TestRetryRepeatsTheSameEventThenDelivers(t *testing.T) {
	var n int
	b := &fakeBackend{customers: map[string]string{"t1": "c1"}}
	b.respond = func(Delivery) error {
		n++
		if n <= 3 {
			return errors.New("connection refused")
		}
		return nil
	}
	o := newTestOutbox(t, b)
	r, _ := ingest(o, map[Key]int64{k1: 7})
	wait(t, r)
	res := o.Release(r)
	assert.Equal(t, int64(1), res.Deferred)
	assert.Contains(t, res.DeferReason, "connection refused")
	flush(t, o)
	got := b.delivered()
	require.Len(t, got, 4)
	for i, d := range got {
		assert.Equal(t, got[0].ID, d.ID)
		assert.Equal(t, int64(7), d.Units)
		assert.Equal(t, i+1, d.Attempt)
	}
	assert.Equal(t, int64(3), o.Stats().Retries)
}

func TestPermanentRejectionParksAndHoldsLaterUsage(t *testing.T) {
	b := &fakeBackend{customers: map[string]string{"t1": "c1"}}
	b.respond = func(Delivery) error { return failure{permanent: true} }
	var background []Parked
	var mu sync.Mutex
	o := newTestOutbox(t, b, func(c *Config) {
		c.OnParked = func(p Parked) { mu.Lock(); background = append(background, p); mu.Unlock() }
	})
	r, _ := ingest(o, map[Key]int64{k1: 3})
	wait(t, r)
	res := o.Release(r)
	require.Len(t, res.Parked, 1)
	assert.Equal(t, k1, res.Parked[0].Key)
	assert.Equal(t, 400, res.Parked[0].Status)
	assert.Contains(t, res.Parked[0].Reason, "scripted failure")

	ingest(o, map[Key]int64{k1: 4})
	flush(t, o) // parked usage is not "owed": flush returns
	st := o.Stats()
	assert.Equal(t, int64(1), st.ParkedEvents)
	assert.Equal(t, int64(7), st.ParkedUnits)
	assert.Equal(t, int64(0), st.OwedUnits)
	parked := o.Parked()
	require.Len(t, parked, 1)
	assert.Equal(t, int64(3), parked[0].Units)
	assert.Equal(t, int64(4), parked[0].Held)
	assert.Empty(t, background, "reported through the round, not twice")

	// Once the cause is fixed, the parked event and what it held go out.
	b.mu.Lock()
	b.respond = nil
	b.mu.Unlock()
	assert.Equal(t, 1, o.RetryParked())
	flush(t, o)
	st = o.Stats()
	assert.Equal(t, int64(7), st.DeliveredUnits)
	assert.Equal(t, int64(0), st.ParkedUnits)
}

func TestFailedLookupKeepsUsageOwedUntilItSucceeds(t *testing.T) {
	b := &fakeBackend{customers: map[string]string{}, lookupErr: errors.New("lookup: 503")}
	o := newTestOutbox(t, b)
	r, _ := ingest(o, map[Key]int64{k1: 9})
	wait(t, r)
	assert.Equal(t, int64(1), o.Release(r).Deferred)
	assert.Empty(t, b.delivered())
	assert.Equal(t, int64(9), o.Stats().OwedUnits)

	b.mu.Lock()
	b.lookupErr = nil
	b.customers["t1"] = "c1"
	b.mu.Unlock()
	flush(t, o)
	got := b.delivered()
	require.Len(t, got, 1)
	assert.Equal(t, "c1", got[0].Customer)
	assert.Equal(t, int64(9), got[0].Units)
}

func TestFlushHonoursContextAndRetryAfter(t *testing.T) {
	b := &fakeBackend{customers: map[string]string{"t1": "c1"}}
	b.respond = func(Delivery) error { return failure{retryAfter: time.Hour} }
	o := newTestOutbox(t, b)
	r, _ := ingest(o, map[Key]int64{k1: 1})
	wait(t, r)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := o.Flush(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Len(t, b.delivered(), 1, "a server's Retry-After is not cut short by a flush")
}

func TestValidationHoldsUsageOfInvalidKeys(t *testing.T) {
	b := &fakeBackend{customers: map[string]string{"t1": "c1"}}
	o := newTestOutbox(t, b, func(c *Config) {
		c.ValidateID = func(s string) error {
			if s == "" || len(s) > 8 {
				return errors.New("bad id")
			}
			return nil
		}
	})
	huge := string(make([]byte, 10_000))
	r, rep := ingest(o, map[Key]int64{k1: 1, {huge, "d", "m"}: 2, {"t1", "", "m"}: 3})
	wait(t, r)
	assert.Equal(t, 2, rep.InvalidKey.Points)
	assert.Equal(t, 5.0, rep.InvalidKey.Units)
	flush(t, o)
	assert.Len(t, b.delivered(), 1)
	parked := o.Parked()
	require.Len(t, parked, 2)
	for _, p := range parked {
		assert.True(t, p.InvalidKey)
		assert.Less(t, len(p.Key.Tenant)+len(p.Key.Device), 200, "keys of held usage are bounded")
	}
	st := o.Stats()
	assert.Equal(t, int64(5), st.ParkedUnits)
	assert.Equal(t, int64(2), st.BlockedSeries)
}

func TestBadValuesAndOverflowAreRejectedLoudly(t *testing.T) {
	b := &fakeBackend{customers: map[string]string{"t1": "c1"}}
	o := newTestOutbox(t, b)
	in := o.BeginIngest()
	in.Int(k1, -1)
	in.Float(k1, -0.5)
	in.Float(k1, nanValue())
	in.Int(k1, 1<<62)
	in.Int(k1, 1<<62-1) // the total is now math.MaxInt64
	in.Int(k1, 1)       // overflows
	in.Float(k1, 1e30)  // too large for int64 units
	r, rep := in.End()
	wait(t, r)
	assert.Equal(t, 3, rep.BadValue.Points)
	assert.Equal(t, 2, rep.Overflow.Points)
	flush(t, o)
	assert.Equal(t, int64(math.MaxInt64), o.Stats().DeliveredUnits, "valid usage beside them is billed")
}

func nanValue() float64 { var z float64; return z / z }

func TestSeriesCapRefusesNewSeriesButKeepsExistingOnes(t *testing.T) {
	b := &fakeBackend{customers: map[string]string{"t1": "c1"}}
	b.respond = func(Delivery) error { return errors.New("down") }
	o := newTestOutbox(t, b, func(c *Config) { c.MaxSeries = 2 })
	r, rep := ingest(o, map[Key]int64{{"t1", "a", "m"}: 1, {"t1", "b", "m"}: 1})
	wait(t, r)
	assert.Zero(t, rep.OverCapacity.Points)
	_, rep = ingest(o, map[Key]int64{{"t1", "c", "m"}: 5, {"t1", "a", "m"}: 1})
	assert.Equal(t, 1, rep.OverCapacity.Points)
	assert.Equal(t, 5.0, rep.OverCapacity.Units)
	assert.Contains(t, rep.OverCapacity.Reason, "series cap 2")
	assert.Equal(t, int64(3), o.Stats().OwedUnits)
}

func TestIdleSeriesAreEvictedToMakeRoom(t *testing.T) {
	b := &fakeBackend{customers: map[string]string{"t1": "c1"}}
	o := newTestOutbox(t, b, func(c *Config) { c.MaxSeries = 2 })
	r, _ := ingest(o, map[Key]int64{{"t1", "a", "m"}: 1, {"t1", "b", "m"}: 1})
	wait(t, r)
	flush(t, o)
	r, rep := ingest(o, map[Key]int64{{"t1", "c", "m"}: 1})
	wait(t, r)
	assert.Zero(t, rep.OverCapacity.Points, "delivered series hold nothing and make room")
	flush(t, o)
	assert.Equal(t, int64(3), o.Stats().DeliveredUnits)
}

func TestCloseAbandonsInFlightRequestsAndKeepsThemOwed(t *testing.T) {
	b := &fakeBackend{customers: map[string]string{"t1": "c1"}}
	entered := make(chan struct{})
	var o *Outbox
	b.respond = func(Delivery) error {
		close(entered)
		<-o.ctx.Done()
		return o.ctx.Err()
	}
	o = New(Config{Instance: "x", MaxSeries: 10, Concurrency: 1, Retry: retry.Policy{Initial: time.Second, Max: time.Second},
		IdleTTL: time.Hour, Backend: b, Classify: classify})
	o.Start()
	ingest(o, map[Key]int64{k1: 4})
	<-entered
	require.NoError(t, o.Close())
	st := o.Stats()
	assert.Equal(t, int64(4), st.OwedUnits)
	assert.Equal(t, int64(0), st.InFlight)
}
