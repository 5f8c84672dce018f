package litewaveexporter

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/aiorch/litewavemetric/litewavetest"
)

// The exporter's own metrics reach the Collector's telemetry: what it
// delivered, in units, is there to watch.
func TestOwnMetricsGoThroughTheCollectorsTelemetry(t *testing.T) {
	srv := litewavetest.NewServer(litewavetest.WithAnyTenant())
	defer srv.Close()
	tel := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tel.Shutdown(context.Background())) }()
	set := exportertest.NewNopSettings(typ)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	cfg := NewFactory().CreateDefaultConfig().(*Config)
	cfg.Endpoint = srv.URL
	exp, err := NewFactory().CreateMetrics(t.Context(), set, cfg)
	require.NoError(t, err)
	require.NoError(t, exp.Start(t.Context(), componenttest.NewNopHost()))
	now := time.Now()
	require.NoError(t, exp.ConsumeMetrics(t.Context(), sums(pmetric.AggregationTemporalityDelta, point{"i1", "t1", now, now.Add(time.Second), 9})))
	defer func() { require.NoError(t, exp.Shutdown(context.Background())) }()

	require.Eventually(t, func() bool {
		m, err := tel.GetMetric("litewave.usage.delivered")
		if err != nil {
			return false
		}
		var delivered int64
		for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
			delivered += dp.Value
		}
		return delivered == 9
	}, 10*time.Second, 5*time.Millisecond)
	_, err = tel.GetMetric("otel.sdk.exporter.metric_data_point.exported")
	require.NoError(t, err)
}
