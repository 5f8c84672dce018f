package litewavemetric

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/aiorch/litewavemetric/internal/outbox"
	"github.com/aiorch/litewavemetric/internal/retry"
	"github.com/aiorch/litewavemetric/internal/spool"
)

// maxReportedRejections bounds the RejectedErrors one Export lists
// individually; the rest are summed in one more error.
const maxReportedRejections = 5

// Exporter is an sdkmetric.Exporter that bills counters to Litewave.
type Exporter struct {
	cfg    config
	client *Client
	box    *outbox.Outbox
	mapper mapper

	exportMu     sync.Mutex // serialises taking usage in, and shutting down
	closed       atomic.Bool
	shutdownOnce sync.Once

	spooled  bool
	recovery spool.Recovery
	counts   struct {
		sync.Mutex
		exports                                          int64
		unattributedPoints, overflowPts, untrackedPoints int64
		unattributedUnits, overflowUnits                 float64
	}
}

var _ sdkmetric.Exporter = (*Exporter)(nil)

// New returns an Exporter configured by opts and the environment variables
// (see the Env constants). With a spool directory, usage left undelivered
// by a previous exporter on that directory is sent again first. The context
// is not used; it is there for the otel-go exporter convention.
func New(_ context.Context, opts ...Option) (*Exporter, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if cfg.instanceID == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		cfg.instanceID = hex.EncodeToString(b[:])
	}
	e := &Exporter{
		cfg:    cfg,
		client: newClient(cfg),
		mapper: mapper{
			tenantKey:   attribute.Key(cfg.tenantAttr),
			deviceKey:   attribute.Key(cfg.deviceAttr),
			meterIDs:    cfg.meterIDs,
			instruments: cfg.instruments,
			deltas:      newDeltaTracker(cfg.staleness, cfg.maxSeries),
			cache:       newSeriesCache(2 * cfg.maxSeries),
		},
	}
	ocfg := outbox.Config{
		Instance:    cfg.instanceID,
		MaxSeries:   cfg.maxSeries,
		Concurrency: cfg.concurrency,
		Retry: retry.Policy{
			Initial:       cfg.retry.InitialInterval,
			Max:           cfg.retry.MaxInterval,
			MaxRetryAfter: cfg.retry.MaxRetryAfter,
		},
		IdleTTL:    idleTTL,
		ValidateID: ValidateID,
		Backend:    litewaveBackend{e.client},
		Classify:   classify,
		OnParked:   func(p outbox.Parked) { otel.Handle(rejected(p)) },
		OnStoreError: func(err error) {
			otel.Handle(fmt.Errorf("litewavemetric: spool: %w", err))
		},
		Logger: cfg.logger,
	}
	var contents spool.Contents
	if cfg.spoolDir != "" {
		sp, c, err := spool.Open(cfg.spoolDir, spool.Options{MaxBytes: cfg.maxSpoolBytes})
		if err != nil {
			return nil, fmt.Errorf("litewavemetric: spool %s: %w", cfg.spoolDir, err)
		}
		ocfg.Store, contents, e.spooled, e.recovery = sp, c, true, c.Recovery
		if c.Recovery.Repaired {
			err := fmt.Errorf("litewavemetric: spool %s was damaged and repaired: %s", cfg.spoolDir, c.Recovery)
			cfg.logger.Error(err.Error())
			otel.Handle(err)
		}
	}
	e.box = outbox.New(ocfg)
	if err := e.box.Restore(contents.Events, contents.Opens); err != nil {
		_ = e.box.Close()
		return nil, fmt.Errorf("litewavemetric: spool %s: %w", cfg.spoolDir, err)
	}
	e.box.Start()
	return e, nil
}

// Export takes the collection's usage into the outbox (and the spool) and
// sends it. It always takes the usage, whatever the network or ctx; then it
// waits, within ctx, for the first attempt of each event it froze, so that
// it can report what became of them. Usage that is not yet delivered stays
// owed and is retried in the background.
//
// The error, if any, joins: UsageErrors for usage that cannot be billed as
// counted, RejectedErrors for events the backend refused permanently, and a
// DeferredError while usage is owed but undelivered.
func (e *Exporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	round, rep, mrep, persistErr, err := e.take(rm)
	if err != nil {
		return err
	}
	errs := e.usageErrors(rep, mrep)
	if persistErr != nil {
		// Nothing is sent before it is stored: waiting for first attempts
		// would only wait out ctx.
		e.box.Release(round)
		errs = append(errs, fmt.Errorf("litewavemetric: the spool could not be written; this collection's usage is held in memory, unsent, until a write succeeds: %w", persistErr))
		return errors.Join(errs...)
	}
	var cause error
	select {
	case <-round.Done():
	case <-ctx.Done():
		cause = context.Cause(ctx)
	case <-e.box.Stopped():
		cause = sdkmetric.ErrExporterShutdown
	}
	res := e.box.Release(round)
	errs = append(errs, rejections(res.Parked)...)
	if res.Unfinished > 0 {
		errs = append(errs, fmt.Errorf("litewavemetric: %d events of this collection still being delivered when the export ended; kept: %w",
			res.Unfinished, cause))
	}
	if st := e.box.Stats(); res.Deferred > 0 || st.Waiting > 0 {
		errs = append(errs, &DeferredError{Events: res.Deferred, Units: res.DeferredUnits, OwedUnits: st.OwedUnits, Reason: deferReason(res, st)})
	}
	return errors.Join(errs...)
}

// take ingests rm under the export lock.
func (e *Exporter) take(rm *metricdata.ResourceMetrics) (*outbox.Round, outbox.IngestReport, mapReport, error, error) {
	e.exportMu.Lock()
	defer e.exportMu.Unlock()
	if e.closed.Load() {
		return nil, outbox.IngestReport{}, mapReport{}, nil, fmt.Errorf("litewavemetric: export: %w", sdkmetric.ErrExporterShutdown)
	}
	in := e.box.BeginIngest()
	mrep := e.mapper.ingest(in, rm, time.Now().UnixNano())
	round, rep := in.End()
	persistErr := e.box.Persist()

	e.counts.Lock()
	e.counts.exports++
	e.counts.unattributedPoints += int64(mrep.unattributed.Points)
	e.counts.unattributedUnits += mrep.unattributed.Units
	e.counts.overflowPts += int64(mrep.overflow.Points)
	e.counts.overflowUnits += mrep.overflow.Units
	e.counts.untrackedPoints += int64(mrep.untracked.Points)
	e.counts.Unlock()
	return round, rep, mrep, persistErr, nil
}

func deferReason(res outbox.RoundResult, st outbox.Stats) string {
	if res.DeferReason != "" {
		return res.DeferReason
	}
	return "earlier usage is waiting for a retry after: " + st.LastFailure
}

// usageErrors turns the ingest's problems into one UsageError each.
func (e *Exporter) usageErrors(rep outbox.IngestReport, mrep mapReport) []error {
	var errs []error
	add := func(p Problem, i outbox.Issue) {
		if i.Points == 0 {
			return
		}
		errs = append(errs, &UsageError{Problem: p, Points: i.Points, Units: i.Units,
			Meter: i.Example.Meter, Tenant: i.Example.Tenant, Device: i.Example.Device, Reason: i.Reason})
	}
	add(Unattributed, mrep.unattributed)
	add(CardinalityOverflow, mrep.overflow)
	add(OverCapacity, mrep.untracked) // cumulative points beyond the stream cap: their deltas are unknown
	add(OverCapacity, rep.OverCapacity)
	add(InvalidID, rep.InvalidKey)
	add(BadValue, rep.BadValue)
	add(Overflow, rep.Overflow)
	return errs
}

func rejections(parked []outbox.Parked) []error {
	var errs []error
	var moreEvents, moreUnits int64
	for i, p := range parked {
		if i < maxReportedRejections {
			errs = append(errs, rejected(p))
			continue
		}
		moreEvents++
		moreUnits += p.Units
	}
	if moreEvents > 0 {
		errs = append(errs, fmt.Errorf("litewavemetric: and %d more events (%d units) rejected and parked; see Exporter.Parked", moreEvents, moreUnits))
	}
	return errs
}

func rejected(p outbox.Parked) *RejectedError {
	return &RejectedError{Tenant: p.Key.Tenant, Device: p.Key.Device, Meter: p.Key.Meter,
		Units: p.Units, StatusCode: p.Status, Message: p.Reason}
}

// ForceFlush sends everything owed and returns once it is delivered, or
// ctx ends. Events waiting on a backoff are retried at once; those waiting
// on a server's Retry-After keep waiting. The error is an UndeliveredError
// if usage is still owed when ctx ends or if usage is parked.
func (e *Exporter) ForceFlush(ctx context.Context) error {
	if e.closed.Load() {
		return fmt.Errorf("litewavemetric: force flush: %w", sdkmetric.ErrExporterShutdown)
	}
	err := e.box.Flush(ctx)
	if errors.Is(err, outbox.ErrStopped) {
		err = fmt.Errorf("force flush interrupted by shutdown: %w", sdkmetric.ErrExporterShutdown)
	}
	return e.undelivered(err, e.spooled)
}

// Shutdown stops taking usage, delivers what is owed within ctx, stops
// every goroutine and, with a spool, leaves what is still owed in it for
// the next start. It reports usage it could not deliver as an
// UndeliveredError. Calling it again returns ErrExporterShutdown.
//
// Delivery is retried until it succeeds, so Shutdown waits as long as ctx
// allows while the backend is down: give it a deadline. (A PeriodicReader
// gives its own timeout, 30s by default, when the MeterProvider's Shutdown
// context has none.)
func (e *Exporter) Shutdown(ctx context.Context) error {
	err := fmt.Errorf("litewavemetric: shutdown: %w", sdkmetric.ErrExporterShutdown)
	e.shutdownOnce.Do(func() {
		e.exportMu.Lock()
		e.closed.Store(true)
		e.exportMu.Unlock()
		flushErr := e.box.Flush(ctx)
		closeErr := e.box.Close()
		e.client.closeOwnConnections()
		if closeErr != nil {
			closeErr = fmt.Errorf("litewavemetric: shutdown: %w", closeErr)
		}
		// What is owed is safe only if the final commit succeeded.
		err = errors.Join(e.undelivered(flushErr, e.spooled && closeErr == nil), closeErr)
	})
	return err
}

func (e *Exporter) undelivered(cause error, spooled bool) error {
	st := e.box.Stats()
	if cause == nil && st.OwedUnits == 0 && st.ParkedUnits == 0 {
		return nil
	}
	return &UndeliveredError{Events: st.OwedEvents, Units: st.OwedUnits,
		ParkedEvents: st.ParkedEvents, ParkedUnits: st.ParkedUnits, Spooled: spooled, Cause: cause}
}

// Client returns the client the exporter delivers through.
func (e *Exporter) Client() *Client { return e.client }

// MarshalLog describes the exporter for otel-go's logging.
func (e *Exporter) MarshalLog() any {
	return struct {
		Type     string
		Endpoint string
		Spool    string
	}{"litewave", e.client.eventsURL, e.cfg.spoolDir}
}

// classify tells the outbox how to treat a delivery error: HTTP answers by
// status, everything else (refused, reset, EOF, timeout) is retried.
func classify(err error) outbox.Failure {
	var he *HTTPError
	if errors.As(err, &he) {
		return outbox.Failure{Permanent: !he.Temporary(), RetryAfter: he.RetryAfter, Status: he.StatusCode}
	}
	return outbox.Failure{}
}

// litewaveBackend delivers outbox events through a Client.
type litewaveBackend struct{ c *Client }

func (b litewaveBackend) CachedCustomer(tenant string) (string, bool) {
	return b.c.customers.cached(tenant)
}

func (b litewaveBackend) Customer(ctx context.Context, tenant string) (string, error) {
	return b.c.customer(ctx, tenant)
}

func (b litewaveBackend) Deliver(ctx context.Context, d outbox.Delivery) error {
	return b.c.deliver(ctx, d)
}
