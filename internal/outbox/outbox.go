package outbox

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/aiorch/litewavemetric/internal/retry"
	"github.com/aiorch/litewavemetric/internal/usage"
)

// Config configures an Outbox.
type Config struct {
	Instance    string // part of every event id
	MaxSeries   int    // series held at once, owed, rejected or carrying a fraction
	Concurrency int    // workers, so batches in flight
	Retry       retry.Policy
	IdleTTL     time.Duration // a series that holds nothing is forgotten after this

	Backend   usage.Backend
	Customers usage.Customers
	Store     Store // nil: memory only

	// OnHealth is told when delivery starts failing in a way, keeps failing
	// past Reports' thresholds, and recovers.
	OnHealth func(Health)
	Reports  ReportTimes
	// OnRejected is told of every event rejected after the Export that froze
	// it stopped waiting, so that no rejection goes unreported.
	OnRejected func(Rejected)
	// OnStoreLost is told when the store's file was removed or replaced and
	// everything held was written to a fresh one.
	OnStoreLost func(error)
	Logger      *slog.Logger
}

// Outbox holds owed usage and delivers it. All state is guarded by mu; the
// store is written under persistMu so that snapshots reach it in order.
type Outbox struct {
	cfg     Config
	session usage.Session
	ids     *usage.IDs        // derives this session's ids
	recover usage.Recoverable // the backend, if it is one and there is a store
	linger  usage.Lingering   // the backend, if it is one

	mu      sync.Mutex
	work    *sync.Cond // signalled when ready gains an item or on stop
	series  table
	ready   fifo
	retries retryHeap
	pending []*Series     // events to persist before they may be sent
	dirty   []*Series     // series whose stored records are stale
	dropped []Key         // open records of forgotten series, to delete
	acked   []uint64      // stored records of acknowledged events, to delete
	ackedID []usage.ID    // their ids, for a usage.Recoverable backend
	streams streamRecords // cumulative stream state, with a store
	// uncommitted estimates the bytes of new series not committed yet, for
	// the store's cap.
	uncommitted     int64
	ingestCustomers map[string]customerID    // customer ids known to the ingest in progress (zero: not cached)
	lookups         map[string]*tenantLookup // tenants whose customer is being looked up, or failed to be
	lookupSlots     chan struct{}            // bounds the lookups in flight
	seq             uint64
	lastWall        int64
	lastSweep       int64
	windowEnd       int64 // wall clock of the last ingest: where the next window starts
	stopping        bool
	flushing        int           // Flush calls under way: failures then retry on the flush backoff
	delivering      int           // batches taken by workers and not yet applied: workers not free to take more
	handing         int           // of those, batches whose Send is not called yet (see lastForNow)
	flushes         uint64        // Flush calls begun: an attempt that ended after the nth began has event.tried >= n
	reporting       int           // reports queued or being made without mu, which Flush waits for
	reportQueue     []func()      // reports to make, in order (see report)
	reportsBusy     bool          // a goroutine is making the queued reports
	waitCh          chan struct{} // closed on progress, for Flush

	origin time.Time // monotonic clock origin
	stats  Stats
	health health

	persistMu     sync.Mutex
	persistFailed int64 // monotonic time of the last failed commit
	lastCommit    int64 // monotonic time of the last commit
	committing    bool  // a snapshot is being written (guarded by mu): Flush waits for it

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
	if cfg.Reports == (ReportTimes{}) {
		cfg.Reports = DefaultReportTimes
	}
	ctx, cancel := context.WithCancel(context.Background())
	o := &Outbox{
		cfg:             cfg,
		series:          newTable(),
		ingestCustomers: make(map[string]customerID),
		lookups:         make(map[string]*tenantLookup),
		lookupSlots:     make(chan struct{}, maxLookups),
		origin:          time.Now(),
		ctx:             ctx,
		cancel:          cancel,
		wake:            make(chan struct{}, 1),
		stop:            make(chan struct{}),
	}
	// The session makes every id of this run unique, however instance ids
	// are configured: two exporters of one process, or two starts on one
	// spool, never derive the same id.
	_, _ = rand.Read(o.session[:])
	o.ids = usage.NewIDs(cfg.Instance, o.session)
	if r, ok := cfg.Backend.(usage.Recoverable); ok && cfg.Store != nil {
		o.recover = r
	}
	o.linger, _ = cfg.Backend.(usage.Lingering)
	o.windowEnd = o.wallNow()
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

// Contents is what a store held at start.
type Contents struct {
	Events   []EventRecord
	Opens    []OpenRecord
	Rejected []RejectedRecord
	Streams  []StreamRecord
}

// Restore loads what a store held at start: events are queued in their
// original order with their original ids, open amounts become owed again,
// and rejected usage is retried as a new event (it was never recorded). It
// must be called before Start.
func (o *Outbox) Restore(c Contents) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	sort.Slice(c.Events, func(i, j int) bool { return c.Events[i].Seq < c.Events[j].Seq })
	for _, r := range c.Events {
		s := o.restored(r.Key)
		if s.hasEvent() {
			return errors.New("two stored events for one series")
		}
		before := s.contrib()
		ev := event{units: r.Units, start: r.Start, end: r.End, seq: r.Seq, id: r.ID}
		ev.bindCustomer(r.Customer)
		o.restoreEvent(s, ev)
		o.seq = max(o.seq, r.Seq)
		o.lastWall = max(o.lastWall, r.End)
		o.stats.account(before, s.contrib())
	}
	for _, r := range c.Opens {
		s := o.restored(r.Key)
		before := s.contrib()
		s.open, s.openStart, s.storedOpen = r.Units, r.Start, true
		s.setRemainder(r.Rem)
		o.stats.account(before, s.contrib())
	}
	for _, r := range c.Rejected {
		s := o.restored(r.Key)
		before := s.contrib()
		if s.open == 0 {
			s.openStart = r.Since
		}
		s.open += r.Units
		s.storedRejected = true
		o.markDirty(s) // the rejected record goes, the open one holds it
		o.stats.account(before, s.contrib())
	}
	for _, r := range c.Streams {
		o.streams.restore(r)
	}
	// Open usage of a series with no event becomes its next event now.
	now := o.wallNow()
	o.series.all(func(s *Series) { o.freezeOpen(s, now) })
	o.windowEnd = now
	return nil
}

func (o *Outbox) restored(k Key) *Series {
	if s := o.series.get(k); s != nil {
		return s
	}
	s := o.newSeries(k)
	o.series.put(s)
	return s
}

func (o *Outbox) newSeries(k Key) *Series {
	return &Series{scope: scopeOf(k), device: k.Device, lastActive: o.monoSeconds()}
}

// mono is a monotonic clock for scheduling, immune to wall-clock jumps.
func (o *Outbox) mono() int64 { return int64(time.Since(o.origin)) }

// monoSeconds is mono in seconds, precise enough for idleness.
func (o *Outbox) monoSeconds() int32 { return int32(time.Since(o.origin) / time.Second) }

func idleSeconds(d time.Duration) int32 { return int32(min(d/time.Second, 1<<30)) }

// wallNow is the wall clock for event windows, strictly increasing so that
// windows of a series never overlap.
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
			return context.Cause(ctx)
		case <-o.stop:
			return ErrStopped
		}
	}
}
