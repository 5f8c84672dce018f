package litewavemetric

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/aiorch/litewavemetric/internal/config"
	"github.com/aiorch/litewavemetric/internal/kafka"
	"github.com/aiorch/litewavemetric/internal/outbox"
	"github.com/aiorch/litewavemetric/internal/spool"
	"github.com/aiorch/litewavemetric/internal/usage"
)

// maxReported bounds the errors one Export or flush lists individually;
// the rest are summed in one more error.
const maxReported = 5

// Exporter is an sdkmetric.Exporter that bills counters to Litewave.
type Exporter struct {
	cfg     config.Config
	client  *Client
	box     *outbox.Outbox
	spool   *spool.Spool // nil without WithSpoolDir
	mapper  mapper
	metrics *selfMetrics

	exportMu     sync.Mutex // serialises taking usage in, and shutting down
	closed       atomic.Bool
	shutdownOnce sync.Once
	hasReader    atomic.Bool // NewPeriodicReader made its reader

	recovery spool.Recovery
	counts   struct {
		sync.Mutex
		exports                                       int64
		unattributed, overflow, untracked, invalidIDs issueCount
	}
}

type issueCount struct {
	points int64
	units  float64
}

func (c *issueCount) add(i outbox.Issue) {
	c.points += int64(i.Points)
	c.units += i.Units
}

var _ sdkmetric.Exporter = (*Exporter)(nil)

// New returns an Exporter configured by opts and the environment variables
// (see the package documentation). With a spool
// directory, usage left undelivered by a previous exporter on that directory
// is sent again first. The context is not used; it is there for the otel-go
// exporter convention.
func New(_ context.Context, opts ...Option) (*Exporter, error) {
	cfg, err := loadConfig(opts)
	if err != nil {
		return nil, err
	}
	// The spool's transactional id names the instance when one is set, so
	// that a broker's view of producers is readable; the random part keeps
	// replicas apart whatever their instance ids.
	txnID := "litewavemetric-"
	if cfg.InstanceID != "" {
		txnID += cfg.InstanceID + "-"
	} else {
		cfg.InstanceID = randomHex(8)
	}
	txnID += randomHex(8)
	if cfg.Endpoint == config.DefaultEndpoint && (cfg.Backend == BackendEvents || cfg.PortalURL == "") {
		// Said even without a logger: outside a cluster, this is why
		// nothing is billed.
		warn := cfg.Logger
		if !cfg.LoggerGiven {
			warn = slog.Default()
		}
		warn.Warn("litewavemetric: using the built-in in-cluster endpoint; set LITEWAVE_ENDPOINT (WithEndpoint) outside the cluster",
			"endpoint", config.DefaultEndpoint)
	}
	e := &Exporter{cfg: cfg}
	var contents spool.Contents
	if cfg.SpoolDir != "" {
		sp, c, err := spool.Open(cfg.SpoolDir, spool.Options{MaxBytes: cfg.MaxSpoolBytes, TransactionalID: txnID})
		if err != nil {
			return nil, expose(fmt.Errorf("spool in %s: %w", spoolSetting(cfg), err))
		}
		e.spool, contents, e.recovery = sp, c, c.Recovery
		if c.Recovery.Repaired {
			e.reportError(fmt.Errorf("litewavemetric: spool in %s was damaged and repaired: %s", spoolSetting(cfg), c.Recovery))
		}
	}
	client, err := newClient(cfg, transactions(cfg, e.spool != nil, &contents))
	if err != nil {
		if e.spool != nil {
			_ = e.spool.Close()
		}
		return nil, err
	}
	e.client = client
	if w, ok := client.backend.(brokerWatch); ok {
		w.OnUnreachable(func(err error) {
			e.reportError(fmt.Errorf("litewavemetric: %w; usage is kept and retried", err))
		})
	}
	e.mapper = mapper{
		tenantKey:   attribute.Key(cfg.TenantAttribute),
		deviceKey:   attribute.Key(cfg.DeviceAttribute),
		meterIDs:    cfg.MeterIDs,
		instruments: cfg.Instruments,
		deltas:      newDeltaTracker(cfg.Staleness, cfg.MaxSeries, time.Now(), e.spool != nil, contents.Streams),
		cache:       newSeriesCache(2 * cfg.MaxSeries),
	}
	ocfg := outbox.Config{
		Instance:    cfg.InstanceID,
		MaxSeries:   cfg.MaxSeries,
		Concurrency: cfg.Concurrency,
		Retry:       cfg.Retry,
		IdleTTL:     idleTTL,
		Backend:     client.backend,
		Customers:   client.accounts,
		OnHealth:    e.reportHealth,
		OnRejected:  e.reportRejected,
		OnStoreLost: func(err error) {
			e.reportError(fmt.Errorf("litewavemetric: spool in %s: %w; everything owed was written to it again", spoolSetting(cfg), err))
		},
		Logger: cfg.Logger,
	}
	if e.spool != nil {
		ocfg.Store = e.spool
	}
	e.box = outbox.New(ocfg)
	if err := e.box.Restore(contents.Contents); err != nil {
		_ = e.box.Close()
		_ = client.Close()
		return nil, fmt.Errorf("litewavemetric: spool in %s: %w", spoolSetting(cfg), err)
	}
	e.metrics, err = newSelfMetrics(observabilityProvider(cfg.MeterProvider, cfg.Observability), backendAddress(cfg), e.Stats)
	if err != nil {
		_ = e.box.Close()
		_ = client.Close()
		return nil, fmt.Errorf("litewavemetric: the exporter's own metrics: %w", err)
	}
	e.box.Start()
	return e, nil
}

// idleTTL is how long a series that holds nothing is kept, so that the
// next collection finds it instead of allocating it anew.
const idleTTL = time.Hour

// transactions configures backend kafka's transactions: on with a spool,
// unless turned off; nil otherwise.
func transactions(cfg config.Config, spooled bool, c *spool.Contents) *kafka.Transactions {
	if cfg.Backend != BackendKafka || !cfg.KafkaTransactions || !spooled {
		return nil
	}
	held := make([]usage.ID, len(c.Events))
	for i := range c.Events {
		held[i] = c.Events[i].ID
	}
	return &kafka.Transactions{ID: c.TransactionalID, CheckpointTopic: cfg.CheckpointTopic, Timeout: cfg.TransactionTimeout,
		Held: held, Mark: c.Mark}
}

// brokerWatch is a backend that tells of brokers it cannot reach as soon
// as it fails to connect (kafka).
type brokerWatch interface {
	OnUnreachable(report func(error))
	Unreachable() error
}

// spoolSetting names the spool directory and where it was set, for errors
// about the spool: LITEWAVE_SPOOL_DIR="/var/lib/app" or
// WithSpoolDir("/var/lib/app").
func spoolSetting(cfg config.Config) string {
	return cfg.From(config.SpoolDir, fmt.Sprintf("the spool directory %q", cfg.SpoolDir))
}

// spoolFailure names the spool's setting in err, a failure to write it.
func (e *Exporter) spoolFailure(err error) error {
	return expose(fmt.Errorf("the spool in %s cannot be written: %w", spoolSetting(e.cfg), err))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Aggregation sums counters and drops every other kind of instrument:
// histograms, gauges and up-down counters are never billed, so they should
// cost nothing. They are dropped before they reach Export, so no report
// names them.
func (e *Exporter) Aggregation(k sdkmetric.InstrumentKind) sdkmetric.Aggregation {
	if billable(k) {
		return sdkmetric.AggregationSum{}
	}
	return sdkmetric.AggregationDrop{}
}

// CardinalityLimit is an sdkmetric.CardinalityLimitSelector for billing
// readers: counters get the exporter's limit (WithCardinalityLimit; none by
// default, so that the SDK never merges a tenant's usage into its overflow
// set while the exporter has room), other kinds the provider's.
func (e *Exporter) CardinalityLimit(k sdkmetric.InstrumentKind) (int, bool) {
	if billable(k) {
		return e.cfg.CardinalityLimit, false
	}
	return 0, true
}

func billable(k sdkmetric.InstrumentKind) bool {
	return k == sdkmetric.InstrumentKindCounter || k == sdkmetric.InstrumentKindObservableCounter
}

// Export takes the collection's usage into the outbox (and the spool) and
// sends it. It always takes the usage, whatever the network or ctx; then it
// waits, within ctx, for the first attempt of each event it made, so that
// it can report rejections. Usage not delivered yet stays owed and is
// retried in the background: that is the exporter's job, not a failed
// export, and is reported through otel.Handle when an outage or a
// configuration problem begins, persists and ends (see DeferredError).
// (Through NewPeriodicReader, Export does not wait: the provider's
// ForceFlush and Shutdown deliver and report.)
//
// The error, if any, joins: a UsageError per kind of usage that cannot be
// billed as counted, a RejectedError per event the backend refused, and
// the spool's error if the usage could not be written to it.
func (e *Exporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	return e.export(ctx, rm, true)
}

// export is Export; wait says whether to wait for first attempts.
func (e *Exporter) export(ctx context.Context, rm *metricdata.ResourceMetrics, wait bool) error {
	op := e.metrics.begin(ctx, rm)
	first, rep, mrep, persistErr, err := e.take(rm)
	if err != nil {
		op.end(ctx, []error{err})
		return err
	}
	errs := e.usageErrors(rep, mrep, wait)
	if persistErr != nil {
		// Nothing is sent before it is stored: waiting for first attempts
		// would only wait out ctx.
		e.box.Release(first)
		errs = append(errs, fmt.Errorf("litewavemetric: the spool in %s could not be written; this collection's usage is held in memory, unsent, until a write succeeds: %w",
			spoolSetting(e.cfg), expose(persistErr)))
		op.end(ctx, errs)
		return errors.Join(errs...)
	}
	if wait {
		select {
		case <-first.Done():
		case <-ctx.Done():
		case <-e.box.Stopped():
		}
	}
	res := e.box.Release(first)
	errs = append(errs, rejections(res.Rejected)...)
	op.end(ctx, errs)
	return errors.Join(errs...)
}

// take ingests rm under the export lock.
func (e *Exporter) take(rm *metricdata.ResourceMetrics) (*outbox.FirstAttempts, outbox.IngestReport, mapReport, error, error) {
	e.exportMu.Lock()
	defer e.exportMu.Unlock()
	if e.closed.Load() {
		return nil, outbox.IngestReport{}, mapReport{}, nil, fmt.Errorf("litewavemetric: export: %w", sdkmetric.ErrExporterShutdown)
	}
	first, rep, mrep := e.mapper.ingest(e.box, rm, time.Now().UnixNano())
	persistErr := e.box.Persist()

	e.counts.Lock()
	e.counts.exports++
	e.counts.unattributed.add(mrep.unattributed)
	e.counts.overflow.add(mrep.overflow)
	e.counts.untracked.add(mrep.untracked)
	e.counts.invalidIDs.add(mrep.invalid)
	e.counts.Unlock()
	return first, rep, mrep, persistErr, nil
}

// usageErrors turns the ingest's problems into one UsageError each; log
// says to log overlaps (through NewPeriodicReader, its reports do).
func (e *Exporter) usageErrors(rep outbox.IngestReport, mrep mapReport, log bool) []error {
	var errs []error
	add := func(p string, i outbox.Issue) {
		if i.Points == 0 {
			return
		}
		errs = append(errs, &UsageError{Problem: p, Points: i.Points, Units: i.Units,
			Meter: i.Example.Meter, Tenant: i.Example.Tenant, Device: i.Example.Device, Reason: i.Reason})
	}
	add("unattributed", mrep.unattributed)
	add("cardinality_overflow", mrep.overflow)
	add("invalid_id", mrep.invalid)
	add("over_capacity", mrep.untracked) // cumulative points beyond the stream limit: their deltas are unknown
	add("over_capacity", rep.OverCapacity)
	add("bad_value", rep.BadValue)
	add("too_large", rep.TooLarge)
	if mrep.overlap.Points > 0 {
		add("overlapping", mrep.overlap)
		// Logged as rejections are: the pipeline is built wrong, and the
		// operator reads the exporter's log.
		if log {
			e.cfg.Logger.Error(errs[len(errs)-1].Error())
		}
	}
	return errs
}

func rejections(rs []outbox.Rejected) []error {
	var errs []error
	var moreEvents, moreUnits int64
	for i, p := range rs {
		if i < maxReported {
			errs = append(errs, rejected(p))
			continue
		}
		moreEvents++
		moreUnits += p.Units
	}
	if moreEvents > 0 {
		errs = append(errs, fmt.Errorf("litewavemetric: and %d more events (%d units) rejected; see Exporter.Rejected", moreEvents, moreUnits))
	}
	return errs
}

func rejected(p outbox.Rejected) *RejectedError {
	return &RejectedError{Tenant: p.Key.Tenant, Device: p.Key.Device, Meter: p.Key.Meter, Units: p.Units, Events: p.Events,
		StatusCode: statusOf(p.Err), Reason: p.Reason, Since: p.Since, Cause: expose(p.Err)}
}

// ForceFlush delivers everything owed now and returns once it is
// delivered, or ctx ends: every owed event is attempted at once, and
// failures are retried within tens to hundreds of milliseconds while ctx
// lasts (a server's Retry-After is waited for). It returns early when
// everything still owed was refused, during this flush, for a
// configuration problem that retrying cannot fix (see DeferredError).
// The error is an UndeliveredError if usage is still owed when it
// returns, or rejected usage is kept.
func (e *Exporter) ForceFlush(ctx context.Context) error {
	if e.closed.Load() {
		return fmt.Errorf("litewavemetric: force flush: %w", sdkmetric.ErrExporterShutdown)
	}
	err := e.box.Flush(ctx)
	if errors.Is(err, outbox.ErrStopped) {
		err = fmt.Errorf("force flush interrupted by shutdown: %w", sdkmetric.ErrExporterShutdown)
	}
	return e.undelivered(err, e.spool != nil && e.box.Stored())
}

// Shutdown stops taking usage, delivers what is owed within ctx as
// ForceFlush does, stops every goroutine and, with a spool, leaves what is
// still owed in it for the next start. It returns nil when everything was
// delivered, else an UndeliveredError that says what is owed and whether it
// is on disk. Calling it again returns sdkmetric.ErrExporterShutdown.
//
// Delivery is retried until it succeeds, so Shutdown waits as long as ctx
// allows while the backend is down: give it a deadline. (A PeriodicReader
// gives its own timeout, 30s by default, when the MeterProvider's Shutdown
// context has none.) A configuration problem that retrying cannot fix
// ends the wait at once, as in ForceFlush.
func (e *Exporter) Shutdown(ctx context.Context) error {
	err := fmt.Errorf("litewavemetric: shutdown: %w", sdkmetric.ErrExporterShutdown)
	e.shutdownOnce.Do(func() {
		e.exportMu.Lock()
		e.closed.Store(true)
		e.exportMu.Unlock()
		flushErr := e.box.Flush(ctx)
		e.metrics.close()
		closeErr := e.box.Close()
		if closeErr != nil && e.spool != nil {
			closeErr = fmt.Errorf("the spool in %s: %w", spoolSetting(e.cfg), closeErr)
		}
		if cerr := e.client.Close(); closeErr == nil {
			closeErr = cerr
		}
		if closeErr != nil {
			closeErr = fmt.Errorf("litewavemetric: shutdown: %w", expose(closeErr))
		}
		// What is owed is safe only if the final commit succeeded.
		err = errors.Join(e.undelivered(flushErr, e.spool != nil && closeErr == nil), closeErr)
	})
	return err
}

// undelivered reports what is owed or rejected, or nil; cause is why a
// flush ended early.
func (e *Exporter) undelivered(cause error, spooled bool) error {
	st := e.box.Stats()
	if cause == nil && st.OwedUnits == 0 && st.RejectedUnits == 0 {
		return nil
	}
	causes := []error{cause}
	for _, f := range e.box.Failures() {
		if f.Class == outbox.Spool {
			causes = append(causes, e.spoolFailure(f.Err))
			continue
		}
		causes = append(causes, expose(f.Err))
	}
	if w, ok := e.client.backend.(brokerWatch); ok && st.OwedUnits > 0 {
		// Said even before the records time out, so that a flush ended by
		// its deadline says why.
		if err := w.Unreachable(); err != nil {
			causes = append(causes, expose(err))
		}
	}
	kept := e.box.Rejected()
	for i, p := range kept {
		if i == maxReported {
			causes = append(causes, fmt.Errorf("and %d more series with rejected usage; see Exporter.Rejected", len(kept)-i))
			break
		}
		causes = append(causes, rejected(p))
	}
	return &UndeliveredError{Events: st.OwedEvents, Units: st.OwedUnits,
		RejectedEvents: st.RejectedEvents, RejectedUnits: st.RejectedUnits, Spooled: spooled, Cause: errors.Join(causes...)}
}

// Stats returns the exporter's counters, for tests and operators.
func (e *Exporter) Stats() Stats {
	s := Stats{Stats: e.box.Stats(), Lookups: e.client.accounts.Stats(), SpoolRecordsDropped: e.recovery.Dropped}
	if e.spool != nil {
		s.SpoolBytes = e.spool.HeldBytes()
	}
	e.counts.Lock()
	s.Exports = e.counts.exports
	s.RefusedPoints += e.counts.untracked.points
	s.UnattributedPoints, s.UnattributedUnits = e.counts.unattributed.points, e.counts.unattributed.units
	s.CardinalityOverflowPoints, s.CardinalityOverflowUnits = e.counts.overflow.points, e.counts.overflow.units
	s.InvalidPoints, s.InvalidUnits = e.counts.invalidIDs.points, e.counts.invalidIDs.units
	e.counts.Unlock()
	return s
}

// Rejected lists the usage the backend rejected, per series: it is kept,
// and sent again only by RetryRejected or the next start with a spool.
func (e *Exporter) Rejected() []*RejectedError {
	ps := e.box.Rejected()
	out := make([]*RejectedError, len(ps))
	for i, p := range ps {
		out[i] = rejected(p)
	}
	return out
}

// RetryRejected sends all rejected usage again, once the cause of the
// rejections is fixed, and returns how many series it concerned. The usage
// joins the series' next event under a new key (the backend recorded none
// of it), bound to a customer looked up afresh. A restart with a spool
// does the same.
func (e *Exporter) RetryRejected() int { return e.box.RetryRejected() }

// Client returns the client the exporter delivers through. The exporter's
// Shutdown closes it.
func (e *Exporter) Client() *Client { return e.client }

// MarshalLog describes the exporter for otel-go's logging.
func (e *Exporter) MarshalLog() any {
	return struct {
		Type     string
		Backend  string
		Endpoint string
		Spool    string
	}{"litewave", e.cfg.Backend, config.ShownURL(e.cfg.Endpoint), e.cfg.SpoolDir}
}

// backendAddress is where the configured backend is, for the exporter's
// own metrics (server.address, server.port).
func backendAddress(cfg config.Config) string {
	switch {
	case cfg.Backend == BackendKafkaREST:
		return cfg.KafkaRESTURL
	case cfg.Backend == BackendKafka && len(cfg.KafkaBrokers) > 0:
		return cfg.KafkaBrokers[0]
	}
	return cfg.Endpoint
}
