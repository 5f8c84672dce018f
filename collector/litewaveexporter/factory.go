package litewaveexporter

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/exporter"

	"github.com/aiorch/litewavemetric/collector/litewaveexporter/internal/metadata"
)

// defaultShutdownTimeout bounds delivery at shutdown when the Collector's
// context has no deadline, so that an unreachable backend cannot hold the
// Collector: what is left stays in the spool, or is reported lost.
const defaultShutdownTimeout = 10 * time.Second

// NewFactory returns the factory of the litewave exporter.
func NewFactory() exporter.Factory {
	return exporter.NewFactory(metadata.Type, createDefaultConfig,
		exporter.WithMetrics(createMetrics, metadata.MetricsStability))
}

func createDefaultConfig() component.Config {
	return &Config{ShutdownTimeout: defaultShutdownTimeout}
}

func createMetrics(_ context.Context, set exporter.Settings, cfg component.Config) (exporter.Metrics, error) {
	return newExporter(cfg.(*Config), set), nil
}
