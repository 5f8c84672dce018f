package litewavemetric_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/aiorch/litewavemetric"
	"github.com/aiorch/litewavemetric/litewavetest"
)

// One exporter serves one pipeline: usage collected twice, by two readers
// or two providers sharing the exporter, is billed once, and the cause is
// reported. Billing is read as a consumer that does not deduplicate reads
// it: every event the backend received, repeats included.

// billedByConsumer is what a consumer billing every event it receives
// bills per series.
func billedByConsumer(srv *litewavetest.Server) map[litewavetest.Series]int64 {
	out := map[litewavetest.Series]int64{}
	for _, ev := range srv.Events() {
		out[series(ev.Tenant, ev.Device, ev.Meter)] += ev.TotalUsage
	}
	return out
}

// countTen records ten units over two series on every counter given, as
// instrumentation does that writes to each provider it was handed, and
// adds them, counted once, to counted.
func countTen(counted map[litewavetest.Series]int64, counters ...metric.Int64Counter) {
	for _, c := range counters {
		c.Add(context.Background(), 3, at("t1", "d1"))
		c.Add(context.Background(), 7, at("t2", "d1"))
	}
	counted[series("t1", "d1", "pages")] += 3
	counted[series("t2", "d1", "pages")] += 7
}

// sharedExporter is an exporter for srv whose log is kept.
func sharedExporter(t *testing.T, srv *litewavetest.Server) (*litewavemetric.Exporter, *syncBuffer) {
	logs := &syncBuffer{}
	return newExporter(t, srv, litewavemetric.WithLogger(slog.New(slog.NewTextHandler(logs, nil)))), logs
}

func twoCustomers(t *testing.T) *litewavetest.Server {
	return newServer(t, litewavetest.WithCustomer("t1", "c1"), litewavetest.WithCustomer("t2", "c2"))
}

func flushProvider(mp *sdkmetric.MeterProvider) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return mp.ForceFlush(ctx)
}

func shutdownProvider(mp *sdkmetric.MeterProvider) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return mp.Shutdown(ctx)
}

func pagesCounter(t *testing.T, mp *sdkmetric.MeterProvider) metric.Int64Counter {
	c, err := mp.Meter("app").Int64Counter("pages")
	require.NoError(t, err)
	return c
}

// requireOverlapReported checks that err refuses usage collected twice
// and names the cause, and that the exporter's log says so too.
func requireOverlapReported(t *testing.T, err error, logs *syncBuffer) {
	t.Helper()
	var ue *litewavemetric.UsageError
	require.ErrorAs(t, err, &ue)
	assert.Equal(t, "overlapping", ue.Problem)
	assert.Contains(t, ue.Error(), "two readers, or two MeterProviders, sharing this exporter")
	assert.Contains(t, logs.String(), "two readers, or two MeterProviders, sharing this exporter")
}

func TestOneExporterInTwoReadersBillsEachUnitOnce(t *testing.T) {
	t.Run("litewavemetric.NewPeriodicReader twice", func(t *testing.T) {
		srv := twoCustomers(t)
		reports := handleErrors(t)
		exp, logs := sharedExporter(t, srv)
		first := litewavemetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))
		second := litewavemetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))
		require.Contains(t, reports.all(), litewavemetric.ErrSecondReader, "reported when the second reader is made")
		assert.Contains(t, logs.String(), "this exporter already feeds another reader")
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(first), sdkmetric.WithReader(second))
		pages := pagesCounter(t, mp)

		counted := map[litewavetest.Series]int64{}
		for range 2 {
			countTen(counted, pages)
			require.ErrorIs(t, flushProvider(mp), litewavemetric.ErrSecondReader)
			require.Equal(t, counted, billedByConsumer(srv))
		}
		countTen(counted, pages)
		require.ErrorIs(t, shutdownProvider(mp), litewavemetric.ErrSecondReader)
		assert.Equal(t, counted, billedByConsumer(srv), "the first reader's Shutdown delivered the rest, once")
	})

	t.Run("sdkmetric.NewPeriodicReader twice", func(t *testing.T) {
		srv := twoCustomers(t)
		handleErrors(t)
		exp, logs := sharedExporter(t, srv)
		mp := sdkmetric.NewMeterProvider(
			sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))),
			sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))))
		pages := pagesCounter(t, mp)

		counted := map[litewavetest.Series]int64{}
		for range 3 {
			countTen(counted, pages)
			err := flushProvider(mp)
			require.Equal(t, counted, billedByConsumer(srv))
			requireOverlapReported(t, err, logs)
			var ue *litewavemetric.UsageError
			require.ErrorAs(t, err, &ue)
			assert.Equal(t, 2, ue.Points, "both streams of the second reader")
			assert.Equal(t, float64(10), ue.Units)
		}
		// The first reader shuts the exporter down; the second's final
		// export then fails: the SDK's way with two readers of one exporter.
		_ = shutdownProvider(mp)
		assert.Equal(t, counted, billedByConsumer(srv))
	})

	// A user wrapping readers of their own hands Export each collection.
	for _, cumulative := range []bool{false, true} {
		name := "manual readers, delta"
		if cumulative {
			name = "manual readers, cumulative"
		}
		t.Run(name, func(t *testing.T) {
			srv := twoCustomers(t)
			exp, logs := sharedExporter(t, srv)
			sel := exp.Temporality
			if cumulative {
				sel = sdkmetric.CumulativeTemporalitySelector
			}
			readers := []*sdkmetric.ManualReader{
				sdkmetric.NewManualReader(sdkmetric.WithTemporalitySelector(sel)),
				sdkmetric.NewManualReader(sdkmetric.WithTemporalitySelector(sel)),
			}
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(readers[0]), sdkmetric.WithReader(readers[1]))
			defer func() { _ = shutdownProvider(mp) }()
			pages := pagesCounter(t, mp)

			ctx := context.Background()
			counted := map[litewavetest.Series]int64{}
			for range 3 {
				countTen(counted, pages)
				var errs []error
				for _, r := range readers {
					var rm metricdata.ResourceMetrics
					require.NoError(t, r.Collect(ctx, &rm))
					errs = append(errs, exp.Export(ctx, &rm))
				}
				require.NoError(t, exp.ForceFlush(ctx))
				require.Equal(t, counted, billedByConsumer(srv))
				require.NoError(t, errs[0])
				requireOverlapReported(t, errs[1], logs)
			}
		})
	}
}

func TestTwoProvidersSharingAnExporterBillEachUnitOnce(t *testing.T) {
	t.Run("litewavemetric.NewPeriodicReader", func(t *testing.T) {
		srv := twoCustomers(t)
		handleErrors(t)
		exp, _ := sharedExporter(t, srv)
		mp1 := sdkmetric.NewMeterProvider(sdkmetric.WithReader(litewavemetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))))
		mp2 := sdkmetric.NewMeterProvider(sdkmetric.WithReader(litewavemetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))))
		pages1, pages2 := pagesCounter(t, mp1), pagesCounter(t, mp2)

		counted := map[litewavetest.Series]int64{}
		countTen(counted, pages1, pages2)
		require.NoError(t, flushProvider(mp1))
		require.ErrorIs(t, flushProvider(mp2), litewavemetric.ErrSecondReader)
		require.Equal(t, counted, billedByConsumer(srv))

		countTen(counted, pages1, pages2)
		require.ErrorIs(t, shutdownProvider(mp2), litewavemetric.ErrSecondReader)
		require.NoError(t, flushProvider(mp1), "the second provider's Shutdown left the exporter to the first")
		assert.Equal(t, counted, billedByConsumer(srv))
		require.NoError(t, shutdownProvider(mp1))
	})

	t.Run("sdkmetric.NewPeriodicReader", func(t *testing.T) {
		srv := twoCustomers(t)
		handleErrors(t)
		exp, logs := sharedExporter(t, srv)
		mp1 := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))))
		mp2 := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))))
		defer func() { _ = shutdownProvider(mp2) }()
		pages1, pages2 := pagesCounter(t, mp1), pagesCounter(t, mp2)

		counted := map[litewavetest.Series]int64{}
		for range 3 {
			countTen(counted, pages1, pages2)
			require.NoError(t, flushProvider(mp1))
			err := flushProvider(mp2)
			require.Equal(t, counted, billedByConsumer(srv))
			requireOverlapReported(t, err, logs)
		}
		require.NoError(t, shutdownProvider(mp1))
	})
}

// The SDK's WithMaxExportBatchSize splits one collection into several
// Exports over the same interval: each stream appears once, so none is
// refused.
func TestBatchSplitCollectionIsBilledWhole(t *testing.T) {
	srv := newServer(t, customers(4)...)
	reports := handleErrors(t)
	exp, logs := sharedExporter(t, srv)
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(
		litewavemetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour), sdkmetric.WithMaxExportBatchSize(1))))
	meter := mp.Meter("app")
	pages, err := meter.Int64Counter("pages")
	require.NoError(t, err)
	tokens, err := meter.Int64Counter("tokens")
	require.NoError(t, err)

	counted := map[litewavetest.Series]int64{}
	for round := range 3 {
		exports := exp.Stats().Exports
		for i := range 4 {
			for _, d := range []string{"d1", "d2"} {
				pages.Add(context.Background(), int64(i+1), at(tenantID(i), d))
				tokens.Add(context.Background(), int64(10*(i+1)), at(tenantID(i), d))
				counted[series(tenantID(i), d, "pages")] += int64(i + 1)
				counted[series(tenantID(i), d, "tokens")] += int64(10 * (i + 1))
			}
		}
		require.NoError(t, flushProvider(mp), "round %d", round)
		require.GreaterOrEqual(t, exp.Stats().Exports-exports, int64(16), "one Export per point")
		require.Equal(t, counted, billedByConsumer(srv), "round %d", round)
	}
	require.NoError(t, shutdownProvider(mp))
	assert.Empty(t, reports.all())
	assert.NotContains(t, logs.String(), "collected twice")
}

// A billed series sums the streams that differ in other attributes, or come
// from instruments billed under one meter: each stream is billed.
func TestStreamsOfOneSeriesAreEachBilled(t *testing.T) {
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"))
	reports := handleErrors(t)
	p := newPipeline(t, srv, litewavemetric.WithMeterID("pages.scanned", "pages"))
	pages, scanned := p.counter("pages"), p.counter("pages.scanned")
	ctx := context.Background()
	want := map[litewavetest.Series]int64{}
	for round := range 3 {
		pages.Add(ctx, 1, at("t1", "d1", regionAttr("eu")))
		pages.Add(ctx, 2, at("t1", "d1", regionAttr("us")))
		scanned.Add(ctx, 4, at("t1", "d1", regionAttr("eu")))
		want[series("t1", "d1", "pages")] += 7
		require.NoError(t, p.flush(), "round %d", round)
		require.Equal(t, want, billedByConsumer(srv), "round %d", round)
	}
	assert.Empty(t, reports.all())
}

func regionAttr(r string) attribute.KeyValue { return attribute.String("region", r) }
