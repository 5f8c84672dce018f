// Package autoexport registers the Litewave billing exporter with
// OpenTelemetry's autoexport (go.opentelemetry.io/contrib/exporters/autoexport)
// under the name litewave, so that a program whose metric reader comes from
// autoexport.NewMetricReader bills through Litewave when its environment
// says so. Import it once, in main:
//
//	import _ "github.com/aiorch/litewavemetric/autoexport"
//
// and run the program with
//
//	OTEL_METRICS_EXPORTER=litewave
//
// The reader is litewavemetric.NewPeriodicReader's over litewavemetric.New,
// configured by the environment alone: every LITEWAVE_* variable of the
// library (backend, endpoint, API key, spool, ...), and
// OTEL_METRIC_EXPORT_INTERVAL and OTEL_METRIC_EXPORT_TIMEOUT for the
// reader. A variable that does not parse makes NewMetricReader fail with
// an error naming it. Shut the MeterProvider down with a deadline: its
// Shutdown delivers what is owed and says what it could not.
//
// It is a module of its own so that the library does not depend on
// autoexport and the exporters it brings (OTLP, gRPC, Prometheus).
package autoexport

import (
	"context"
	"fmt"

	contrib "go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel/sdk/metric"

	"github.com/aiorch/litewavemetric"
)

// Name is the OTEL_METRICS_EXPORTER value that selects Litewave.
const Name = "litewave"

func init() {
	contrib.RegisterMetricReader(Name, func(ctx context.Context) (metric.Reader, error) {
		exp, err := litewavemetric.New(ctx)
		if err != nil {
			return nil, fmt.Errorf("OTEL_METRICS_EXPORTER=%s: %w", Name, err)
		}
		return litewavemetric.NewPeriodicReader(exp), nil
	})
}
