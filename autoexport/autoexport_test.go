package autoexport_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	contrib "go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.uber.org/goleak"

	_ "github.com/aiorch/litewavemetric/autoexport"
	"github.com/aiorch/litewavemetric/litewavetest"
)

var acmePages = litewavetest.Series{Tenant: "acme", Device: "scanner-1", Meter: "pages.processed"}

// newProvider is a program's view: the reader comes from contrib's
// autoexport, and the environment chooses Litewave.
func newProvider(t *testing.T, srv *litewavetest.Server) *sdkmetric.MeterProvider {
	t.Helper()
	t.Setenv("OTEL_METRICS_EXPORTER", "litewave")
	t.Setenv("LITEWAVE_ENDPOINT", srv.URL)
	reader, err := contrib.NewMetricReader(context.Background())
	require.NoError(t, err)
	require.False(t, contrib.IsNoneMetricReader(reader))
	return sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
}

func count(t *testing.T, provider *sdkmetric.MeterProvider, n int64) {
	t.Helper()
	pages, err := provider.Meter("billing").Int64Counter("pages.processed")
	require.NoError(t, err)
	pages.Add(context.Background(), n, metric.WithAttributes(
		attribute.String("tenant.id", "acme"), attribute.String("device.id", "scanner-1")))
}

func shutdown(t *testing.T, provider *sdkmetric.MeterProvider) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return provider.Shutdown(ctx)
}

func TestLitewaveReaderBillsACounter(t *testing.T) {
	srv := litewavetest.NewServer(litewavetest.WithCustomer("acme", "cus_42"))
	defer srv.Close()
	provider := newProvider(t, srv)
	count(t, provider, 24)

	require.NoError(t, shutdown(t, provider), "Shutdown delivers what is owed")
	assert.Equal(t, map[litewavetest.Series]int64{acmePages: 24}, srv.Totals())
	assert.Equal(t, "cus_42", srv.Events()[0].CustomerID)
}

// The reader's interval comes from OTEL_METRIC_EXPORT_INTERVAL: usage is
// billed before any flush or shutdown.
func TestReaderIntervalComesFromTheEnvironment(t *testing.T) {
	srv := litewavetest.NewServer(litewavetest.WithAnyTenant())
	defer srv.Close()
	t.Setenv("OTEL_METRIC_EXPORT_INTERVAL", "50")
	provider := newProvider(t, srv)
	count(t, provider, 5)

	assert.Eventually(t, func() bool { return srv.Total() == 5 }, 10*time.Second, 10*time.Millisecond,
		"billed by the periodic collection")
	require.NoError(t, shutdown(t, provider))
	assert.Equal(t, map[litewavetest.Series]int64{acmePages: 5}, srv.Totals())
}

// A LITEWAVE_* value that does not parse fails NewMetricReader with an
// error that names the variable; nothing is started.
func TestBadSettingFailsNamingTheVariable(t *testing.T) {
	cases := map[string]string{
		"LITEWAVE_TIMEOUT":  "soon",
		"LITEWAVE_BACKEND":  "carrier-pigeon",
		"LITEWAVE_ENDPOINT": "metering:8000",
	}
	for name, value := range cases {
		t.Run(name, func(t *testing.T) {
			t.Setenv("OTEL_METRICS_EXPORTER", "litewave")
			t.Setenv(name, value)
			reader, err := contrib.NewMetricReader(context.Background())
			require.Error(t, err)
			assert.Nil(t, reader)
			assert.Contains(t, err.Error(), "OTEL_METRICS_EXPORTER=litewave")
			assert.Contains(t, err.Error(), name+"=")
			t.Log(err)
			goleak.VerifyNone(t)
		})
	}
}
