package litewavemetric_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/aiorch/litewavemetric"
	"github.com/aiorch/litewavemetric/litewavetest"
)

// The request is what meter-lib sends, plus an idempotency key: tenant and
// device in headers, meter, integer usage and the looked-up customer id in
// the body.
func TestEventCarriesHeadersPayloadAndCustomerID(t *testing.T) {
	t.Parallel()
	srv := newServer(t, litewavetest.WithCustomer("t1", "cus_1"), litewavetest.WithAPIKey("s3cret"))
	p := newPipeline(t, srv, litewavemetric.WithAPIKey("s3cret"))
	p.counter("pages.processed.rate.hourly").Add(context.Background(), 24, at("t1", "d1"))
	require.NoError(t, p.flush())

	events := srv.Events()
	require.Len(t, events, 1)
	ev := events[0]
	assert.Equal(t, "t1", ev.Header.Get("x-tenant-id"))
	assert.Equal(t, "d1", ev.Header.Get("x-device-id"))
	assert.Equal(t, "s3cret", ev.Header.Get("x-api-key"))
	assert.Equal(t, "application/json", ev.Header.Get("Content-Type"))
	assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, ev.IdempotencyKey)
	assert.JSONEq(t, `{"meter_id":"pages.processed.rate.hourly","total_usage":24,"customer_id":"cus_1"}`, string(ev.Body))
	assert.Equal(t, int64(1), srv.Stats().Lookups)

	for _, r := range srv.Requests() {
		assert.Equal(t, "s3cret", r.Header.Get("x-api-key"), "%s %s", r.Method, r.Path)
	}
}

// Each collection bills the usage since the previous one, not the running
// total; the customer is looked up once, not per event.
func TestCollectionsBillDeltas(t *testing.T) {
	t.Parallel()
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	p := newPipeline(t, srv)
	c := p.counter("pages")
	for _, n := range []int64{5, 3, 0, 7} {
		if n > 0 {
			c.Add(context.Background(), n, at("t1", "d1"))
		}
		require.NoError(t, p.flush())
	}
	var got []int64
	for _, ev := range srv.Events() {
		got = append(got, ev.TotalUsage)
	}
	assert.Equal(t, []int64{5, 3, 7}, got, "one event per collection with usage, none for the idle one")
	assert.Equal(t, int64(1), srv.Stats().Lookups)
	assert.Equal(t, int64(15), srv.Totals()[series("t1", "d1", "pages")])
}

// Points of one series that differ in other attributes add up into one
// event; distinct series get distinct events.
func TestSeriesSumAcrossOtherAttributes(t *testing.T) {
	t.Parallel()
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"), litewavetest.WithCustomer("t2", "c2"))
	p := newPipeline(t, srv)
	c := p.counter("pages")
	ctx := context.Background()
	c.Add(ctx, 2, at("t1", "d1", attribute.String("region", "eu")))
	c.Add(ctx, 3, at("t1", "d1", attribute.String("region", "us")))
	c.Add(ctx, 4, at("t1", "d2"))
	c.Add(ctx, 5, at("t2", "d1"))
	require.NoError(t, p.flush())
	assert.Equal(t, map[litewavetest.Series]int64{
		series("t1", "d1", "pages"): 5,
		series("t1", "d2", "pages"): 4,
		series("t2", "d1", "pages"): 5,
	}, srv.Totals())
	assert.Len(t, srv.Events(), 3)
}

// Float counters are billed in whole units; the fraction carries over to
// the next collection, so the total billed is the floor of the total
// counted at every moment, and never above it.
func TestFloatRemaindersCarryOver(t *testing.T) {
	t.Parallel()
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	p := newPipeline(t, srv)
	c := p.floatCounter("tokens.k")
	counted := 0.0
	for i, v := range []float64{0.4, 0.4, 0.4, 2.9, 0.1, 0.1, 0.9999999995} {
		c.Add(context.Background(), v, at("t1", "d1"))
		counted += v
		require.NoError(t, p.flush())
		assert.Equal(t, int64(math.Floor(counted)), srv.Total(), "after collection %d (counted %v)", i+1, counted)
	}
	var got []int64
	for _, ev := range srv.Events() {
		got = append(got, ev.TotalUsage)
	}
	assert.Equal(t, []int64{1, 3, 1}, got, "1.2, then 4.1, then 5.2999999995")
}

// A float total just below a unit bills nothing: the billed total never
// exceeds the floor of what was counted.
func TestFloatTotalJustBelowAUnitBillsNothing(t *testing.T) {
	t.Parallel()
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	p := newPipeline(t, srv)
	p.floatCounter("tokens.k").Add(context.Background(), 0.9999999995, at("t1", "d1"))
	require.NoError(t, p.flush())
	assert.Zero(t, srv.Total())
}

// Observable counters report running totals; with delta temporality the
// SDK hands the exporter the increase per collection.
func TestObservableCountersBillIncreases(t *testing.T) {
	t.Parallel()
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	p := newPipeline(t, srv)
	total := int64(0)
	_, err := p.meter.Int64ObservableCounter("docs.scanned", metric.WithInt64Callback(
		func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(total, metric.WithAttributes(attribute.String("tenant.id", "t1"), attribute.String("device.id", "scanner")))
			return nil
		}))
	require.NoError(t, err)
	for _, v := range []int64{10, 25, 25, 40} {
		total = v
		require.NoError(t, p.flush())
	}
	var got []int64
	for _, ev := range srv.Events() {
		got = append(got, ev.TotalUsage)
	}
	assert.Equal(t, []int64{10, 15, 15}, got)
}

func TestRenameAndAllowList(t *testing.T) {
	t.Parallel()
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	p := newPipeline(t, srv,
		litewavemetric.WithMeterID("pages", "pages.processed.rate.hourly"),
		litewavemetric.WithInstruments("pages", "docs"))
	ctx := context.Background()
	p.counter("pages").Add(ctx, 2, at("t1", "d1"))
	p.counter("docs").Add(ctx, 3, at("t1", "d1"))
	p.counter("internal.retries").Add(ctx, 99, at("t1", "d1"))
	require.NoError(t, p.flush())
	assert.Equal(t, map[litewavetest.Series]int64{
		series("t1", "d1", "pages.processed.rate.hourly"): 2,
		series("t1", "d1", "docs"):                        3,
	}, srv.Totals())
}

// A service that is one tenant's device can put the ids on its resource;
// a point's own attributes take precedence.
func TestIDsFromResourceAttributes(t *testing.T) {
	t.Parallel()
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"), litewavetest.WithCustomer("t2", "c2"))
	res := resource.NewSchemaless(attribute.String("tenant.id", "t1"), attribute.String("device.id", "host-7"))
	p := newPipelineWith(t, srv, pipelineOpts{res: res})
	ctx := context.Background()
	c := p.counter("pages")
	c.Add(ctx, 4)
	c.Add(ctx, 6, metric.WithAttributes(attribute.String("tenant.id", "t2")))
	require.NoError(t, p.flush())
	assert.Equal(t, map[litewavetest.Series]int64{
		series("t1", "host-7", "pages"): 4,
		series("t2", "host-7", "pages"): 6,
	}, srv.Totals())
}

// Two resources with the same point attributes bill to their own tenants:
// the resource's ids are part of what decides a point's series.
func TestSameAttributesUnderTwoResources(t *testing.T) {
	t.Parallel()
	srv := newServer(t, litewavetest.WithCustomer("a", "ca"), litewavetest.WithCustomer("b", "cb"))
	exp := newExporter(t, srv)
	pt := metricdata.DataPoint[int64]{Attributes: attribute.NewSet(attribute.String("region", "eu"))}
	for i, tenant := range []string{"a", "b", "a"} {
		rm := sumMetric("pages", metricdata.DeltaTemporality, pt)
		rm.Resource = resource.NewSchemaless(attribute.String("tenant.id", tenant), attribute.String("device.id", "d1"))
		rm.ScopeMetrics[0].Metrics[0].Data.(metricdata.Sum[int64]).DataPoints[0].Value = int64(i + 1)
		require.NoError(t, exp.Export(context.Background(), rm))
	}
	assert.Equal(t, map[litewavetest.Series]int64{
		series("a", "d1", "pages"): 1 + 3,
		series("b", "d1", "pages"): 2,
	}, srv.Totals())
}

func TestCustomAttributeKeys(t *testing.T) {
	t.Parallel()
	srv := newServer(t, litewavetest.WithCustomer("acme", "c1"))
	p := newPipeline(t, srv, litewavemetric.WithAttributeKeys("org", "node"))
	p.counter("pages").Add(context.Background(), 1, metric.WithAttributes(attribute.String("org", "acme"), attribute.Int("node", 42)))
	require.NoError(t, p.flush())
	assert.Equal(t, map[litewavetest.Series]int64{series("acme", "42", "pages"): 1}, srv.Totals())
}

func TestEmptyCollectionSendsNoRequest(t *testing.T) {
	t.Parallel()
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	p := newPipeline(t, srv)
	p.counter("pages") // created, never used
	_, err := p.meter.Int64Histogram("latency")
	require.NoError(t, err)
	for range 3 {
		require.NoError(t, p.flush())
	}
	require.NoError(t, p.exp.Export(context.Background(), &metricdata.ResourceMetrics{}))
	assert.Zero(t, srv.Stats().Requests)
}

// Histograms, gauges and up-down counters are never billed and the SDK is
// told to drop them, so they cost nothing.
func TestUnbilledKindsAreDropped(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	p := newPipeline(t, srv)
	ctx := context.Background()
	h, _ := p.meter.Int64Histogram("h")
	attrs := metric.WithAttributes(attribute.String("tenant.id", "t1"), attribute.String("device.id", "d1"))
	h.Record(ctx, 5, attrs)
	u, _ := p.meter.Int64UpDownCounter("u")
	u.Add(ctx, 5, attrs)
	g, _ := p.meter.Float64Gauge("g")
	g.Record(ctx, 5, attrs)
	var rm metricdata.ResourceMetrics
	require.NoError(t, p.reader.Collect(ctx, &rm))
	for _, sm := range rm.ScopeMetrics {
		assert.Empty(t, sm.Metrics, "dropped by aggregation")
	}
	require.NoError(t, p.flush())
	assert.Zero(t, srv.Stats().Requests)
}

// Usage without a tenant cannot be billed; it is reported with counts in
// every collection it occurs in, never dropped silently.
func TestUnattributedUsageIsReportedEveryCollection(t *testing.T) {
	reports := handleErrors(t)
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	p := newPipeline(t, srv)
	c := p.counter("pages")
	for range 2 {
		c.Add(context.Background(), 7, metric.WithAttributes(attribute.String("device.id", "d1")))
		c.Add(context.Background(), 1, at("t1", "d1"))
		err := p.flush()
		var ue *litewavemetric.UsageError
		require.ErrorAs(t, err, &ue, "the provider's ForceFlush returns it")
		assert.Equal(t, "unattributed", ue.Problem)
		assert.Equal(t, 1, ue.Points)
		assert.Equal(t, 7.0, ue.Units)
		assert.Equal(t, "pages", ue.Meter)
	}
	assert.Equal(t, int64(2), srv.Total(), "the attributed usage beside it is billed, and the flush went on")
	assert.Equal(t, int64(2), p.exp.Stats().UnattributedPoints)
	assert.Empty(t, reports.all(), "returned by each flush, so not reported a second time (see TestMissingIDsAreReportedOncePerChange)")
}

// A reader with an explicit limit merges attribute sets past it into an
// overflow set with no tenant: that is reported.
func TestCardinalityOverflowIsReported(t *testing.T) {
	t.Parallel()
	srv := newServer(t, customers(5)...)
	p := newPipeline(t, srv, litewavemetric.WithCardinalityLimit(3))
	c := p.counter("pages")
	for i := range 5 {
		c.Add(context.Background(), 1, at(tenantID(i), "d"))
	}
	err := p.flush()
	var ue *litewavemetric.UsageError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, "cardinality_overflow", ue.Problem)
	assert.Equal(t, 3.0, ue.Units, "the SDK keeps limit-1 sets and merges the rest")
	assert.Equal(t, int64(2), srv.Total())
}

// By default a billing reader never merges usage while the exporter has
// room: points of one series that differ in other attributes are separate
// attribute sets to the SDK, yet all are billed.
func TestBillingReaderNeverMergesWhileThereIsRoom(t *testing.T) {
	t.Parallel()
	srv := newServer(t, customers(10)...)
	p := newPipeline(t, srv, litewavemetric.WithMaxSeries(100))
	c := p.counter("pages")
	for i := range 10 {
		for s := range 20 {
			c.Add(context.Background(), 1, at(tenantID(i), "d", attribute.Int("status", s)))
		}
	}
	require.NoError(t, p.flush())
	assert.Equal(t, int64(200), srv.Total(), "10 series x 20 status values: every unit billed")

	limit, fallback := p.exp.CardinalityLimit(sdkmetric.InstrumentKindCounter)
	assert.Zero(t, limit, "no SDK limit on counters by default")
	assert.False(t, fallback)
	_, fallback = p.exp.CardinalityLimit(sdkmetric.InstrumentKindHistogram)
	assert.True(t, fallback, "other kinds keep the provider's limit")
}

// Past the series cap the exporter itself refuses new series, with its own
// error: the SDK's overflow never comes first.
func TestSeriesCapComesBeforeOverflow(t *testing.T) {
	t.Parallel()
	srv := newServer(t, customers(1)...)
	p := newPipeline(t, srv, litewavemetric.WithMaxSeries(1000))
	c := p.counter("pages")
	for i := range 1010 {
		c.Add(context.Background(), 1, at(tenantID(0), "d"+strconv.Itoa(i)))
	}
	err := p.flush()
	var ue *litewavemetric.UsageError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, "over_capacity", ue.Problem)
	assert.Equal(t, 10, ue.Points)
	assert.Equal(t, int64(1000), srv.Total())
	assert.Zero(t, p.exp.Stats().CardinalityOverflowPoints)
}

// OpenTelemetry's own metrics, and the exporter's, are never billed nor
// reported as unattributed, even with tenant attributes, even on the
// billing provider.
func TestOpenTelemetryMetricsAreNeverBilled(t *testing.T) {
	t.Parallel()
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	p := newPipeline(t, srv)
	ctx := context.Background()
	sdkCounter, _ := p.meter.Int64Counter("otel.sdk.exporter.metric_data_point.exported")
	sdkCounter.Add(ctx, 50, at("t1", "d1"))
	sdkCounter.Add(ctx, 50)
	own, _ := p.provider.Meter(litewavemetric.ScopeName).Int64Counter("litewave.usage.delivered")
	own.Add(ctx, 9, at("t1", "d1"))
	p.counter("pages").Add(ctx, 1, at("t1", "d1"))
	require.NoError(t, p.flush())
	assert.Equal(t, map[litewavetest.Series]int64{series("t1", "d1", "pages"): 1}, srv.Totals())
	assert.Zero(t, p.exp.Stats().UnattributedPoints)
}

// An int64 sum that wraps in the SDK arrives as a negative delta: it is
// refused and reported, and no counter runs backwards.
func TestWrappedSumIsRefusedAndCountersNeverRunBackwards(t *testing.T) {
	t.Parallel()
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	p := newPipeline(t, srv)
	c := p.counter("pages")
	c.Add(context.Background(), math.MaxInt64, at("t1", "d1"))
	c.Add(context.Background(), math.MaxInt64, at("t1", "d1"))
	err := p.flush()
	var ue *litewavemetric.UsageError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, "bad_value", ue.Problem)
	st := p.exp.Stats()
	assert.GreaterOrEqual(t, st.RefusedUnits, 0.0)
	assert.Equal(t, int64(1), st.RefusedPoints)
}

// A meter id beyond what the backend can store is refused where it enters:
// at New for an option, at Export, counted, for an instrument's name.
func TestOverlongMeterIDsAreRefusedWhereTheyEnter(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("m", 300)
	_, err := litewavemetric.New(context.Background(), litewavemetric.WithMeterID("pages", long))
	require.ErrorIs(t, err, litewavemetric.ErrInvalidID)
	assert.Contains(t, err.Error(), "WithMeterID")

	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	exp := newExporter(t, srv)
	err = exp.Export(context.Background(), sumMetric(long, metricdata.DeltaTemporality,
		metricdata.DataPoint[int64]{Value: 4, Attributes: attribute.NewSet(attribute.String("tenant.id", "t1"), attribute.String("device.id", "d1"))}))
	var ue *litewavemetric.UsageError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, "invalid_id", ue.Problem)
	assert.Equal(t, 4.0, ue.Units)
	assert.Less(t, len(ue.Meter), 100, "quoted, truncated")
	assert.Equal(t, int64(1), exp.Stats().InvalidPoints)
}

func TestExportAfterShutdownFails(t *testing.T) {
	t.Parallel()
	srv := newServer(t)
	exp := newExporter(t, srv)
	require.NoError(t, exp.Shutdown(context.Background()))
	err := exp.Export(context.Background(), &metricdata.ResourceMetrics{})
	require.ErrorIs(t, err, sdkmetric.ErrExporterShutdown)
	require.ErrorIs(t, exp.ForceFlush(context.Background()), sdkmetric.ErrExporterShutdown)
	require.ErrorIs(t, exp.Shutdown(context.Background()), sdkmetric.ErrExporterShutdown, "a second shutdown says so, and does no harm")
}

// The provider's Shutdown exports the last collection and shuts the
// exporter down.
func TestProviderShutdownExportsTheLastCollection(t *testing.T) {
	t.Parallel()
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	p := newPipeline(t, srv)
	c := p.counter("pages")
	c.Add(context.Background(), 11, at("t1", "d1"))
	require.NoError(t, p.flush())
	c.Add(context.Background(), 4, at("t1", "d1"))
	require.NoError(t, p.shutdownWithin(10*time.Second))
	assert.Equal(t, int64(15), srv.Total())
	assert.Len(t, srv.Events(), 2)
	assert.True(t, errors.Is(p.exp.Export(context.Background(), &metricdata.ResourceMetrics{}), sdkmetric.ErrExporterShutdown))
}

func TestStatsCountWhatHappened(t *testing.T) {
	t.Parallel()
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	p := newPipeline(t, srv)
	p.counter("pages").Add(context.Background(), 9, at("t1", "d1"))
	require.NoError(t, p.flush())
	st := p.exp.Stats()
	assert.Equal(t, int64(1), st.Exports)
	assert.Equal(t, int64(9), st.AcceptedUnits)
	assert.Equal(t, int64(9), st.DeliveredUnits)
	assert.Equal(t, int64(1), st.DeliveredEvents)
	assert.Zero(t, st.OwedUnits)
	assert.Equal(t, int64(1), st.Lookups.Requests)
	b, err := json.Marshal(st)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"DeliveredUnits":9`)
}
