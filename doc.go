// Package litewavemetric is an OpenTelemetry metric exporter that bills
// counters to the Litewave metering API.
//
// Instrument billable work with ordinary OTel counters carrying tenant.id
// and device.id attributes, and register the exporter in a MeterProvider:
//
//	exp, err := litewavemetric.New(ctx)
//	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(litewavemetric.NewPeriodicReader(exp)))
//	counter, _ := provider.Meter("billing").Int64Counter("pages.processed")
//	counter.Add(ctx, 3, metric.WithAttributes(attribute.String("tenant.id", "t1"), attribute.String("device.id", "d1")))
//	defer provider.Shutdown(shutdownCtx) // with a deadline: it delivers what is owed
//
// Each collection becomes usage events, one per (tenant, device, meter):
// the instrument's name is the meter id (see WithMeterID, WithInstruments),
// the delta since the previous collection is total_usage, and the customer
// id is looked up by tenant and cached.
//
// # Delivery
//
// Export takes a collection's usage into an outbox before it sends
// anything, so no network failure can lose it. Each series owes at most one
// frozen event, with a deterministic idempotency key sent as the
// Idempotency-Key header, and one open amount that accumulates while the
// event is in flight or waiting to be retried. Network errors, 408, 409, 429
// and 5xx are retried with exponential backoff and jitter, honouring
// Retry-After; any other non-2xx answer, a redirect included, parks the
// event: it is held, reported and counted, never dropped. With WithSpoolDir the outbox is written to disk,
// synced, before the first send, and replayed with its original keys on the
// next start.
//
// # Configuration
//
// Options beat environment variables, which beat defaults:
//
//	LITEWAVE_ENDPOINT          base URL (WithEndpoint)
//	LITEWAVE_API_KEY           x-api-key header (WithAPIKey)
//	LITEWAVE_TIMEOUT           per request, ms or a Go duration (WithTimeout)
//	LITEWAVE_SPOOL_DIR         crash-safe outbox (WithSpoolDir)
//	LITEWAVE_INSTANCE_ID       part of every idempotency key (WithInstanceID)
//	LITEWAVE_CONCURRENCY       requests in flight (WithConcurrency)
//	LITEWAVE_TENANT_ATTRIBUTE  tenant id attribute key (WithTenantAttribute)
//	LITEWAVE_DEVICE_ATTRIBUTE  device id attribute key (WithDeviceAttribute)
//
// # Errors
//
// Export returns what it finds, joined: a UsageError per kind of usage that
// cannot be billed as counted (no tenant, cardinality overflow, invalid id,
// bad value, capacity), a RejectedError per event the backend refused, and
// a DeferredError while usage is owed but undelivered. Errors found in the
// background are passed to otel.Handle. The API key never appears in any.
//
// For code without OpenTelemetry, Client offers the meter-lib calls,
// LookupCustomer and PostMeterUsage, with errors instead of silent nils.
//
// The litewavetest package provides a fake backend, with scripted faults,
// for testing instrumentation.
package litewavemetric
