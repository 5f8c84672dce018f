// Package litewavemetric is an OpenTelemetry metric exporter that bills
// counters to Litewave: through its events API, through a Kafka REST Proxy,
// or straight to Kafka, chosen by configuration.
//
// Instrument billable work with ordinary OTel counters carrying tenant.id
// and device.id attributes, and register the exporter in a MeterProvider
// with NewPeriodicReader:
//
//	exp, err := litewavemetric.New(ctx)
//	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(litewavemetric.NewPeriodicReader(exp)))
//	pages, _ := provider.Meter("billing").Int64Counter("pages.processed")
//	pages.Add(ctx, 3, metric.WithAttributes(attribute.String("tenant.id", "t1"), attribute.String("device.id", "d1")))
//	err = provider.Shutdown(shutdownCtx) // with a deadline: it delivers what is owed
//
// Every collection (every OTEL_METRIC_EXPORT_INTERVAL, 60s by default)
// becomes usage events, one per (tenant, device, meter): the instrument's
// name is the meter id (see WithMeterID, WithInstruments), the usage since
// the previous collection is total_usage, and the customer id is looked up
// by tenant and cached.
//
// Only counters (synchronous and observable) are billed. Histograms,
// gauges and up-down counters are dropped by the exporter's aggregation
// selector (Exporter.Aggregation) before they reach Export, so they cost
// nothing and no report names them: a reader built with NewPeriodicReader
// never collects them.
//
// # Delivery
//
// Export takes a collection's usage into an outbox before it sends
// anything, so no network failure can lose it. Each series owes at most one
// event in flight, with an idempotency key that every retry repeats with
// the same bytes, and one amount that accumulates meanwhile. Outages
// (network errors, 408, 409, 429, 5xx) and configuration problems (redirects,
// refused keys, tenants without an account, unresolvable hosts, missing
// topics) keep the usage owed and are retried; they are reported through
// otel.Handle when they begin, persist and end (DeferredError). Usage the
// backend rejects is kept (Exporter.Rejected) and blocks nothing.
// ForceFlush and Shutdown deliver what is owed within their context,
// retrying on a short backoff, and say what is left (UndeliveredError).
// With WithSpoolDir the outbox is written to disk, synced, before the first
// send, and replayed with its original keys on the next start.
//
// How often a unit is billed depends on the backend and on its consumers:
// at least once everywhere, for usage Export accepted with a spool; exactly
// once on any backend that honours the idempotency key; and exactly once
// on backend kafka with a spool, whose transactions (on by default) fence a
// dead process and let a restart find what it had committed, for
// read_committed consumers. Elsewhere a crash can repeat the events in
// flight, with their keys.
//
// # Configuration
//
// Options beat environment variables, which beat defaults. Every setting
// has a variable, so that a program configured by the environment alone
// (OTEL_METRICS_EXPORTER=litewave through contrib's autoexport) reaches
// all of them:
//
//	LITEWAVE_BACKEND                 events | kafka-rest | kafka (events)         WithBackend
//	LITEWAVE_ENDPOINT                events API base URL (default
//	                                 http://metering.metering.svc.cluster.local:8000)  WithEndpoint
//	LITEWAVE_API_KEY                 x-api-key to Litewave, not to a proxy (none) WithAPIKey
//	LITEWAVE_PORTAL_URL              look customers up at the portal (none: at
//	                                 the events API)                              WithPortalURL
//	LITEWAVE_KAFKA_REST_URL          Kafka REST Proxy v2 base URL (none)          WithKafkaRESTURL
//	LITEWAVE_KAFKA_TOPIC             topic of usage records (usage-events)        WithKafkaTopic
//	LITEWAVE_KAFKA_REST_MAX_RECORDS  records per REST request (500)               WithKafkaRESTBatch
//	LITEWAVE_KAFKA_REST_MAX_BYTES    bytes per REST request (1048576)             WithKafkaRESTBatch
//	LITEWAVE_KAFKA_BROKERS           seed brokers, host:port,... (none)           WithKafkaBrokers
//	LITEWAVE_KAFKA_TLS               true: TLS to the brokers (plaintext)         WithKafkaTLS
//	LITEWAVE_KAFKA_SASL_MECHANISM    PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512 (none) WithKafkaSASL
//	LITEWAVE_KAFKA_SASL_USERNAME     SASL user name (none)                        WithKafkaSASL
//	LITEWAVE_KAFKA_SASL_PASSWORD     SASL password, never printed (none)          WithKafkaSASL
//	LITEWAVE_KAFKA_TRANSACTIONS      false: no transactions (true, with a spool)  WithKafkaTransactions
//	LITEWAVE_KAFKA_CHECKPOINT_TOPIC  compacted topic of transaction checkpoints
//	                                 (the topic + ".checkpoints")                 WithKafkaCheckpointTopic
//	LITEWAVE_KAFKA_TRANSACTION_TIMEOUT  transaction timeout (20s)                 WithKafkaTransactionTimeout
//	LITEWAVE_TIMEOUT                 per HTTP request, ms or a duration (10s)     WithTimeout
//	LITEWAVE_CONCURRENCY             batches in flight (64)                       WithConcurrency
//	LITEWAVE_SPOOL_DIR               crash-safe outbox directory (none: memory)   WithSpoolDir
//	LITEWAVE_MAX_SPOOL_BYTES         what the spool may hold (268435456)          WithMaxSpoolBytes
//	LITEWAVE_INSTANCE_ID             a name in every idempotency key (random)     WithInstanceID
//	LITEWAVE_TENANT_ATTRIBUTE        attribute of the tenant id (tenant.id)       WithTenantAttribute
//	LITEWAVE_DEVICE_ATTRIBUTE        attribute of the device id (device.id)       WithDeviceAttribute
//	LITEWAVE_METER_IDS               instrument=meter,... renames (none)          WithMeterID
//	LITEWAVE_INSTRUMENTS             instrument,... to bill (all counters)        WithInstruments
//	LITEWAVE_MAX_SERIES              series held at once (100000)                 WithMaxSeries
//	LITEWAVE_CARDINALITY_LIMIT       SDK limit per counter (0: none)              WithCardinalityLimit
//	LITEWAVE_STALENESS               forget cumulative streams unseen this long
//	                                 (0: never)                                   WithStaleness
//	LITEWAVE_RETRY_INITIAL_INTERVAL  first backoff (1s)                           WithRetry
//	LITEWAVE_RETRY_MAX_INTERVAL      longest backoff (2m)                         WithRetry
//	LITEWAVE_RETRY_MAX_RETRY_AFTER   cap on a server's Retry-After (10m)          WithRetry
//	LITEWAVE_CUSTOMER_CACHE_HIT      how long a customer id is cached (10m)       WithCustomerCache
//	LITEWAVE_CUSTOMER_CACHE_MISS     how long "no account" is cached (1m)         WithCustomerCache
//	LITEWAVE_LOG_LEVEL               log to stderr at debug|info|warn|error
//	                                 (none)                                       WithLogger
//	OTEL_GO_X_OBSERVABILITY          true: the exporter's own metrics on the
//	                                 global MeterProvider (off)                   WithMeterProvider
//
// Durations are milliseconds or Go durations ("10s"). A configuration error
// from New names the variable or option it came from, and never shows a
// secret: URLs with credentials are refused, shown with their user
// information masked. HTTP requests honour HTTP_PROXY, HTTPS_PROXY and
// NO_PROXY (unless WithHTTPClient is given): through a proxy, the API key
// travels inside the TLS tunnel to an https endpoint, but in the clear to
// the proxy for an http one. The proxy's own URL is never printed.
//
// # Errors
//
// Export returns an error only for usage that cannot be billed as counted:
// a UsageError per kind (no tenant, cardinality overflow, invalid id, bad
// value, capacity), a RejectedError per event the backend refused at its
// first attempt, and the spool's error if it cannot be written. Usage owed
// (accepted, not delivered yet) is not a failed export. Through
// NewPeriodicReader, Export does not wait for first attempts: these errors
// go to otel.Handle, and the provider's ForceFlush and Shutdown return them.
// ForceFlush and Shutdown return an UndeliveredError while usage is owed or
// rejected. Every error wraps its cause: errors.Is and errors.As reach
// ErrNoCustomer, *HTTPError, the network error and the context's error.
// The API key and the SASL password never appear in any.
//
// For code without OpenTelemetry, Client offers the meter-lib calls,
// LookupCustomer and PostMeterUsage, with errors instead of silent nils.
//
// The litewavetest package provides a fake backend, with scripted faults,
// for testing instrumentation.
package litewavemetric
