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
// an option sets has a variable, except the HTTP client and TLS
// configuration and franz-go's own options, so that a program configured
// by the environment alone (OTEL_METRICS_EXPORTER=litewave through
// contrib's autoexport) reaches them. The variables, the option (and its
// field) that overrides each, and the defaults:
//
//	LITEWAVE_BACKEND                    WithBackend; default events
//	    events, kafka-rest or kafka
//	LITEWAVE_ENDPOINT                   WithEndpoint; default http://metering.metering.svc.cluster.local:8000
//	    events API base URL; New warns when it is this in-cluster default
//	LITEWAVE_API_KEY                    WithAPIKey; default none
//	    x-api-key to Litewave, never to a proxy; never printed
//	LITEWAVE_PORTAL_URL                 WithPortalURL; default none: the events API
//	    look customers up at the portal
//	LITEWAVE_KAFKA_TOPIC                WithKafka (Topic); default usage-events
//	    topic of usage records (both Kafka backends)
//	LITEWAVE_KAFKA_REST_URL             WithKafka (RESTProxyURL); default none
//	    Kafka REST Proxy v2 base URL (backend kafka-rest)
//	LITEWAVE_KAFKA_REST_MAX_RECORDS     WithKafka (RESTMaxRecords); default 500
//	    records per REST Proxy request, at most 5000
//	LITEWAVE_KAFKA_REST_MAX_BYTES       WithKafka (RESTMaxBytes); default 1048576
//	    body bytes per REST Proxy request
//	LITEWAVE_KAFKA_BROKERS              WithKafka (Brokers); default none
//	    seed brokers, host:port,... (backend kafka)
//	LITEWAVE_KAFKA_TLS                  WithKafka (TLS); default false
//	    true: TLS to the brokers, with the system's roots
//	LITEWAVE_KAFKA_SASL_MECHANISM       WithKafka (SASLMechanism); default none
//	    PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
//	LITEWAVE_KAFKA_SASL_USERNAME        WithKafka (SASLUsername); default none
//	    SASL user name; never printed
//	LITEWAVE_KAFKA_SASL_PASSWORD        WithKafka (SASLPassword); default none
//	    SASL password; never printed
//	LITEWAVE_KAFKA_TRANSACTIONS         WithKafkaTransactions (Off); default true, with a spool
//	    produce in transactions (backend kafka with a spool)
//	LITEWAVE_KAFKA_CHECKPOINT_TOPIC     WithKafkaTransactions (CheckpointTopic); default the topic + ".checkpoints"
//	    compacted topic of the transactions' checkpoints
//	LITEWAVE_KAFKA_TRANSACTION_TIMEOUT  WithKafkaTransactions (Timeout); default 20s
//	    how long a transaction may take: what a dead replica holds back
//	    read_committed readers
//	LITEWAVE_TIMEOUT                    WithTimeout; default 10s
//	    per HTTP request: milliseconds, or a duration such as 10s
//	LITEWAVE_CONCURRENCY                WithConcurrency; default 64
//	    batches in flight (events: requests); see docs/performance.md
//	LITEWAVE_RETRY_INITIAL_INTERVAL     WithRetry (InitialInterval); default 1s
//	    first backoff, doubling with jitter
//	LITEWAVE_RETRY_MAX_INTERVAL         WithRetry (MaxInterval); default 2m
//	    longest backoff
//	LITEWAVE_RETRY_MAX_RETRY_AFTER      WithRetry (MaxRetryAfter); default 10m
//	    cap on a server's Retry-After, which replaces the backoff
//	LITEWAVE_CUSTOMER_CACHE_HIT         WithCustomerCache (hit); default 10m
//	    how long a customer id is cached
//	LITEWAVE_CUSTOMER_CACHE_MISS        WithCustomerCache (miss); default 1m
//	    how long "no such account" is cached
//	LITEWAVE_SPOOL_DIR                  WithSpoolDir; default none: memory
//	    crash-safe outbox directory
//	LITEWAVE_MAX_SPOOL_BYTES            WithMaxSpoolBytes; default 268435456
//	    what the spool may hold: its records, not the file's size
//	LITEWAVE_MAX_SERIES                 WithMaxSeries; default 100000
//	    series held at once
//	LITEWAVE_INSTANCE_ID                WithInstanceID; default random
//	    a name in every idempotency key
//	LITEWAVE_TENANT_ATTRIBUTE           WithAttributeKeys (tenant); default tenant.id
//	    attribute carrying the tenant id
//	LITEWAVE_DEVICE_ATTRIBUTE           WithAttributeKeys (device); default device.id
//	    attribute carrying the device id
//	LITEWAVE_METER_IDS                  WithMeterID; default the instrument's name
//	    instrument=meter,...: bill an instrument under another meter id (at most
//	    255 bytes)
//	LITEWAVE_INSTRUMENTS                WithInstruments; default all counters
//	    instrument,...: bill only these
//	LITEWAVE_CARDINALITY_LIMIT          WithCardinalityLimit; default 0: none
//	    per-counter SDK limit that NewPeriodicReader sets; with none the SDK
//	    never merges usage into its overflow set, and the series cap is the
//	    bound
//	LITEWAVE_STALENESS                  WithStaleness; default 0: never
//	    forget a cumulative stream unseen this long
//	LITEWAVE_LOG_LEVEL                  WithLogger; default none
//	    log to stderr at debug, info, warn or error: retries (debug), outages
//	    and configuration problems (warn), rejections and spool repairs (error)
//	OTEL_GO_X_OBSERVABILITY             WithMeterProvider; default off
//	    true: the exporter's own metrics on the global MeterProvider
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

//go:generate go run ./internal/config/docgen
