package litewavemetric_test

import (
	"context"
	"encoding/json"
	"errors"
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
	srv := newServer(t, litewavetest.WithCustomer("t1", "cus_1"), litewavetest.WithAPIKey("s3cret"))
	p := newPipeline(t, srv, litewavemetric.WithAPIKey("s3cret"))
	p.counter("pages.processed.rate.hourly").Add(context.Background(), 24, at("t1", "d1"))
	require.NoError(t, p.collect())

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
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	p := newPipeline(t, srv)
	c := p.counter("pages")
	for _, n := range []int64{5, 3, 0, 7} {
		if n > 0 {
			c.Add(context.Background(), n, at("t1", "d1"))
		}
		require.NoError(t, p.collect())
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
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"), litewavetest.WithCustomer("t2", "c2"))
	p := newPipeline(t, srv)
	c := p.counter("pages")
	ctx := context.Background()
	c.Add(ctx, 2, at("t1", "d1", attribute.String("region", "eu")))
	c.Add(ctx, 3, at("t1", "d1", attribute.String("region", "us")))
	c.Add(ctx, 4, at("t1", "d2"))
	c.Add(ctx, 5, at("t2", "d1"))
	require.NoError(t, p.collect())
	assert.Equal(t, map[litewavetest.Series]int64{
		series("t1", "d1", "pages"): 5,
		series("t1", "d2", "pages"): 4,
		series("t2", "d1", "pages"): 5,
	}, srv.Totals())
	assert.Len(t, srv.Events(), 3)
}

// Float counters are billed in whole units; the fraction carries over to
// the next collection, so the total billed is the floor of the total
// counted at every moment.
func TestFloatRemaindersCarryOver(t *testing.T) {
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	p := newPipeline(t, srv)
	c := p.floatCounter("tokens.k")
	counted := 0.0
	for i, v := range []float64{0.4, 0.4, 0.4, 2.9, 0.1, 0.1} {
		c.Add(context.Background(), v, at("t1", "d1"))
		counted += v
		require.NoError(t, p.collect())
		assert.Equal(t, int64(counted+1e-9), srv.Total(), "after collection %d (counted %.1f)", i+1, counted)
	}
	var got []int64
	for _, ev := range srv.Events() {
		got = append(got, ev.TotalUsage)
	}
	assert.Equal(t, []int64{1, 3}, got, "1.2 then 4.1: one unit, then three; 4.3 adds none")
}

// Observable counters report running totals; with delta temporality the
// SDK hands the exporter the increase per collection.
func TestObservableCountersBillIncreases(t *testing.T) {
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
		require.NoError(t, p.collect())
	}
	var got []int64
	for _, ev := range srv.Events() {
		got = append(got, ev.TotalUsage)
	}
	assert.Equal(t, []int64{10, 15, 15}, got)
}

func TestRenameAndAllowList(t *testing.T) {
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	p := newPipeline(t, srv,
		litewavemetric.WithMeterID("pages", "pages.processed.rate.hourly"),
		litewavemetric.WithInstruments("pages", "docs"))
	ctx := context.Background()
	p.counter("pages").Add(ctx, 2, at("t1", "d1"))
	p.counter("docs").Add(ctx, 3, at("t1", "d1"))
	p.counter("internal.retries").Add(ctx, 99, at("t1", "d1"))
	require.NoError(t, p.collect())
	assert.Equal(t, map[litewavetest.Series]int64{
		series("t1", "d1", "pages.processed.rate.hourly"): 2,
		series("t1", "d1", "docs"):                        3,
	}, srv.Totals())
}

// A service that is one tenant's device can put the ids on its resource;
// a point's own attributes take precedence.
func TestIDsFromResourceAttributes(t *testing.T) {
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"), litewavetest.WithCustomer("t2", "c2"))
	res := resource.NewSchemaless(attribute.String("tenant.id", "t1"), attribute.String("device.id", "host-7"))
	p := newPipelineWith(t, srv, res)
	ctx := context.Background()
	c := p.counter("pages")
	c.Add(ctx, 4)
	c.Add(ctx, 6, metric.WithAttributes(attribute.String("tenant.id", "t2")))
	require.NoError(t, p.collect())
	assert.Equal(t, map[litewavetest.Series]int64{
		series("t1", "host-7", "pages"): 4,
		series("t2", "host-7", "pages"): 6,
	}, srv.Totals())
}

// Two resources with the same point attributes bill to their own tenants:
// the resource's ids are part of what decides a point's series.
func TestSameAttributesUnderTwoResources(t *testing.T) {
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
	srv := newServer(t, litewavetest.WithCustomer("acme", "c1"))
	p := newPipeline(t, srv, litewavemetric.WithTenantAttribute("org"), litewavemetric.WithDeviceAttribute("node"))
	p.counter("pages").Add(context.Background(), 1, metric.WithAttributes(attribute.String("org", "acme"), attribute.Int("node", 42)))
	require.NoError(t, p.collect())
	assert.Equal(t, map[litewavetest.Series]int64{series("acme", "42", "pages"): 1}, srv.Totals())
}

func TestEmptyCollectionSendsNoRequest(t *testing.T) {
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	p := newPipeline(t, srv)
	p.counter("pages") // created, never used
	_, err := p.meter.Int64Histogram("latency")
	require.NoError(t, err)
	for range 3 {
		require.NoError(t, p.collect())
	}
	require.NoError(t, p.exp.Export(context.Background(), &metricdata.ResourceMetrics{}))
	assert.Zero(t, srv.Stats().Requests)
}

// Histograms, gauges and up-down counters are never billed and the SDK is
// told to drop them, so they cost nothing.
func TestUnbilledKindsAreDropped(t *testing.T) {
	srv := newServer(t)
	p := newPipeline(t, srv)
	ctx := context.Background()
	h, _ := p.meter.Int64Histogram("h")
	h.Record(ctx, 5, metric.WithAttributes(attribute.String("tenant.id", "t1"), attribute.String("device.id", "d1")))
	u, _ := p.meter.Int64UpDownCounter("u")
	u.Add(ctx, 5, metric.WithAttributes(attribute.String("tenant.id", "t1"), attribute.String("device.id", "d1")))
	g, _ := p.meter.Float64Gauge("g")
	g.Record(ctx, 5, metric.WithAttributes(attribute.String("tenant.id", "t1"), attribute.String("device.id", "d1")))
	var rm metricdata.ResourceMetrics
	require.NoError(t, p.reader.Collect(ctx, &rm))
	for _, sm := range rm.ScopeMetrics {
		assert.Empty(t, sm.Metrics, "dropped by aggregation")
	}
	require.NoError(t, p.exp.Export(ctx, &rm))
	assert.Zero(t, srv.Stats().Requests)
}

// Usage without a tenant cannot be billed; it is reported with counts in
// every collection it occurs in, never dropped silently.
func TestUnattributedUsageIsReportedEveryCollection(t *testing.T) {
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	p := newPipeline(t, srv)
	c := p.counter("pages")
	for range 2 {
		c.Add(context.Background(), 7, metric.WithAttributes(attribute.String("device.id", "d1")))
		c.Add(context.Background(), 1, at("t1", "d1"))
		err := p.collect()
		var ue *litewavemetric.UsageError
		require.ErrorAs(t, err, &ue)
		assert.Equal(t, litewavemetric.Unattributed, ue.Problem)
		assert.Equal(t, 1, ue.Points)
		assert.Equal(t, 7.0, ue.Units)
		assert.Equal(t, "pages", ue.Meter)
	}
	assert.Equal(t, int64(2), srv.Total(), "the attributed usage beside it is billed")
	assert.Equal(t, int64(2), p.exp.Stats().UnattributedPoints)
}

// Past the SDK's cardinality limit, usage is merged into an overflow set
// with no tenant: that is reported, and NewPeriodicReader's limit avoids it.
func TestCardinalityOverflowIsReported(t *testing.T) {
	srv := newServer(t, customers(5)...)
	p := newPipeline(t, srv, litewavemetric.WithCardinalityLimit(3))
	c := p.counter("pages")
	for i := range 5 {
		c.Add(context.Background(), 1, at(tenantID(i), "d"))
	}
	err := p.collect()
	var ue *litewavemetric.UsageError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, litewavemetric.CardinalityOverflow, ue.Problem)
	assert.Equal(t, 3.0, ue.Units, "the SDK keeps limit-1 sets and merges the rest")
	assert.Equal(t, int64(2), srv.Total())
}

func TestDefaultCardinalityLimitFitsBilling(t *testing.T) {
	exp, err := litewavemetric.New(context.Background(), litewavemetric.WithMaxSeries(50_000))
	require.NoError(t, err)
	defer exp.Shutdown(context.Background())
	limit, fallback := exp.CardinalityLimit(sdkmetric.InstrumentKindCounter)
	assert.Equal(t, 50_000, limit)
	assert.False(t, fallback)
	_, fallback = exp.CardinalityLimit(sdkmetric.InstrumentKindHistogram)
	assert.True(t, fallback, "other kinds keep the provider's limit")
}

func TestExportAfterShutdownFails(t *testing.T) {
	srv := newServer(t)
	p := newPipeline(t, srv)
	require.NoError(t, p.exp.Shutdown(context.Background()))
	err := p.exp.Export(context.Background(), &metricdata.ResourceMetrics{})
	require.ErrorIs(t, err, sdkmetric.ErrExporterShutdown)
	require.ErrorIs(t, p.exp.ForceFlush(context.Background()), sdkmetric.ErrExporterShutdown)
	require.ErrorIs(t, p.exp.Shutdown(context.Background()), sdkmetric.ErrExporterShutdown, "a second shutdown says so, and does no harm")
}

// A PeriodicReader drives the exporter end to end: its Shutdown exports the
// last collection and shuts the exporter down.
func TestPeriodicReaderEndToEnd(t *testing.T) {
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	exp, err := litewavemetric.New(context.Background(), litewavemetric.WithEndpoint(srv.URL))
	require.NoError(t, err)
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(litewavemetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))))
	c, _ := provider.Meter("m").Int64Counter("pages")
	c.Add(context.Background(), 11, at("t1", "d1"))
	require.NoError(t, provider.ForceFlush(context.Background()))
	c.Add(context.Background(), 4, at("t1", "d1"))
	require.NoError(t, provider.Shutdown(context.Background()))
	assert.Equal(t, int64(15), srv.Total())
	assert.Len(t, srv.Events(), 2)
	assert.True(t, errors.Is(exp.Export(context.Background(), &metricdata.ResourceMetrics{}), sdkmetric.ErrExporterShutdown))
}

func TestStatsCountWhatHappened(t *testing.T) {
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	p := newPipeline(t, srv)
	p.counter("pages").Add(context.Background(), 9, at("t1", "d1"))
	require.NoError(t, p.collect())
	st := p.exp.Stats()
	assert.Equal(t, int64(1), st.Exports)
	assert.Equal(t, int64(9), st.AcceptedUnits)
	assert.Equal(t, int64(9), st.DeliveredUnits)
	assert.Equal(t, int64(1), st.DeliveredEvents)
	assert.Zero(t, st.OwedUnits)
	assert.Equal(t, int64(1), st.Lookups.Lookups)
	b, err := json.Marshal(st)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"DeliveredUnits":9`)
}
