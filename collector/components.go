package main

import (
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/service/telemetry/otelconftelemetry"

	"github.com/aiorch/litewavemetric/collector/litewaveexporter"
)

// components is the distribution: the OTLP receiver in front of the
// litewave exporter, and nothing that acknowledges usage before it is
// taken (no batch processor, no queue).
func components() (otelcol.Factories, error) {
	f := otelcol.Factories{Telemetry: otelconftelemetry.NewFactory()}
	var err error
	if f.Receivers, err = otelcol.MakeFactoryMap(otlpreceiver.NewFactory()); err != nil {
		return f, err
	}
	f.Exporters, err = otelcol.MakeFactoryMap(litewaveexporter.NewFactory())
	return f, err
}
