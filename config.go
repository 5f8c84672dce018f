package litewavemetric

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/metric"

	"github.com/aiorch/litewavemetric/internal/config"
	"github.com/aiorch/litewavemetric/internal/redact"
	"github.com/aiorch/litewavemetric/internal/retry"
)

// Backends, the values of LITEWAVE_BACKEND and WithBackend.
const (
	BackendEvents    = config.BackendEvents    // Litewave's events API (the default)
	BackendKafkaREST = config.BackendKafkaREST // records on a topic through a Kafka REST Proxy v2
	BackendKafka     = config.BackendKafka     // records on a topic, produced to the brokers with franz-go
)

// Option configures an Exporter. Options beat environment variables, which
// beat defaults; the package documentation lists both.
type Option interface {
	settings() []config.Option
}

// ClientOption configures an Exporter or a Client: the options that
// concern talking to the backend. An option that would do nothing on a
// Client (attributes, meters, spool, retries, instance id) is an Option
// only, and NewClient does not compile with it.
type ClientOption interface {
	Option
	clientOption()
}

// clientOptions are settings valid on a Client and an Exporter.
type clientOptions []config.Option

func (o clientOptions) settings() []config.Option { return o }
func (clientOptions) clientOption()               {}

// ConfigOptions lets the Collector's component, in this module's tree,
// check its file with the library's own rules (see config.ByYAMLKey).
// Users cannot name its result's type.
func (o clientOptions) ConfigOptions() []config.Option { return o }

// exporterOptions are settings of the Exporter alone.
type exporterOptions []config.Option

func (o exporterOptions) settings() []config.Option      { return o }
func (o exporterOptions) ConfigOptions() []config.Option { return o }

// loadConfig resolves opts, the environment and the defaults.
func loadConfig[O Option](opts []O) (config.Config, error) {
	var all []config.Option
	for _, o := range opts {
		if Option(o) != nil {
			all = append(all, o.settings()...)
		}
	}
	return config.Load(all)
}

// WithBackend selects the billing backend: BackendEvents (the default),
// BackendKafkaREST or BackendKafka. Env: LITEWAVE_BACKEND.
func WithBackend(name string) ClientOption {
	return clientOptions{config.Backend.Given(fmt.Sprintf("%q", name), func(c *config.Config) { c.Backend = name })}
}

// WithEndpoint sets the base URL of the Litewave events API, where events
// are posted (backend events) and customers looked up (unless
// WithPortalURL). Env: LITEWAVE_ENDPOINT.
func WithEndpoint(baseURL string) ClientOption {
	return clientOptions{config.Endpoint.Given(config.ShownURL(baseURL), func(c *config.Config) { c.Endpoint = baseURL })}
}

// WithPortalURL makes customer lookups go to the portal:
// {portal}/metering/v1alpha1/customer-accounts/tenant/{tenant}, with the
// API key, whatever the backend. Env: LITEWAVE_PORTAL_URL.
func WithPortalURL(portal string) ClientOption {
	return clientOptions{config.PortalURL.Given(config.ShownURL(portal), func(c *config.Config) { c.PortalURL = portal })}
}

// KafkaConfig configures the Kafka backends. Zero fields keep the value of
// their variable, or the default.
type KafkaConfig struct {
	// Topic is where usage records go, on both Kafka backends. Env:
	// LITEWAVE_KAFKA_TOPIC.
	Topic string

	// RESTProxyURL is the base URL of the Kafka REST Proxy (v2) that
	// backend kafka-rest produces to. Env: LITEWAVE_KAFKA_REST_URL.
	RESTProxyURL string
	// RESTMaxRecords and RESTMaxBytes bound one REST Proxy request (500
	// records and 1 MiB of body by default, which a stock proxy takes).
	// Env: LITEWAVE_KAFKA_REST_MAX_RECORDS, LITEWAVE_KAFKA_REST_MAX_BYTES.
	RESTMaxRecords int
	RESTMaxBytes   int

	// Brokers are the seed brokers (host:port) that backend kafka
	// produces to. Env: LITEWAVE_KAFKA_BROKERS, separated by commas.
	Brokers []string
	// TLS makes backend kafka connect to the brokers with TLS. Env:
	// LITEWAVE_KAFKA_TLS=true, with the system's roots.
	TLS *tls.Config
	// SASLMechanism (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512), SASLUsername
	// and SASLPassword make backend kafka authenticate with SASL. The user
	// name and the password are never printed. Env:
	// LITEWAVE_KAFKA_SASL_MECHANISM, LITEWAVE_KAFKA_SASL_USERNAME,
	// LITEWAVE_KAFKA_SASL_PASSWORD.
	SASLMechanism string
	SASLUsername  string
	SASLPassword  string
	// Options are franz-go options for everything else, applied last, so
	// they override the exporter's own: kgo.ProducerBatchMaxBytes to a
	// topic's max.message.bytes, below franz-go's 1 MB batches, or
	// kgo.RecordDeliveryTimeout (the exporter sets 30s, so that an outage
	// is reported).
	Options []kgo.Opt
}

// WithKafka configures the Kafka backends (see KafkaConfig); zero fields
// keep their values.
func WithKafka(kc KafkaConfig) ClientOption {
	var o clientOptions
	if kc.Topic != "" {
		o = append(o, config.KafkaTopic.Given(fmt.Sprintf("Topic: %q", kc.Topic), func(c *config.Config) { c.KafkaTopic = kc.Topic }))
	}
	if kc.RESTProxyURL != "" {
		o = append(o, config.KafkaRESTURL.Given("RESTProxyURL: "+config.ShownURL(kc.RESTProxyURL),
			func(c *config.Config) { c.KafkaRESTURL = kc.RESTProxyURL }))
	}
	if kc.RESTMaxRecords != 0 {
		o = append(o, config.KafkaRESTMaxRecords.Given(fmt.Sprintf("RESTMaxRecords: %d", kc.RESTMaxRecords),
			func(c *config.Config) { c.RESTMaxRecords = kc.RESTMaxRecords }))
	}
	if kc.RESTMaxBytes != 0 {
		o = append(o, config.KafkaRESTMaxBytes.Given(fmt.Sprintf("RESTMaxBytes: %d", kc.RESTMaxBytes),
			func(c *config.Config) { c.RESTMaxBytes = kc.RESTMaxBytes }))
	}
	if len(kc.Brokers) > 0 {
		o = append(o, config.KafkaBrokers.Given(fmt.Sprintf("Brokers: %q", kc.Brokers), func(c *config.Config) { c.KafkaBrokers = kc.Brokers }))
	}
	if kc.TLS != nil {
		o = append(o, config.KafkaTLS.Given("TLS", func(c *config.Config) { c.KafkaTLS = kc.TLS }))
	}
	if kc.SASLMechanism != "" {
		o = append(o, config.KafkaSASLMechanism.Given(fmt.Sprintf("SASLMechanism: %q", kc.SASLMechanism),
			func(c *config.Config) { c.SASLMechanism = kc.SASLMechanism }))
	}
	if kc.SASLUsername != "" {
		o = append(o, config.KafkaSASLUsername.Given("", func(c *config.Config) { c.SASLUsername = kc.SASLUsername }))
	}
	if kc.SASLPassword != "" {
		o = append(o, config.KafkaSASLPassword.Given("", func(c *config.Config) { c.SASLPassword = redact.New(kc.SASLPassword) }))
	}
	if len(kc.Options) > 0 {
		o = append(o, config.KafkaOptions.Given("Options", func(c *config.Config) { c.KafkaOptions = append(c.KafkaOptions, kc.Options...) }))
	}
	return o
}

// KafkaTransactions configures the transactions of backend kafka.
type KafkaTransactions struct {
	// Off produces without transactions. On (the default), with a spool,
	// each record reaches read_committed consumers exactly once, even
	// across crashes; it needs a checkpoint topic and transactional ACLs
	// (see the package documentation). Off, or without a spool, records
	// are produced idempotently, and a crash can repeat a record, with its
	// key. Env: LITEWAVE_KAFKA_TRANSACTIONS=false.
	Off bool
	// CheckpointTopic is the compacted topic where each transaction writes
	// its checkpoint (to partition 0); default: the usage topic +
	// ".checkpoints". Env: LITEWAVE_KAFKA_CHECKPOINT_TOPIC.
	CheckpointTopic string
	// Timeout is the longest a transaction may take, and so how long a
	// replica that dies inside one holds back read_committed readers of
	// its partitions (plus the brokers' abort cleanup, 10s by default).
	// Default 20s. Env: LITEWAVE_KAFKA_TRANSACTION_TIMEOUT.
	Timeout time.Duration
}

// WithKafkaTransactions turns the transactions of backend kafka on or off
// (Off), whatever LITEWAVE_KAFKA_TRANSACTIONS says; zero CheckpointTopic
// and Timeout keep their values.
func WithKafkaTransactions(kt KafkaTransactions) Option {
	o := exporterOptions{config.KafkaTransactions.Given(fmt.Sprintf("Off: %t", kt.Off), func(c *config.Config) { c.KafkaTransactions = !kt.Off })}
	if kt.CheckpointTopic != "" {
		o = append(o, config.KafkaCheckpointTopic.Given(fmt.Sprintf("CheckpointTopic: %q", kt.CheckpointTopic),
			func(c *config.Config) { c.CheckpointTopic = kt.CheckpointTopic }))
	}
	if kt.Timeout != 0 {
		o = append(o, config.KafkaTransactionTimeout.Given(fmt.Sprintf("Timeout: %v", kt.Timeout),
			func(c *config.Config) { c.TransactionTimeout = kt.Timeout }))
	}
	return o
}

// WithAPIKey sets the key sent as the x-api-key header. It is never
// printed: not in errors, logs, nor a %v of the exporter. Env: LITEWAVE_API_KEY.
func WithAPIKey(key string) ClientOption {
	return clientOptions{config.APIKey.Given("", func(c *config.Config) { c.APIKey = redact.New(key) })}
}

// WithTimeout bounds each HTTP request. Env: LITEWAVE_TIMEOUT.
func WithTimeout(d time.Duration) ClientOption {
	return clientOptions{config.Timeout.Given(d.String(), func(c *config.Config) { c.Timeout = d })}
}

// WithHTTPClient sets the HTTP client. Its redirect policy is replaced by
// one that follows no redirect (a redirect would forward the API key and
// the usage to another URL); the client itself is not modified, nor are
// its connections closed.
func WithHTTPClient(hc *http.Client) ClientOption {
	return clientOptions{config.HTTPClient.Given("", func(c *config.Config) { c.HTTPClient = hc })}
}

// WithTLSConfig sets the TLS configuration of the default transport. It
// cannot be combined with WithHTTPClient (configure that client instead).
func WithTLSConfig(tc *tls.Config) ClientOption {
	return clientOptions{config.TLSConfig.Given("", func(c *config.Config) { c.TLSConfig = tc })}
}

// WithAttributeKeys sets the attribute keys that carry the tenant id and
// the device id; an empty key keeps its value. Env:
// LITEWAVE_TENANT_ATTRIBUTE, LITEWAVE_DEVICE_ATTRIBUTE.
func WithAttributeKeys(tenant, device string) Option {
	var o exporterOptions
	if tenant != "" {
		o = append(o, config.TenantAttribute.Given(fmt.Sprintf("%q, _", tenant), func(c *config.Config) { c.TenantAttribute = tenant }))
	}
	if device != "" {
		o = append(o, config.DeviceAttribute.Given(fmt.Sprintf("_, %q", device), func(c *config.Config) { c.DeviceAttribute = device }))
	}
	return o
}

// WithMeterID bills the instrument named instrument under meterID instead
// of its own name. It may be given once per instrument. Env:
// LITEWAVE_METER_IDS, as instrument=meter pairs separated by commas.
func WithMeterID(instrument, meterID string) Option {
	return exporterOptions{config.MeterIDs.Given(fmt.Sprintf("%q, %q", instrument, meterID), func(c *config.Config) {
		if c.MeterIDs == nil {
			c.MeterIDs = map[string]string{}
		}
		c.MeterIDs[instrument] = meterID
	})}
}

// WithInstruments restricts billing to the named instruments; the usage of
// any other instrument is ignored. By default every counter is billed.
// Env: LITEWAVE_INSTRUMENTS, separated by commas.
func WithInstruments(names ...string) Option {
	return exporterOptions{config.Instruments.Given(strings.Trim(fmt.Sprintf("%q", names), "[]"), func(c *config.Config) {
		if c.Instruments == nil {
			c.Instruments = map[string]bool{}
		}
		for _, n := range names {
			c.Instruments[n] = true
		}
	})}
}

// WithConcurrency bounds the requests in flight. Env: LITEWAVE_CONCURRENCY.
// See the README's Performance section for its default.
func WithConcurrency(n int) ClientOption {
	return clientOptions{config.Concurrency.Given(fmt.Sprint(n), func(c *config.Config) { c.Concurrency = n })}
}

// RetryConfig sets how failed deliveries are retried. Delivery is retried
// until it succeeds or is rejected: usage is never given up on because of
// time; these values only space the attempts. During ForceFlush and
// Shutdown failures are retried within tens to hundreds of milliseconds
// instead, while their context lasts. Its fields: InitialInterval, the wait
// after the first failure, doubled with jitter at each further one up to
// MaxInterval; MaxRetryAfter, the cap on a server's Retry-After, which
// replaces the backoff. The package documentation gives their defaults.
type RetryConfig retry.Policy

// WithRetry sets the retry policy; zero fields keep their values. Env:
// LITEWAVE_RETRY_INITIAL_INTERVAL, LITEWAVE_RETRY_MAX_INTERVAL,
// LITEWAVE_RETRY_MAX_RETRY_AFTER.
func WithRetry(rc RetryConfig) Option {
	var o exporterOptions
	if rc.InitialInterval > 0 {
		o = append(o, config.RetryInitialInterval.Given(fmt.Sprintf("InitialInterval: %v", rc.InitialInterval),
			func(c *config.Config) { c.Retry.InitialInterval = rc.InitialInterval }))
	}
	if rc.MaxInterval > 0 {
		o = append(o, config.RetryMaxInterval.Given(fmt.Sprintf("MaxInterval: %v", rc.MaxInterval),
			func(c *config.Config) { c.Retry.MaxInterval = rc.MaxInterval }))
	}
	if rc.MaxRetryAfter > 0 {
		o = append(o, config.RetryMaxRetryAfter.Given(fmt.Sprintf("MaxRetryAfter: %v", rc.MaxRetryAfter),
			func(c *config.Config) { c.Retry.MaxRetryAfter = rc.MaxRetryAfter }))
	}
	return o
}

// WithCustomerCache sets how long a tenant's customer id is cached (hit)
// and how long "this tenant has no customer account" is cached (miss).
// Lookup failures are not cached. Env: LITEWAVE_CUSTOMER_CACHE_HIT,
// LITEWAVE_CUSTOMER_CACHE_MISS.
func WithCustomerCache(hit, miss time.Duration) ClientOption {
	return clientOptions{
		config.CustomerCacheHit.Given(fmt.Sprintf("%v, _", hit), func(c *config.Config) { c.CustomerCacheHit = hit }),
		config.CustomerCacheMiss.Given(fmt.Sprintf("_, %v", miss), func(c *config.Config) { c.CustomerCacheMiss = miss }),
	}
}

// WithSpoolDir makes the outbox crash-safe: usage accepted by Export is
// written, synced, to a spool file in dir before it is sent, and usage not
// acknowledged by the backend is sent again, with the same idempotency keys,
// when an exporter next starts on the same dir. Env: LITEWAVE_SPOOL_DIR.
func WithSpoolDir(dir string) Option {
	return exporterOptions{config.SpoolDir.Given(fmt.Sprintf("%q", dir), func(c *config.Config) { c.SpoolDir = dir })}
}

// WithMaxSeries bounds the series (tenant, device, meter) held in memory;
// once reached, usage of new series is refused with an error that counts
// it. Env: LITEWAVE_MAX_SERIES.
func WithMaxSeries(n int) Option {
	return exporterOptions{config.MaxSeries.Given(fmt.Sprint(n), func(c *config.Config) { c.MaxSeries = n })}
}

// WithMaxSpoolBytes bounds what the spool holds (its records, not the
// file's size, which bbolt never shrinks); once reached, usage of new
// series is refused with an error that counts it. Env:
// LITEWAVE_MAX_SPOOL_BYTES.
func WithMaxSpoolBytes(n int64) Option {
	return exporterOptions{config.MaxSpoolBytes.Given(fmt.Sprint(n), func(c *config.Config) { c.MaxSpoolBytes = n })}
}

// WithInstanceID sets a name for this exporter that is part of every
// idempotency key (a pod name, say), which helps to trace an event to its
// producer. Keys are unique without it: a random value drawn at every start
// is part of them too. Env: LITEWAVE_INSTANCE_ID.
func WithInstanceID(id string) Option {
	return exporterOptions{config.InstanceID.Given(fmt.Sprintf("%q", id), func(c *config.Config) { c.InstanceID = id })}
}

// WithLogger sets a logger for delivery details: retries (debug), outages
// and configuration problems (warn), rejections and spool repairs (error).
// Errors are also returned to the caller where there is one, and otherwise
// passed to otel.Handle. Env: LITEWAVE_LOG_LEVEL logs to stderr at that
// level.
func WithLogger(l *slog.Logger) ClientOption {
	return clientOptions{config.LogLevel.Given("", func(c *config.Config) { c.Logger = l })}
}

// WithCardinalityLimit sets the per-instrument cardinality limit that
// CardinalityLimit (and so NewPeriodicReader) applies to counters. By
// default there is none: the SDK then never merges billable attribute sets
// into its overflow set, and the exporter's series cap (WithMaxSeries) is
// the bound. Overflow, if a limit makes it happen, is reported. 0 means no
// limit; a negative limit is refused. Env: LITEWAVE_CARDINALITY_LIMIT.
func WithCardinalityLimit(n int) Option {
	return exporterOptions{config.CardinalityLimit.Given(fmt.Sprint(n), func(c *config.Config) { c.CardinalityLimit = n })}
}

// WithStaleness sets how long the state of a cumulative stream is kept
// after it was last seen. By default, as in the Collector's
// cumulativetodelta processor, it is kept for ever (up to one stream per
// series cap; points of streams beyond it are refused and counted). A
// forgotten stream that comes back with the same start time is billed as
// a baseline again, so set it above the longest pause of your producers.
// Env: LITEWAVE_STALENESS.
func WithStaleness(d time.Duration) Option {
	return exporterOptions{config.Staleness.Given(d.String(), func(c *config.Config) { c.Staleness = d })}
}

// WithMeterProvider makes the exporter report its own health on mp:
// OpenTelemetry's metrics for SDK exporters (otel.sdk.exporter.*) and usage
// in its own units (litewave.*); see the README for the list. They are never
// billed, even on the billing provider. Without it, OTEL_GO_X_OBSERVABILITY=true
// reports on the global MeterProvider; otherwise nothing is reported, and
// nothing costs.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return exporterOptions{config.Observability.Given("", func(c *config.Config) { c.MeterProvider = mp })}
}

// WithoutEnvironment makes New and NewClient ignore every LITEWAVE_*
// variable, wherever it stands among the options: only the options and the
// defaults count. Tests use it (litewavetest's exporter does), so that an
// endpoint, key, portal or spool exported in a shell never reaches them.
// OTEL_GO_X_OBSERVABILITY is still read: it sends nothing anywhere, it only
// reports the exporter's own metrics on the global MeterProvider, and
// WithMeterProvider overrides it.
func WithoutEnvironment() ClientOption { return clientOptions{config.WithoutEnvironment} }
