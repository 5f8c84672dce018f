package outbox

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/aiorch/litewavemetric/internal/retry"
	"github.com/aiorch/litewavemetric/internal/usage"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeBackend records every event it is sent; respond decides each one's
// outcome and may block until the test releases it.
type fakeBackend struct {
	mu       sync.Mutex
	maxBatch int
	sent     []usage.Event
	batches  []int
	respond  func(usage.Event) usage.Outcome
}

func (b *fakeBackend) MaxBatch() int {
	if b.maxBatch == 0 {
		return 1
	}
	return b.maxBatch
}

func (b *fakeBackend) Send(_ context.Context, batch []usage.Event, out []usage.Outcome) {
	b.mu.Lock()
	b.sent = append(b.sent, batch...)
	b.batches = append(b.batches, len(batch))
	respond := b.respond
	b.mu.Unlock()
	for i, ev := range batch {
		out[i] = usage.Outcome{Result: usage.Delivered}
		if respond != nil {
			out[i] = respond(ev)
		}
	}
}

func (b *fakeBackend) Close() error { return nil }

func (b *fakeBackend) setRespond(f func(usage.Event) usage.Outcome) {
	b.mu.Lock()
	b.respond = f
	b.mu.Unlock()
}

func (b *fakeBackend) delivered() []usage.Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]usage.Event(nil), b.sent...)
}

func retryWith(err error) usage.Outcome { return usage.Outcome{Result: usage.Retry, Err: err} }

func rejectWith(err error) usage.Outcome { return usage.Outcome{Result: usage.Rejected, Err: err} }

// fakeCustomers binds tenants from a map; a tenant is cached once it was
// resolved, as the real cache does.
type fakeCustomers struct {
	mu       sync.Mutex
	accounts map[string]string
	cached   map[string]bool
	lookups  int
	err      error
}

func newCustomers(accounts map[string]string) *fakeCustomers {
	return &fakeCustomers{accounts: accounts, cached: map[string]bool{}}
}

func (c *fakeCustomers) Cached(tenant string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.cached[tenant] {
		return "", false
	}
	return c.accounts[tenant], true
}

func (c *fakeCustomers) Resolve(_ context.Context, tenant string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lookups++
	if c.err != nil {
		return "", c.err
	}
	id, ok := c.accounts[tenant]
	if !ok {
		return "", usage.Misconfigured(errors.New("no customer account"), "create it")
	}
	c.cached[tenant] = true
	return id, nil
}

func (c *fakeCustomers) Forget(tenant string) {
	c.mu.Lock()
	delete(c.cached, tenant)
	c.mu.Unlock()
}

func (c *fakeCustomers) set(tenant, customer string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.err = err
	if customer != "" {
		c.accounts[tenant] = customer
	}
}

var k1 = key("t1", "d1", "pages")

func key(tenant, device, meter string) Key { return Key{Tenant: tenant, Device: device, Meter: meter} }

func testConfig(b *fakeBackend, c *fakeCustomers) Config {
	return Config{
		Instance:    "test",
		MaxSeries:   1000,
		Concurrency: 4,
		Retry:       retry.Policy{InitialInterval: time.Millisecond, MaxInterval: 4 * time.Millisecond, MaxRetryAfter: time.Minute},
		IdleTTL:     time.Hour,
		Backend:     b,
		Customers:   c,
	}
}

func newTestOutbox(t *testing.T, b *fakeBackend, c *fakeCustomers, mutate ...func(*Config)) *Outbox {
	t.Helper()
	cfg := testConfig(b, c)
	for _, m := range mutate {
		m(&cfg)
	}
	o := New(cfg)
	o.Start()
	t.Cleanup(func() { _ = o.Close() })
	return o
}

func ingestInts(o *Outbox, points map[Key]int64) (*FirstAttempts, IngestReport) {
	var c Collection
	for k, v := range points {
		c.IntKey(k, nil, v)
	}
	return o.Ingest(&c)
}

func wait(t *testing.T, r *FirstAttempts) {
	t.Helper()
	select {
	case <-r.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("first attempts did not end")
	}
}

func flush(t *testing.T, o *Outbox) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, o.Flush(ctx))
}

// memStore is a Store in memory that can be made to fail, to block, or to
// lose its contents.
type memStore struct {
	mu      sync.Mutex
	c       Contents
	commits int
	fail    error
	gate    chan struct{} // if set, Commit waits for it
	lose    bool          // the next Commit finds its file gone
}

func newMemStore() *memStore { return &memStore{} }

func (m *memStore) Commit(ch *Change) error {
	m.mu.Lock()
	gate := m.gate
	m.mu.Unlock()
	if gate != nil {
		<-gate
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	if m.lose {
		m.lose = false
		m.c = Contents{}
		return ErrStoreLost
	}
	m.commits++
	m.c = apply(m.c, ch)
	return nil
}

// apply returns c with ch applied, as a store would.
func apply(c Contents, ch *Change) Contents {
	events := map[uint64]EventRecord{}
	for _, r := range c.Events {
		events[r.Seq] = r
	}
	opens, rejected, streams := map[Key]OpenRecord{}, map[Key]RejectedRecord{}, map[StreamID]StreamRecord{}
	for _, r := range c.Opens {
		opens[r.Key] = r
	}
	for _, r := range c.Rejected {
		rejected[r.Key] = r
	}
	for _, r := range c.Streams {
		streams[r.ID] = r
	}
	for _, q := range ch.DeleteEvents {
		delete(events, q)
	}
	for _, k := range ch.DeleteOpen {
		delete(opens, k)
	}
	for _, k := range ch.DeleteRejected {
		delete(rejected, k)
	}
	for _, id := range ch.DeleteStreams {
		delete(streams, id)
	}
	for _, r := range ch.PutEvents {
		events[r.Seq] = r
	}
	for _, r := range ch.PutOpen {
		opens[r.Key] = r
	}
	for _, r := range ch.PutRejected {
		rejected[r.Key] = r
	}
	for _, r := range ch.PutStreams {
		streams[r.ID] = r
	}
	var out Contents
	for _, r := range events {
		out.Events = append(out.Events, r)
	}
	for _, r := range opens {
		out.Opens = append(out.Opens, r)
	}
	for _, r := range rejected {
		out.Rejected = append(out.Rejected, r)
	}
	for _, r := range streams {
		out.Streams = append(out.Streams, r)
	}
	return out
}

func (m *memStore) Full(int64) bool { return false }
func (m *memStore) Close() error    { return nil }

func (m *memStore) setFail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail = err
}

// contents is what a process starting on the store would find.
func (m *memStore) contents() Contents {
	m.mu.Lock()
	defer m.mu.Unlock()
	return apply(m.c, &Change{})
}

// flushing is a Flush run in the background, for tests that hold it up.
type flushing struct {
	t    *testing.T
	done chan error
}

// startFlush starts o.Flush and waits until it either returned, which it
// reports, or waits on o with blocked true (o.mu held).
func startFlush(t *testing.T, o *Outbox, blocked func(o *Outbox) bool) (f flushing, returned bool) {
	t.Helper()
	f = flushing{t: t, done: make(chan error, 1)}
	go func() { f.done <- o.Flush(context.Background()) }()
	require.Eventually(t, func() bool {
		select {
		case err := <-f.done:
			f.done <- err
			returned = true
			return true
		default:
		}
		o.mu.Lock()
		defer o.mu.Unlock()
		return o.waitCh != nil && blocked(o)
	}, 10*time.Second, time.Millisecond)
	return f, returned
}

// returns requires the Flush to return nil, once what held it up is gone.
func (f flushing) returns(why string) {
	f.t.Helper()
	select {
	case err := <-f.done:
		require.NoError(f.t, err)
	case <-time.After(10 * time.Second):
		f.t.Fatal("Flush did not return " + why)
	}
}
