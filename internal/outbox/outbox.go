package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/aiorch/litewavemetric/internal/retry"
)

// Backend is where events go. Implementations must encode an event from the
// Delivery's fields deterministically: the same Delivery, the same bytes.
type Backend interface {
	// CachedCustomer returns the tenant's customer id if it is cached, without
	// any network call.
	CachedCustomer(tenant string) (string, bool)
	// Customer resolves the tenant's customer id, from the cache or the network.
	Customer(ctx context.Context, tenant string) (string, error)
	// Deliver sends one event.
	Deliver(ctx context.Context, d Delivery) error
}

// Delivery is one attempt to deliver an event.
type Delivery struct {
	ID       ID
	Key      Key
	Customer string
	Units    int64
	Attempt  int // 1 for the first attempt
}

// Failure is how a Backend error is to be treated.
type Failure struct {
	Permanent  bool          // retrying cannot help; park the event
	RetryAfter time.Duration // the server asked to wait this long
	Status     int           // HTTP status, if any
}

// Config configures an Outbox.
type Config struct {
	Instance    string // part of every event id
	MaxSeries   int    // series held at once, owed or carrying a fraction
	Concurrency int    // workers, so requests in flight
	Retry       retry.Policy
	IdleTTL     time.Duration // a series that holds nothing is forgotten after this

	ValidateID func(string) error // tenant and device ids; nil accepts all
	Backend    Backend
	Classify   func(error) Failure
	Store      Store // nil: memory only

	// OnParked is told of every event parked after the Export that froze it
	// returned, so that no rejection goes unreported.
	OnParked func(Parked)
	// OnStoreError is told of store failures in the background.
	OnStoreError func(error)
	Logger       *slog.Logger
}

// Outbox holds owed usage and delivers it. All state is guarded by mu; the
// store is written under persistMu so that snapshots reach it in order.
type Outbox struct {
	cfg Config

	mu        sync.Mutex
	work      *sync.Cond // signalled when ready gains an item or on stop
	series    table
	ready     fifo
	retries   retryHeap
	pending   []*Series         // events to persist before they may be sent
	dirty     []*Series         // series whose stored records are stale
	dropped   []Key             // open records of forgotten series, to delete
	acked     []uint64          // stored records of acknowledged events, to delete
	memo      map[string]string // customer ids known to the ingest in progress
	seq       uint64
	lastWall  int64
	lastSweep int64
	stopping  bool
	waitCh    chan struct{} // closed on progress, for Flush

	origin      time.Time // monotonic clock origin
	stats       counters
	lastFailure string // the latest retryable failure, for reports

	persistMu     sync.Mutex
	persistFailed int64 // monotonic time of the last failed commit
	lastCommit    int64 // monotonic time of the last commit

	ctx       context.Context // cancelled by Close: aborts requests in flight
	cancel    context.CancelFunc
	closeOnce sync.Once
	wake      chan struct{}
	stop      chan struct{}
	wg        sync.WaitGroup
}

// New returns an Outbox; call Restore (optionally) and then Start.
func New(cfg Config) *Outbox {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ValidateID == nil {
		cfg.ValidateID = func(string) error { return nil }
	}
	ctx, cancel := context.WithCancel(context.Background())
	o := &Outbox{
		cfg:    cfg,
		series: newTable(),
		memo:   make(map[string]string),
		origin: time.Now(),
		ctx:    ctx,
		cancel: cancel,
		wake:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
	}
	o.work = sync.NewCond(&o.mu)
	return o
}

// Start launches the workers and the scheduler.
func (o *Outbox) Start() {
	o.wg.Add(o.cfg.Concurrency + 1)
	go o.schedule()
	for range o.cfg.Concurrency {
		go o.worker()
	}
}

// Close stops delivery: requests in flight are abandoned (their events stay
// owed), every goroutine has returned when Close does, and the store gets
// the final state and is closed. Only the first call does anything.
func (o *Outbox) Close() error {
	err := ErrStopped
	o.closeOnce.Do(func() {
		o.mu.Lock()
		o.stopping = true
		o.work.Broadcast()
		o.mu.Unlock()
		o.cancel()
		close(o.stop)
		o.wg.Wait()
		err = nil
		if o.cfg.Store != nil {
			err = errors.Join(o.Persist(), o.cfg.Store.Close())
		}
	})
	return err
}

// Restore loads what a store held at start: events are queued in their
// original order with their original ids, and open amounts become owed
// again. It must be called before Start.
func (o *Outbox) Restore(events []EventRecord, opens []OpenRecord) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	sort.Slice(events, func(i, j int) bool { return events[i].Seq < events[j].Seq })
	for _, r := range events {
		s := o.restored(r.Key)
		if s.hasEvent() {
			return fmt.Errorf("two stored events for series %v (seq %d and %d)", r.Key, s.event.seq, r.Seq)
		}
		before := s.contrib()
		s.event = event{units: r.Units, end: r.End, seq: r.Seq, id: r.ID, customer: r.Customer}
		s.storedEvent = true
		s.state = ready
		o.ready.push(s)
		o.seq = max(o.seq, r.Seq)
		o.lastWall = max(o.lastWall, r.End)
		o.stats.account(before, s.contrib())
	}
	for _, r := range opens {
		s := o.restored(r.Key)
		before := s.contrib()
		s.open, s.rem, s.storedOpen = r.Units, r.Rem, true
		o.stats.account(before, s.contrib())
	}
	// Open usage of a series with no event becomes its next event now.
	now := o.wallNow()
	o.series.all(func(s *Series) {
		if !s.hasEvent() && s.open > 0 && !s.invalidKey() {
			o.freeze(s, now, nil, o.cfg.Backend.CachedCustomer)
		}
	})
	return nil
}

func (o *Outbox) restored(k Key) *Series {
	if s := o.series.get(k); s != nil {
		return s
	}
	s := o.newSeries(k)
	if err := o.validate(k); err != nil {
		s.problem = &problem{reason: err.Error(), invalid: true}
		o.stats.blockedSeries++
	}
	o.series.put(s)
	return s
}

func (o *Outbox) newSeries(k Key) *Series {
	return &Series{Key: k, heapIdx: -1, lastActive: o.monoSeconds()}
}

func (o *Outbox) validate(k Key) error {
	if err := o.cfg.ValidateID(k.Tenant); err != nil {
		return fmt.Errorf("tenant id: %w", err)
	}
	if err := o.cfg.ValidateID(k.Device); err != nil {
		return fmt.Errorf("device id: %w", err)
	}
	return nil
}

// mono is a monotonic clock for scheduling, immune to wall-clock jumps.
func (o *Outbox) mono() int64 { return int64(time.Since(o.origin)) }

// monoSeconds is mono in seconds, precise enough for idleness.
func (o *Outbox) monoSeconds() int32 { return int32(time.Since(o.origin) / time.Second) }

func idleSeconds(d time.Duration) int32 { return int32(min(d/time.Second, 1<<30)) }

// wallNow is the wall clock for event windows, strictly increasing so that
// two events of a series never share a window, hence an id.
func (o *Outbox) wallNow() int64 {
	now := time.Now().UnixNano()
	if now <= o.lastWall {
		now = o.lastWall + 1
	}
	o.lastWall = now
	return now
}

// kick wakes the scheduler without blocking.
func (o *Outbox) kick() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// progressed wakes whoever waits in Flush. mu must be held.
func (o *Outbox) progressed() {
	if o.waitCh != nil {
		close(o.waitCh)
		o.waitCh = nil
	}
}

// ErrStopped is returned by waits that the outbox's Close cut short.
var ErrStopped = errors.New("outbox stopped")

// Stopped is closed when Close begins: whoever waits on the outbox must
// stop waiting then, for nothing will happen any more.
func (o *Outbox) Stopped() <-chan struct{} { return o.stop }

// waitFor blocks until cond (evaluated under mu) holds, ctx ends or the
// outbox is closed.
func (o *Outbox) waitFor(ctx context.Context, cond func() bool) error {
	for {
		o.mu.Lock()
		if cond() {
			o.mu.Unlock()
			return nil
		}
		if o.waitCh == nil {
			o.waitCh = make(chan struct{})
		}
		ch := o.waitCh
		o.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-o.stop:
			return ErrStopped
		}
	}
}
