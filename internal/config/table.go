package config

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aiorch/litewavemetric/internal/redact"
	"github.com/aiorch/litewavemetric/internal/usage"
)

// Table is every setting, in the order the documentation lists them.
var Table = []*Setting{
	Backend, Endpoint, APIKey, PortalURL, KafkaTopic, KafkaRESTURL, KafkaRESTMaxRecords, KafkaRESTMaxBytes,
	KafkaBrokers, KafkaTLS, KafkaSASLMechanism, KafkaSASLUsername, KafkaSASLPassword, KafkaOptions,
	KafkaTransactions, KafkaCheckpointTopic, KafkaTransactionTimeout,
	Timeout, HTTPClient, TLSConfig, Concurrency, RetryInitialInterval, RetryMaxInterval, RetryMaxRetryAfter,
	CustomerCacheHit, CustomerCacheMiss, SpoolDir, MaxSpoolBytes, MaxSeries, InstanceID,
	TenantAttribute, DeviceAttribute, MeterIDs, Instruments, CardinalityLimit, Staleness, LogLevel, Observability,
}

var backends = []string{BackendEvents, BackendKafkaREST, BackendKafka}

var saslMechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}

// maxRESTRecords bounds records per REST Proxy request so that the
// proxy's answer, an entry of up to ~120 bytes per record, stays within
// what is read of an answer (1 MiB).
const maxRESTRecords = 5000

// DefaultEndpoint is the in-cluster address of the events API, which New
// warns about when it is used.
const DefaultEndpoint = "http://metering.metering.svc.cluster.local:8000"

var (
	Backend = &Setting{Env: "LITEWAVE_BACKEND", Option: "WithBackend", YAML: "backend", Default: BackendEvents,
		Doc: "events, kafka-rest or kafka", Name: "the backend", Example: BackendKafkaREST, Wrong: "smtp",
		parse: text(func(c *Config) *string { return &c.Backend }),
		check: func(c *Config, _ *Setting) error {
			if !slices.Contains(backends, c.Backend) {
				return fmt.Errorf("unknown backend %q; valid: %s", c.Backend, strings.Join(backends, ", "))
			}
			return nil
		}}
	Endpoint = &Setting{Env: "LITEWAVE_ENDPOINT", Option: "WithEndpoint", YAML: "endpoint", Default: DefaultEndpoint,
		Doc: "events API base URL; New warns when it is this in-cluster default", Show: URL, Name: "the endpoint", Example: "https://metering.example.com", Wrong: "ftp://host",
		parse: text(func(c *Config) *string { return &c.Endpoint }),
		check: func(c *Config, _ *Setting) error { return c.checkURL(c.Endpoint) }}
	APIKey = &Setting{Env: "LITEWAVE_API_KEY", Option: "WithAPIKey", YAML: "api_key",
		Doc: "x-api-key to Litewave, never to a proxy; never printed", Show: Secret, Name: "WithAPIKey",
		Example: "key-1", Wrong: "key\n2",
		parse: secret(func(c *Config) *redact.Secret { return &c.APIKey }),
		check: func(c *Config, _ *Setting) error { return checkSecret(c.APIKey.Value()) }}
	PortalURL = &Setting{Env: "LITEWAVE_PORTAL_URL", Option: "WithPortalURL", YAML: "portal_url", Shown: "none: the events API",
		Doc: "look customers up at the portal", Show: URL, Name: "the portal URL", Example: "https://portal.example.com", Wrong: "portal.example.com",
		parse: text(func(c *Config) *string { return &c.PortalURL }),
		check: func(c *Config, _ *Setting) error {
			if c.PortalURL == "" {
				return nil
			}
			return c.checkURL(c.PortalURL)
		}}
	KafkaTopic = &Setting{Env: "LITEWAVE_KAFKA_TOPIC", Option: "WithKafka", Field: "Topic", YAML: "kafka.topic", Default: "usage-events",
		Doc: "topic of usage records (both Kafka backends)", Name: "the topic", Example: "billing", Wrong: "a topic",
		parse: text(func(c *Config) *string { return &c.KafkaTopic }),
		check: func(c *Config, _ *Setting) error {
			if c.KafkaTopic == "" || strings.ContainsAny(c.KafkaTopic, "/?# ") {
				return fmt.Errorf("topic %q is not a valid topic name", c.KafkaTopic)
			}
			return nil
		}}
	KafkaRESTURL = &Setting{Env: "LITEWAVE_KAFKA_REST_URL", Option: "WithKafka", Field: "RESTProxyURL", YAML: "kafka_rest.url",
		Doc: "Kafka REST Proxy v2 base URL (backend kafka-rest)", Show: URL,
		Example: "https://rest-proxy.example.com", Wrong: "rest-proxy:8082",
		parse: text(func(c *Config) *string { return &c.KafkaRESTURL }),
		check: func(c *Config, s *Setting) error {
			switch {
			case c.KafkaRESTURL != "":
				return c.checkURL(c.KafkaRESTURL)
			case c.Backend == BackendKafkaREST:
				return fmt.Errorf("backend %s needs the REST Proxy's URL: set %s", c.Backend, c.howToSet(s))
			}
			return nil
		}}
	KafkaRESTMaxRecords = &Setting{Env: "LITEWAVE_KAFKA_REST_MAX_RECORDS", Option: "WithKafka", Field: "RESTMaxRecords",
		YAML: "kafka_rest.max_records", Default: "500", Doc: "records per REST Proxy request, at most 5000",
		Name: "the REST Proxy batch", Example: "100", Wrong: "5001",
		parse: integer(func(c *Config) *int { return &c.RESTMaxRecords }),
		check: func(c *Config, _ *Setting) error {
			if c.RESTMaxRecords < 1 || c.RESTMaxRecords > maxRESTRecords {
				return fmt.Errorf("want 1 to %d records per request (the proxy's answer holds an entry per record)", maxRESTRecords)
			}
			return nil
		}}
	KafkaRESTMaxBytes = &Setting{Env: "LITEWAVE_KAFKA_REST_MAX_BYTES", Option: "WithKafka", Field: "RESTMaxBytes",
		YAML: "kafka_rest.max_bytes", Default: "1048576", Doc: "body bytes per REST Proxy request",
		Name: "the REST Proxy batch", Example: "65536", Wrong: "1000",
		parse: integer(func(c *Config) *int { return &c.RESTMaxBytes }),
		check: func(c *Config, _ *Setting) error {
			if c.RESTMaxBytes < 1024 {
				return errors.New("want at least 1024 bytes per request")
			}
			return nil
		}}
	KafkaBrokers = &Setting{Env: "LITEWAVE_KAFKA_BROKERS", Option: "WithKafka", Field: "Brokers", YAML: "kafka.brokers",
		Doc: "seed brokers, host:port,... (backend kafka)", Show: URL, Example: "broker-1:9092,broker-2:9092",
		parse: parseBrokers,
		check: func(c *Config, s *Setting) error {
			if c.Backend == BackendKafka && len(c.KafkaBrokers) == 0 {
				return fmt.Errorf("backend %s needs the seed brokers: set %s", c.Backend, c.howToSet(s))
			}
			return nil
		}}
	KafkaTLS = &Setting{Env: "LITEWAVE_KAFKA_TLS", Option: "WithKafka", Field: "TLS", YAML: "kafka.tls", Default: "false",
		Doc: "true: TLS to the brokers, with the system's roots", Example: "true", Wrong: "maybe",
		parse: parseKafkaTLS}
	KafkaSASLMechanism = &Setting{Env: "LITEWAVE_KAFKA_SASL_MECHANISM", Option: "WithKafka", Field: "SASLMechanism",
		YAML: "kafka.sasl.mechanism", Doc: "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", Name: "the SASL mechanism",
		Example: "SCRAM-SHA-512", Wrong: "GSSAPI",
		parse: text(func(c *Config) *string { return &c.SASLMechanism }),
		check: func(c *Config, _ *Setting) error {
			switch {
			case c.SASLMechanism == "":
				return nil
			case !slices.Contains(saslMechanisms, strings.ToUpper(c.SASLMechanism)):
				return fmt.Errorf("unknown mechanism %q; valid: %s", c.SASLMechanism, strings.Join(saslMechanisms, ", "))
			case c.SASLUsername == "" || !c.SASLPassword.Set():
				return fmt.Errorf("needs a username and a password (%s, %s)", c.named(KafkaSASLUsername), c.named(KafkaSASLPassword))
			}
			return nil
		}}
	KafkaSASLUsername = &Setting{Env: "LITEWAVE_KAFKA_SASL_USERNAME", Option: "WithKafka", Field: "SASLUsername",
		YAML: "kafka.sasl.username", Doc: "SASL user name; never printed", Show: Secret, Name: "WithKafka (SASLUsername)",
		Example: "billing", Wrong: "bill\ting",
		parse: text(func(c *Config) *string { return &c.SASLUsername }),
		check: func(c *Config, _ *Setting) error { return checkSecret(c.SASLUsername) }}
	KafkaSASLPassword = &Setting{Env: "LITEWAVE_KAFKA_SASL_PASSWORD", Option: "WithKafka", Field: "SASLPassword",
		YAML: "kafka.sasl.password", Doc: "SASL password; never printed", Show: Secret, Name: "WithKafka (SASLPassword)",
		Example: "s3cret", Wrong: "s3c\rret",
		parse: secret(func(c *Config) *redact.Secret { return &c.SASLPassword }),
		check: func(c *Config, _ *Setting) error { return checkSecret(c.SASLPassword.Value()) }}
	KafkaOptions = &Setting{Option: "WithKafka", Field: "Options",
		Doc: "any other franz-go option, applied last; TransactionalID, DisableIdempotentWrite and TransactionTimeout are refused while transactions are on"}
	KafkaTransactions = &Setting{Env: "LITEWAVE_KAFKA_TRANSACTIONS", Option: "WithKafkaTransactions", Field: "Off",
		YAML: "kafka.transactions", Default: "true", Shown: "true, with a spool",
		Doc: "produce in transactions (backend kafka with a spool)", Example: "false", Wrong: "sometimes",
		parse: boolean(func(c *Config) *bool { return &c.KafkaTransactions })}
	KafkaCheckpointTopic = &Setting{Env: "LITEWAVE_KAFKA_CHECKPOINT_TOPIC", Option: "WithKafkaTransactions", Field: "CheckpointTopic",
		YAML: "kafka.checkpoint_topic", Shown: `the topic + ".checkpoints"`,
		Doc: "compacted topic of the transactions' checkpoints", Name: "the checkpoint topic", Example: "billing.marks", Wrong: "a/b",
		parse: text(func(c *Config) *string { return &c.CheckpointTopic }),
		check: func(c *Config, _ *Setting) error {
			if c.CheckpointTopic != "" && (strings.ContainsAny(c.CheckpointTopic, "/?# ") || c.CheckpointTopic == c.KafkaTopic) {
				return fmt.Errorf("topic %q is not a valid checkpoint topic: a topic of its own", c.CheckpointTopic)
			}
			return nil
		}}
	KafkaTransactionTimeout = &Setting{Env: "LITEWAVE_KAFKA_TRANSACTION_TIMEOUT", Option: "WithKafkaTransactions", Field: "Timeout",
		YAML: "kafka.transaction_timeout", Default: "20s",
		Doc: "how long a transaction may take: what a dead replica holds back read_committed readers", Name: "the transaction timeout",
		Example: "30s", Wrong: "16m",
		parse: duration(func(c *Config) *time.Duration { return &c.TransactionTimeout }),
		check: func(c *Config, _ *Setting) error {
			if c.TransactionTimeout < time.Second || c.TransactionTimeout > 15*time.Minute {
				return fmt.Errorf("want 1s to 15m (the brokers' transaction.max.timeout.ms), got %v", c.TransactionTimeout)
			}
			return nil
		}}
	Timeout = &Setting{Env: "LITEWAVE_TIMEOUT", Option: "WithTimeout", YAML: "timeout", Default: "10s",
		Doc: "per HTTP request: milliseconds, or a duration such as 10s", Name: "the timeout", Example: "150", Wrong: "0",
		parse: duration(func(c *Config) *time.Duration { return &c.Timeout }),
		check: func(c *Config, _ *Setting) error { return positive(c.Timeout, "must be positive") }}
	HTTPClient = &Setting{Option: "WithHTTPClient", Shown: "a tuned transport",
		Doc: "your client; its redirect policy is replaced by follow-none, its connections stay yours",
		check: func(c *Config, _ *Setting) error {
			if c.TLSConfig != nil && c.HTTPClient != nil {
				return errors.New("cannot be combined with WithTLSConfig: set TLS on your client's transport")
			}
			return nil
		}}
	TLSConfig   = &Setting{Option: "WithTLSConfig", Shown: "Go's defaults", Doc: "TLS of the default HTTP transport"}
	Concurrency = &Setting{Env: "LITEWAVE_CONCURRENCY", Option: "WithConcurrency", YAML: "concurrency", Default: "64",
		Doc: "batches in flight (events: requests); see docs/performance.md", Name: "the concurrency", Example: "8", Wrong: "0",
		parse: integer(func(c *Config) *int { return &c.Concurrency }),
		check: func(c *Config, _ *Setting) error { return atLeastOne(c.Concurrency) }}
	RetryInitialInterval = &Setting{Env: "LITEWAVE_RETRY_INITIAL_INTERVAL", Option: "WithRetry", Field: "InitialInterval",
		YAML: "retry.initial_interval", Default: "1s", Doc: "first backoff, doubling with jitter", Name: "the retry policy",
		Example: "10ms", Wrong: "3m",
		parse: duration(func(c *Config) *time.Duration { return &c.Retry.InitialInterval }),
		check: func(c *Config, _ *Setting) error {
			if c.Retry.InitialInterval > c.Retry.MaxInterval {
				return fmt.Errorf("initial interval %v exceeds the max interval %v", c.Retry.InitialInterval, c.Retry.MaxInterval)
			}
			return nil
		}}
	RetryMaxInterval = &Setting{Env: "LITEWAVE_RETRY_MAX_INTERVAL", Option: "WithRetry", Field: "MaxInterval",
		YAML: "retry.max_interval", Default: "2m", Doc: "longest backoff", Example: "20ms", Wrong: "soon",
		parse: duration(func(c *Config) *time.Duration { return &c.Retry.MaxInterval })}
	RetryMaxRetryAfter = &Setting{Env: "LITEWAVE_RETRY_MAX_RETRY_AFTER", Option: "WithRetry", Field: "MaxRetryAfter",
		YAML: "retry.max_retry_after", Default: "10m", Doc: "cap on a server's Retry-After, which replaces the backoff",
		Example: "1s", Wrong: "later",
		parse: duration(func(c *Config) *time.Duration { return &c.Retry.MaxRetryAfter })}
	CustomerCacheHit = &Setting{Env: "LITEWAVE_CUSTOMER_CACHE_HIT", Option: "WithCustomerCache", Field: "hit",
		YAML: "customer_cache.hit", Default: "10m", Doc: "how long a customer id is cached", Name: "the customer cache",
		Example: "1m", Wrong: "0",
		parse: duration(func(c *Config) *time.Duration { return &c.CustomerCacheHit }),
		check: func(c *Config, _ *Setting) error { return positive(c.CustomerCacheHit, "lifetimes must be positive") }}
	CustomerCacheMiss = &Setting{Env: "LITEWAVE_CUSTOMER_CACHE_MISS", Option: "WithCustomerCache", Field: "miss",
		YAML: "customer_cache.miss", Default: "1m", Doc: `how long "no such account" is cached`, Name: "the customer cache",
		Example: "1s", Wrong: "-1s",
		parse: duration(func(c *Config) *time.Duration { return &c.CustomerCacheMiss }),
		check: func(c *Config, _ *Setting) error { return positive(c.CustomerCacheMiss, "lifetimes must be positive") }}
	SpoolDir = &Setting{Env: "LITEWAVE_SPOOL_DIR", Option: "WithSpoolDir", YAML: "spool_dir", Shown: "none: memory",
		Doc: "crash-safe outbox directory", Example: "/var/lib/billing",
		parse: text(func(c *Config) *string { return &c.SpoolDir })}
	MaxSpoolBytes = &Setting{Env: "LITEWAVE_MAX_SPOOL_BYTES", Option: "WithMaxSpoolBytes", YAML: "max_spool_bytes", Default: "268435456",
		Doc: "what the spool may hold: its records, not the file's size", Name: "the spool cap", Example: "1048576", Wrong: "0",
		parse: parseSpoolBytes,
		check: func(c *Config, _ *Setting) error {
			if c.MaxSpoolBytes < 1 {
				return errors.New("must be positive")
			}
			return nil
		}}
	MaxSeries = &Setting{Env: "LITEWAVE_MAX_SERIES", Option: "WithMaxSeries", YAML: "max_series", Default: "100000",
		Doc: "series held at once", Name: "the series cap", Example: "10", Wrong: "many",
		parse: integer(func(c *Config) *int { return &c.MaxSeries }),
		check: func(c *Config, _ *Setting) error { return atLeastOne(c.MaxSeries) }}
	InstanceID = &Setting{Env: "LITEWAVE_INSTANCE_ID", Option: "WithInstanceID", YAML: "instance_id", Shown: "random",
		Doc: "a name in every idempotency key", Example: "pod-7",
		parse: text(func(c *Config) *string { return &c.InstanceID })}
	TenantAttribute = &Setting{Env: "LITEWAVE_TENANT_ATTRIBUTE", Option: "WithAttributeKeys", Field: "tenant", YAML: "tenant_attribute",
		Default: "tenant.id", Doc: "attribute carrying the tenant id", Example: "org",
		parse: text(func(c *Config) *string { return &c.TenantAttribute })}
	DeviceAttribute = &Setting{Env: "LITEWAVE_DEVICE_ATTRIBUTE", Option: "WithAttributeKeys", Field: "device", YAML: "device_attribute",
		Default: "device.id", Doc: "attribute carrying the device id", Example: "node",
		parse: text(func(c *Config) *string { return &c.DeviceAttribute })}
	MeterIDs = &Setting{Env: "LITEWAVE_METER_IDS", Option: "WithMeterID", YAML: "meter_ids", Shown: "the instrument's name",
		Doc: "instrument=meter,...: bill an instrument under another meter id (at most 255 bytes)", Name: "a meter id", Example: "pages=pages.hourly", Wrong: "pages",
		parse: parseMeterIDs,
		check: func(c *Config, _ *Setting) error {
			var errs []error
			for _, inst := range slices.Sorted(maps.Keys(c.MeterIDs)) {
				if err := usage.CheckMeterID(c.MeterIDs[inst]); err != nil {
					errs = append(errs, fmt.Errorf("instrument %q: %w", inst, err))
				}
			}
			return errors.Join(errs...)
		}}
	Instruments = &Setting{Env: "LITEWAVE_INSTRUMENTS", Option: "WithInstruments", YAML: "instruments", Shown: "all counters",
		Doc: "instrument,...: bill only these", Example: "pages",
		parse: parseInstruments}
	CardinalityLimit = &Setting{Env: "LITEWAVE_CARDINALITY_LIMIT", Option: "WithCardinalityLimit", YAML: "",
		Default: "0", Shown: "0: none", Doc: "per-counter SDK limit that NewPeriodicReader sets; with none the SDK never merges usage into its overflow set, and the series cap is the bound", Name: "the cardinality limit",
		Example: "50", Wrong: "-1",
		parse: integer(func(c *Config) *int { return &c.CardinalityLimit }),
		check: func(c *Config, _ *Setting) error {
			if c.CardinalityLimit < 0 {
				return errors.New("must not be negative")
			}
			return nil
		}}
	Staleness = &Setting{Env: "LITEWAVE_STALENESS", Option: "WithStaleness", YAML: "staleness", Default: "0", Shown: "0: never",
		Doc: "forget a cumulative stream unseen this long", Name: "the staleness", Example: "1h", Wrong: "-1h",
		parse: duration(func(c *Config) *time.Duration { return &c.Staleness }),
		check: func(c *Config, _ *Setting) error {
			if c.Staleness < 0 {
				return errors.New("must not be negative")
			}
			return nil
		}}
	LogLevel = &Setting{Env: "LITEWAVE_LOG_LEVEL", Option: "WithLogger", Shown: "none",
		Doc: "log to stderr at debug, info, warn or error: retries (debug), outages and configuration problems (warn), rejections and spool repairs (error)", Example: "error", Wrong: "loud",
		parse: parseLogLevel}
	Observability = &Setting{Env: "OTEL_GO_X_OBSERVABILITY", Option: "WithMeterProvider", Shown: "off",
		Doc: "true: the exporter's own metrics on the global MeterProvider", Example: "true", ReadAlways: true,
		parse: parseObservability}
)

func positive(d time.Duration, msg string) error {
	if d <= 0 {
		return errors.New(msg)
	}
	return nil
}

func atLeastOne(n int) error {
	if n < 1 {
		return errors.New("must be at least 1")
	}
	return nil
}
