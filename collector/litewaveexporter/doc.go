// Package litewaveexporter is an OpenTelemetry Collector exporter that
// bills monotonic sums to Litewave through the litewavemetric library:
// any language's OpenTelemetry SDK counts, sends OTLP to a Collector, and
// bills with the library's guarantees (see README.md).
package litewaveexporter

//go:generate mdatagen metadata.yaml
