package litewavemetric

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/metric"

	"github.com/aiorch/litewavemetric/internal/redact"
)

// Environment variables read by New and NewClient. An explicit Option always
// beats its variable; the variable beats the default. doc.go lists them with
// their defaults.
const (
	EnvBackend             = "LITEWAVE_BACKEND"                // events, kafka-rest or kafka
	EnvEndpoint            = "LITEWAVE_ENDPOINT"               // events API base URL
	EnvAPIKey              = "LITEWAVE_API_KEY"                // sent as x-api-key
	EnvPortalURL           = "LITEWAVE_PORTAL_URL"             // customer lookups at the portal
	EnvKafkaRESTURL        = "LITEWAVE_KAFKA_REST_URL"         // Kafka REST Proxy base URL
	EnvKafkaTopic          = "LITEWAVE_KAFKA_TOPIC"            // topic of usage records
	EnvKafkaRESTMaxRecords = "LITEWAVE_KAFKA_REST_MAX_RECORDS" // records per REST Proxy request
	EnvKafkaRESTMaxBytes   = "LITEWAVE_KAFKA_REST_MAX_BYTES"   // bytes per REST Proxy request
	EnvKafkaBrokers        = "LITEWAVE_KAFKA_BROKERS"          // comma-separated seed brokers, host:port
	EnvKafkaTLS            = "LITEWAVE_KAFKA_TLS"              // true: TLS to the brokers, with the system's roots
	EnvKafkaSASLMechanism  = "LITEWAVE_KAFKA_SASL_MECHANISM"   // PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512
	EnvKafkaSASLUsername   = "LITEWAVE_KAFKA_SASL_USERNAME"
	EnvKafkaSASLPassword   = "LITEWAVE_KAFKA_SASL_PASSWORD" // never printed
	// EnvKafkaTransactions: false produces without transactions (on by
	// default with a spool).
	EnvKafkaTransactions       = "LITEWAVE_KAFKA_TRANSACTIONS"
	EnvKafkaCheckpointTopic    = "LITEWAVE_KAFKA_CHECKPOINT_TOPIC"    // compacted; default: the topic + ".checkpoints"
	EnvKafkaTransactionTimeout = "LITEWAVE_KAFKA_TRANSACTION_TIMEOUT" // milliseconds, or a Go duration
	EnvTimeout                 = "LITEWAVE_TIMEOUT"                   // per request: milliseconds, or a Go duration ("10s")
	EnvConcurrency             = "LITEWAVE_CONCURRENCY"               // requests in flight
	EnvSpoolDir                = "LITEWAVE_SPOOL_DIR"                 // crash-safe outbox directory
	EnvMaxSpoolBytes           = "LITEWAVE_MAX_SPOOL_BYTES"           // spool size cap
	EnvInstanceID              = "LITEWAVE_INSTANCE_ID"               // part of every idempotency key
	EnvTenantAttribute         = "LITEWAVE_TENANT_ATTRIBUTE"          // attribute key of the tenant id
	EnvDeviceAttribute         = "LITEWAVE_DEVICE_ATTRIBUTE"          // attribute key of the device id
	EnvMeterIDs                = "LITEWAVE_METER_IDS"                 // instrument=meter,... renames
	EnvInstruments             = "LITEWAVE_INSTRUMENTS"               // comma-separated instruments to bill
	EnvMaxSeries               = "LITEWAVE_MAX_SERIES"                // series held at once
	EnvCardinalityLimit        = "LITEWAVE_CARDINALITY_LIMIT"         // per-counter SDK limit of billing readers
	EnvStaleness               = "LITEWAVE_STALENESS"                 // forget cumulative streams unseen this long
	EnvRetryInitial            = "LITEWAVE_RETRY_INITIAL_INTERVAL"
	EnvRetryMax                = "LITEWAVE_RETRY_MAX_INTERVAL"
	EnvRetryMaxRetryAfter      = "LITEWAVE_RETRY_MAX_RETRY_AFTER"
	EnvCustomerCacheHit        = "LITEWAVE_CUSTOMER_CACHE_HIT"  // how long a customer id is cached
	EnvCustomerCacheMiss       = "LITEWAVE_CUSTOMER_CACHE_MISS" // how long "no such account" is cached
	EnvLogLevel                = "LITEWAVE_LOG_LEVEL"           // debug, info, warn or error: log to stderr
)

// Backends, the values of LITEWAVE_BACKEND and WithBackend.
const (
	BackendEvents    = "events"     // Litewave's events API (the default)
	BackendKafkaREST = "kafka-rest" // records on a topic through a Kafka REST Proxy v2
	BackendKafka     = "kafka"      // records on a topic, produced to the brokers with franz-go
)

var backends = []string{BackendEvents, BackendKafkaREST, BackendKafka}

// saslMechanisms are the values of LITEWAVE_KAFKA_SASL_MECHANISM.
var saslMechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"}

// maxRESTRecords bounds records per REST Proxy request so that the
// proxy's answer, an entry of up to ~120 bytes per record, stays within
// what is read of an answer (1 MiB).
const maxRESTRecords = 5000

// Defaults.
const (
	DefaultEndpoint   = "http://metering.metering.svc.cluster.local:8000"
	DefaultKafkaTopic = "usage-events"
	// DefaultKafkaTransactionTimeout bounds a transaction: what a replica
	// that dies inside one costs read_committed readers, with the brokers'
	// abort-cleanup interval.
	DefaultKafkaTransactionTimeout = 20 * time.Second
	DefaultKafkaRESTRecords        = 500
	DefaultKafkaRESTBytes          = 1 << 20
	DefaultTimeout                 = 10 * time.Second
	DefaultConcurrency             = 64
	DefaultTenantAttribute         = "tenant.id"
	DefaultDeviceAttribute         = "device.id"
	DefaultMaxSeries               = 100_000
	DefaultMaxSpoolBytes           = 256 << 20
	DefaultCustomerCacheHit        = 10 * time.Minute
	DefaultCustomerCacheMiss       = time.Minute
)

// RetryConfig sets how failed deliveries are retried. Delivery is retried
// until it succeeds or is rejected: usage is never given up on because of
// time; these values only space the attempts. During ForceFlush and
// Shutdown failures are retried within tens to hundreds of milliseconds
// instead, while their context lasts.
type RetryConfig struct {
	// InitialInterval is the wait after the first failure (default 1s);
	// each further failure doubles it, with jitter, up to MaxInterval.
	InitialInterval time.Duration
	// MaxInterval bounds the wait between attempts (default 2m).
	MaxInterval time.Duration
	// MaxRetryAfter caps how long a server's Retry-After is honoured
	// (default 10m). A server's wait replaces the backoff.
	MaxRetryAfter time.Duration
}

// DefaultRetryConfig is the retry policy used unless WithRetry is given.
var DefaultRetryConfig = RetryConfig{
	InitialInterval: time.Second,
	MaxInterval:     2 * time.Minute,
	MaxRetryAfter:   10 * time.Minute,
}

type config struct {
	backend         string
	endpoint        string
	portalURL       string
	kafkaRESTURL    string
	kafkaTopic      string
	restRecords     int
	restBytes       int
	kafkaBrokers    []string
	kafkaTLS        *tls.Config
	saslMechanism   string
	saslUsername    string
	saslPassword    redact.Secret
	kafkaOptions    []kgo.Opt
	kafkaTxn        bool // transactions, when there is a spool
	checkpointTopic string
	txnTimeout      time.Duration
	apiKey          redact.Secret
	timeout         time.Duration
	httpClient      *http.Client
	tlsConfig       *tls.Config
	tenantAttr      string
	deviceAttr      string
	meterIDs        map[string]string
	instruments     map[string]bool // nil: every instrument is billed
	concurrency     int
	retry           RetryConfig
	hitTTL, missTTL time.Duration
	spoolDir        string
	maxSeries       int
	maxSpoolBytes   int64
	instanceID      string
	logger          *slog.Logger
	loggerGiven     bool // WithLogger or LITEWAVE_LOG_LEVEL set one
	cardinality     int
	staleness       time.Duration
	meterProvider   metric.MeterProvider

	// source says where each setting came from, by its variable's name, for
	// errors: `LITEWAVE_TIMEOUT="0"` or "WithTimeout(0s)".
	source map[string]string
	// envErrs are variables that did not parse; an option that sets the
	// same value clears its error.
	envErrs map[string]error
}

// idleTTL is how long a series that holds nothing is kept, so that the
// next collection finds it instead of allocating it anew.
const idleTTL = time.Hour

// Option configures an Exporter or a Client. NewClient takes the same
// options; those about metrics and the outbox (attributes, meters, spool,
// retries, instance id) have no effect on a Client.
type Option interface {
	apply(*config)
}

// option sets one setting; env is its variable, whose value (or parse
// error) it overrides, and desc how errors name it.
type option struct {
	env, desc string
	set       func(*config)
}

func (o option) apply(c *config) {
	delete(c.envErrs, o.env)
	c.source[o.env] = o.desc
	o.set(c)
}

func opt(env, desc string, set func(*config)) Option { return option{env: env, desc: desc, set: set} }

// WithBackend selects the billing backend: BackendEvents (the default) or
// BackendKafkaREST. Env: LITEWAVE_BACKEND.
func WithBackend(name string) Option {
	return opt(EnvBackend, fmt.Sprintf("WithBackend(%q)", name), func(c *config) { c.backend = name })
}

// WithEndpoint sets the base URL of the Litewave events API, where events
// are posted (backend events) and customers looked up (unless
// WithPortalURL). Env: LITEWAVE_ENDPOINT. Default: DefaultEndpoint.
func WithEndpoint(baseURL string) Option {
	return opt(EnvEndpoint, "WithEndpoint("+shownURL(baseURL)+")", func(c *config) { c.endpoint = baseURL })
}

// WithPortalURL makes customer lookups go to the portal:
// {portal}/metering/v1alpha1/customer-accounts/tenant/{tenant}, with the
// API key, whatever the backend. Env: LITEWAVE_PORTAL_URL.
func WithPortalURL(portal string) Option {
	return opt(EnvPortalURL, "WithPortalURL("+shownURL(portal)+")", func(c *config) { c.portalURL = portal })
}

// WithKafkaRESTURL sets the base URL of the Kafka REST Proxy (v2) that
// backend kafka-rest produces to. Env: LITEWAVE_KAFKA_REST_URL.
func WithKafkaRESTURL(baseURL string) Option {
	return opt(EnvKafkaRESTURL, "WithKafkaRESTURL("+shownURL(baseURL)+")", func(c *config) { c.kafkaRESTURL = baseURL })
}

// WithKafkaTopic sets the topic usage records are produced to, on the
// Kafka backends. Env: LITEWAVE_KAFKA_TOPIC. Default "usage-events".
func WithKafkaTopic(topic string) Option {
	return opt(EnvKafkaTopic, fmt.Sprintf("WithKafkaTopic(%q)", topic), func(c *config) { c.kafkaTopic = topic })
}

// WithKafkaRESTBatch bounds one REST Proxy request: at most records
// records and bytes bytes of body. Env: LITEWAVE_KAFKA_REST_MAX_RECORDS,
// LITEWAVE_KAFKA_REST_MAX_BYTES. Defaults 500 and 1 MiB, which a stock
// proxy takes.
func WithKafkaRESTBatch(records, bytes int) Option {
	return multi(
		opt(EnvKafkaRESTMaxRecords, fmt.Sprintf("WithKafkaRESTBatch(%d, _)", records), func(c *config) { c.restRecords = records }),
		opt(EnvKafkaRESTMaxBytes, fmt.Sprintf("WithKafkaRESTBatch(_, %d)", bytes), func(c *config) { c.restBytes = bytes }),
	)
}

// WithKafkaBrokers sets the seed brokers (host:port) that backend kafka
// produces to. Env: LITEWAVE_KAFKA_BROKERS, separated by commas.
func WithKafkaBrokers(brokers ...string) Option {
	return opt(EnvKafkaBrokers, fmt.Sprintf("WithKafkaBrokers(%q)", brokers), func(c *config) { c.kafkaBrokers = brokers })
}

// WithKafkaTLS makes backend kafka connect to the brokers with TLS. Env:
// LITEWAVE_KAFKA_TLS=true, with the system's roots.
func WithKafkaTLS(tc *tls.Config) Option {
	return opt(EnvKafkaTLS, "WithKafkaTLS", func(c *config) { c.kafkaTLS = tc })
}

// WithKafkaSASL makes backend kafka authenticate with SASL: mechanism is
// PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512. The password is never printed.
// Env: LITEWAVE_KAFKA_SASL_MECHANISM, LITEWAVE_KAFKA_SASL_USERNAME,
// LITEWAVE_KAFKA_SASL_PASSWORD.
func WithKafkaSASL(mechanism, username, password string) Option {
	return multi(
		opt(EnvKafkaSASLMechanism, fmt.Sprintf("WithKafkaSASL(%q, ...)", mechanism), func(c *config) { c.saslMechanism = mechanism }),
		opt(EnvKafkaSASLUsername, "WithKafkaSASL(_, [REDACTED], _)", func(c *config) { c.saslUsername = username }),
		opt(EnvKafkaSASLPassword, "WithKafkaSASL(_, _, [REDACTED])", func(c *config) { c.saslPassword = redact.New(password) }),
	)
}

// WithKafkaTransactions turns transactions on backend kafka on or off. On
// (the default), with a spool, each record reaches read_committed
// consumers exactly once, even across crashes; it needs a checkpoint topic
// and transactional ACLs (see the package documentation). Off, or without
// a spool, records are produced idempotently, and a crash can repeat a
// record, with its key. Env: LITEWAVE_KAFKA_TRANSACTIONS.
func WithKafkaTransactions(on bool) Option {
	return opt(EnvKafkaTransactions, fmt.Sprintf("WithKafkaTransactions(%t)", on), func(c *config) { c.kafkaTxn = on })
}

// WithKafkaCheckpointTopic sets the compacted topic where each transaction
// writes its checkpoint (to partition 0). Env:
// LITEWAVE_KAFKA_CHECKPOINT_TOPIC. Default: the usage topic + ".checkpoints".
func WithKafkaCheckpointTopic(topic string) Option {
	return opt(EnvKafkaCheckpointTopic, fmt.Sprintf("WithKafkaCheckpointTopic(%q)", topic), func(c *config) { c.checkpointTopic = topic })
}

// WithKafkaTransactionTimeout sets the transaction timeout: the longest a
// transaction may take, and so how long a replica that dies inside one
// holds back read_committed readers of its partitions (plus the brokers'
// abort cleanup, 10s by default). Env: LITEWAVE_KAFKA_TRANSACTION_TIMEOUT.
// Default 20s.
func WithKafkaTransactionTimeout(d time.Duration) Option {
	return opt(EnvKafkaTransactionTimeout, fmt.Sprintf("WithKafkaTransactionTimeout(%v)", d), func(c *config) { c.txnTimeout = d })
}

// WithKafkaOptions adds franz-go options to backend kafka's client, for
// everything else (applied last, so they override the exporter's own).
// For example kgo.ProducerBatchMaxBytes to a topic's max.message.bytes,
// below franz-go's 1 MB batches, or kgo.RecordDeliveryTimeout (the
// exporter sets 30s, so that an outage is reported).
func WithKafkaOptions(opts ...kgo.Opt) Option {
	return opt("WithKafkaOptions", "WithKafkaOptions", func(c *config) { c.kafkaOptions = append(c.kafkaOptions, opts...) })
}

// WithAPIKey sets the key sent as the x-api-key header. It is never
// printed: not in errors, logs, nor a %v of the exporter. Env: LITEWAVE_API_KEY.
func WithAPIKey(key string) Option {
	return opt(EnvAPIKey, "WithAPIKey", func(c *config) { c.apiKey = redact.New(key) })
}

// WithTimeout bounds each HTTP request. Env: LITEWAVE_TIMEOUT. Default 10s.
func WithTimeout(d time.Duration) Option {
	return opt(EnvTimeout, fmt.Sprintf("WithTimeout(%v)", d), func(c *config) { c.timeout = d })
}

// WithHTTPClient sets the HTTP client. Its redirect policy is replaced by
// one that follows no redirect (a redirect would forward the API key and
// the usage to another URL); the client itself is not modified, nor are
// its connections closed.
func WithHTTPClient(hc *http.Client) Option {
	return opt("WithHTTPClient", "WithHTTPClient", func(c *config) { c.httpClient = hc })
}

// WithTLSConfig sets the TLS configuration of the default transport. It
// cannot be combined with WithHTTPClient (configure that client instead).
func WithTLSConfig(tc *tls.Config) Option {
	return opt("WithTLSConfig", "WithTLSConfig", func(c *config) { c.tlsConfig = tc })
}

// WithTenantAttribute sets the attribute key that carries the tenant id.
// Env: LITEWAVE_TENANT_ATTRIBUTE. Default "tenant.id".
func WithTenantAttribute(key string) Option {
	return opt(EnvTenantAttribute, fmt.Sprintf("WithTenantAttribute(%q)", key), func(c *config) { c.tenantAttr = key })
}

// WithDeviceAttribute sets the attribute key that carries the device id.
// Env: LITEWAVE_DEVICE_ATTRIBUTE. Default "device.id".
func WithDeviceAttribute(key string) Option {
	return opt(EnvDeviceAttribute, fmt.Sprintf("WithDeviceAttribute(%q)", key), func(c *config) { c.deviceAttr = key })
}

// WithMeterID bills the instrument named instrument under meterID instead
// of its own name. It may be given once per instrument. Env:
// LITEWAVE_METER_IDS, as instrument=meter pairs separated by commas.
func WithMeterID(instrument, meterID string) Option {
	return opt(EnvMeterIDs, fmt.Sprintf("WithMeterID(%q, %q)", instrument, meterID), func(c *config) {
		if c.meterIDs == nil {
			c.meterIDs = map[string]string{}
		}
		c.meterIDs[instrument] = meterID
	})
}

// WithInstruments restricts billing to the named instruments; the usage of
// any other instrument is ignored. By default every counter is billed.
// Env: LITEWAVE_INSTRUMENTS, separated by commas.
func WithInstruments(names ...string) Option {
	return opt(EnvInstruments, fmt.Sprintf("WithInstruments(%q)", names), func(c *config) {
		if c.instruments == nil {
			c.instruments = map[string]bool{}
		}
		for _, n := range names {
			c.instruments[n] = true
		}
	})
}

// WithConcurrency bounds the requests in flight. Env: LITEWAVE_CONCURRENCY.
// Default 64 (see the README's Performance section for why).
func WithConcurrency(n int) Option {
	return opt(EnvConcurrency, fmt.Sprintf("WithConcurrency(%d)", n), func(c *config) { c.concurrency = n })
}

// WithRetry sets the retry policy; zero fields keep their values. Env:
// LITEWAVE_RETRY_INITIAL_INTERVAL, LITEWAVE_RETRY_MAX_INTERVAL,
// LITEWAVE_RETRY_MAX_RETRY_AFTER.
func WithRetry(rc RetryConfig) Option {
	var opts []Option
	if rc.InitialInterval > 0 {
		opts = append(opts, opt(EnvRetryInitial, fmt.Sprintf("WithRetry(InitialInterval: %v)", rc.InitialInterval),
			func(c *config) { c.retry.InitialInterval = rc.InitialInterval }))
	}
	if rc.MaxInterval > 0 {
		opts = append(opts, opt(EnvRetryMax, fmt.Sprintf("WithRetry(MaxInterval: %v)", rc.MaxInterval),
			func(c *config) { c.retry.MaxInterval = rc.MaxInterval }))
	}
	if rc.MaxRetryAfter > 0 {
		opts = append(opts, opt(EnvRetryMaxRetryAfter, fmt.Sprintf("WithRetry(MaxRetryAfter: %v)", rc.MaxRetryAfter),
			func(c *config) { c.retry.MaxRetryAfter = rc.MaxRetryAfter }))
	}
	return multi(opts...)
}

// WithCustomerCache sets how long a tenant's customer id is cached (hit,
// default 10m) and how long "this tenant has no customer account" is
// cached (miss, default 1m). Lookup failures are not cached. Env:
// LITEWAVE_CUSTOMER_CACHE_HIT, LITEWAVE_CUSTOMER_CACHE_MISS.
func WithCustomerCache(hit, miss time.Duration) Option {
	return multi(
		opt(EnvCustomerCacheHit, fmt.Sprintf("WithCustomerCache(%v, _)", hit), func(c *config) { c.hitTTL = hit }),
		opt(EnvCustomerCacheMiss, fmt.Sprintf("WithCustomerCache(_, %v)", miss), func(c *config) { c.missTTL = miss }),
	)
}

// WithSpoolDir makes the outbox crash-safe: usage accepted by Export is
// written, synced, to a spool file in dir before it is sent, and usage not
// acknowledged by the backend is sent again, with the same idempotency keys,
// when an exporter next starts on the same dir. Env: LITEWAVE_SPOOL_DIR.
func WithSpoolDir(dir string) Option {
	return opt(EnvSpoolDir, fmt.Sprintf("WithSpoolDir(%q)", dir), func(c *config) { c.spoolDir = dir })
}

// WithMaxSeries bounds the series (tenant, device, meter) held in memory;
// once reached, usage of new series is refused with an error that counts
// it. Env: LITEWAVE_MAX_SERIES. Default 100 000.
func WithMaxSeries(n int) Option {
	return opt(EnvMaxSeries, fmt.Sprintf("WithMaxSeries(%d)", n), func(c *config) { c.maxSeries = n })
}

// WithMaxSpoolBytes bounds what the spool holds (its records, not the
// file's size, which bbolt never shrinks); once reached, usage of new
// series is refused with an error that counts it. Env:
// LITEWAVE_MAX_SPOOL_BYTES. Default 256 MiB.
func WithMaxSpoolBytes(n int64) Option {
	return opt(EnvMaxSpoolBytes, fmt.Sprintf("WithMaxSpoolBytes(%d)", n), func(c *config) { c.maxSpoolBytes = n })
}

// WithInstanceID sets a name for this exporter that is part of every
// idempotency key (a pod name, say), which helps to trace an event to its
// producer. Keys are unique without it: a random value drawn at every start
// is part of them too. Env: LITEWAVE_INSTANCE_ID. Default: random.
func WithInstanceID(id string) Option {
	return opt(EnvInstanceID, fmt.Sprintf("WithInstanceID(%q)", id), func(c *config) { c.instanceID = id })
}

// WithLogger sets a logger for delivery details: retries (debug), outages
// and configuration problems (warn), rejections and spool repairs (error).
// Errors are also returned to the caller where there is one, and otherwise
// passed to otel.Handle. Env: LITEWAVE_LOG_LEVEL logs to stderr at that
// level.
func WithLogger(l *slog.Logger) Option {
	return opt(EnvLogLevel, "WithLogger", func(c *config) { c.logger = l })
}

// WithCardinalityLimit sets the per-instrument cardinality limit that
// CardinalityLimit (and so NewPeriodicReader) applies to counters. By
// default there is none: the SDK then never merges billable attribute sets
// into its overflow set, and the exporter's series cap (WithMaxSeries) is
// the bound. Overflow, if a limit makes it happen, is reported. 0 means no
// limit; a negative limit is refused. Env: LITEWAVE_CARDINALITY_LIMIT.
func WithCardinalityLimit(n int) Option {
	return opt(EnvCardinalityLimit, fmt.Sprintf("WithCardinalityLimit(%d)", n), func(c *config) { c.cardinality = n })
}

// WithStaleness sets how long the state of a cumulative stream is kept
// after it was last seen. By default, as in the Collector's
// cumulativetodelta processor, it is kept for ever (up to one stream per
// series cap; points of streams beyond it are refused and counted). A
// forgotten stream that comes back with the same start time is billed as
// a baseline again, so set it above the longest pause of your producers.
// Env: LITEWAVE_STALENESS.
func WithStaleness(d time.Duration) Option {
	return opt(EnvStaleness, fmt.Sprintf("WithStaleness(%v)", d), func(c *config) { c.staleness = d })
}

// WithMeterProvider makes the exporter report its own health on mp:
// OpenTelemetry's metrics for SDK exporters (otel.sdk.exporter.*) and usage
// in its own units (litewave.*); see the README for the list. They are never
// billed, even on the billing provider. Without it, OTEL_GO_X_OBSERVABILITY=true
// reports on the global MeterProvider; otherwise nothing is reported, and
// nothing costs.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return opt("WithMeterProvider", "WithMeterProvider", func(c *config) { c.meterProvider = mp })
}

// WithoutEnvironment makes New and NewClient ignore every LITEWAVE_*
// variable, wherever it stands among the options: only the options and the
// defaults count. Tests use it (litewavetest's exporter does), so that an
// endpoint, key, portal or spool exported in a shell never reaches them.
// OTEL_GO_X_OBSERVABILITY is still read: it sends nothing anywhere, it only
// reports the exporter's own metrics on the global MeterProvider, and
// WithMeterProvider overrides it.
func WithoutEnvironment() Option { return withoutEnvironment{} }

// withoutEnvironment sets nothing: newConfig looks for it before reading
// the environment, so that no variable's value or parse error survives.
type withoutEnvironment struct{}

func (withoutEnvironment) apply(*config) {}

// multi is several options given as one.
type multiOption []Option

func (m multiOption) apply(c *config) {
	for _, o := range m {
		o.apply(c)
	}
}

func multi(opts ...Option) Option { return multiOption(opts) }

func newConfig(opts []Option) (config, error) {
	c := config{
		backend:       BackendEvents,
		endpoint:      DefaultEndpoint,
		kafkaTopic:    DefaultKafkaTopic,
		kafkaTxn:      true,
		txnTimeout:    DefaultKafkaTransactionTimeout,
		restRecords:   DefaultKafkaRESTRecords,
		restBytes:     DefaultKafkaRESTBytes,
		timeout:       DefaultTimeout,
		tenantAttr:    DefaultTenantAttribute,
		deviceAttr:    DefaultDeviceAttribute,
		concurrency:   DefaultConcurrency,
		retry:         DefaultRetryConfig,
		hitTTL:        DefaultCustomerCacheHit,
		missTTL:       DefaultCustomerCacheMiss,
		maxSeries:     DefaultMaxSeries,
		maxSpoolBytes: DefaultMaxSpoolBytes,
		source:        map[string]string{},
		envErrs:       map[string]error{},
	}
	if !slices.ContainsFunc(opts, func(o Option) bool { _, ok := o.(withoutEnvironment); return ok }) {
		c.fromEnv()
	}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	c.loggerGiven = c.logger != nil
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	return c, c.validate()
}

// envSetting parses one variable into the config.
type envSetting struct {
	name  string
	parse func(c *config, v string) error
}

var envSettings = []envSetting{
	{EnvBackend, func(c *config, v string) error { c.backend = v; return nil }},
	{EnvEndpoint, func(c *config, v string) error { c.endpoint = v; return nil }},
	{EnvAPIKey, func(c *config, v string) error { c.apiKey = redact.New(v); return nil }},
	{EnvPortalURL, func(c *config, v string) error { c.portalURL = v; return nil }},
	{EnvKafkaRESTURL, func(c *config, v string) error { c.kafkaRESTURL = v; return nil }},
	{EnvKafkaTopic, func(c *config, v string) error { c.kafkaTopic = v; return nil }},
	{EnvKafkaRESTMaxRecords, intInto(func(c *config) *int { return &c.restRecords })},
	{EnvKafkaRESTMaxBytes, intInto(func(c *config) *int { return &c.restBytes })},
	{EnvKafkaBrokers, func(c *config, v string) error {
		c.kafkaBrokers = nil
		for _, b := range strings.Split(v, ",") {
			if b = strings.TrimSpace(b); b != "" {
				c.kafkaBrokers = append(c.kafkaBrokers, b)
			}
		}
		return nil
	}},
	{EnvKafkaTLS, func(c *config, v string) error {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return errors.New("want true or false")
		}
		c.kafkaTLS = nil
		if on {
			c.kafkaTLS = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		return nil
	}},
	{EnvKafkaSASLMechanism, func(c *config, v string) error { c.saslMechanism = v; return nil }},
	{EnvKafkaSASLUsername, func(c *config, v string) error { c.saslUsername = v; return nil }},
	{EnvKafkaSASLPassword, func(c *config, v string) error { c.saslPassword = redact.New(v); return nil }},
	{EnvKafkaTransactions, func(c *config, v string) error {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return errors.New("want true or false")
		}
		c.kafkaTxn = on
		return nil
	}},
	{EnvKafkaCheckpointTopic, func(c *config, v string) error { c.checkpointTopic = v; return nil }},
	{EnvKafkaTransactionTimeout, durationInto(func(c *config) *time.Duration { return &c.txnTimeout })},
	{EnvTimeout, durationInto(func(c *config) *time.Duration { return &c.timeout })},
	{EnvConcurrency, intInto(func(c *config) *int { return &c.concurrency })},
	{EnvSpoolDir, func(c *config, v string) error { c.spoolDir = v; return nil }},
	{EnvMaxSpoolBytes, func(c *config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return errors.New("not an integer")
		}
		c.maxSpoolBytes = n
		return nil
	}},
	{EnvInstanceID, func(c *config, v string) error { c.instanceID = v; return nil }},
	{EnvTenantAttribute, func(c *config, v string) error { c.tenantAttr = v; return nil }},
	{EnvDeviceAttribute, func(c *config, v string) error { c.deviceAttr = v; return nil }},
	{EnvMeterIDs, func(c *config, v string) error {
		c.meterIDs = map[string]string{}
		for _, pair := range strings.Split(v, ",") {
			inst, meter, ok := strings.Cut(strings.TrimSpace(pair), "=")
			if !ok || inst == "" {
				return fmt.Errorf("%q is not instrument=meter", pair)
			}
			c.meterIDs[inst] = meter
		}
		return nil
	}},
	{EnvInstruments, func(c *config, v string) error {
		c.instruments = map[string]bool{}
		for _, n := range strings.Split(v, ",") {
			if n = strings.TrimSpace(n); n != "" {
				c.instruments[n] = true
			}
		}
		return nil
	}},
	{EnvMaxSeries, intInto(func(c *config) *int { return &c.maxSeries })},
	{EnvCardinalityLimit, intInto(func(c *config) *int { return &c.cardinality })},
	{EnvStaleness, durationInto(func(c *config) *time.Duration { return &c.staleness })},
	{EnvRetryInitial, durationInto(func(c *config) *time.Duration { return &c.retry.InitialInterval })},
	{EnvRetryMax, durationInto(func(c *config) *time.Duration { return &c.retry.MaxInterval })},
	{EnvRetryMaxRetryAfter, durationInto(func(c *config) *time.Duration { return &c.retry.MaxRetryAfter })},
	{EnvCustomerCacheHit, durationInto(func(c *config) *time.Duration { return &c.hitTTL })},
	{EnvCustomerCacheMiss, durationInto(func(c *config) *time.Duration { return &c.missTTL })},
	{EnvLogLevel, func(c *config, v string) error {
		var level slog.Level
		if err := level.UnmarshalText([]byte(v)); err != nil {
			return errors.New("want debug, info, warn or error")
		}
		c.logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
		return nil
	}},
}

func intInto(field func(*config) *int) func(*config, string) error {
	return func(c *config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return errors.New("not an integer")
		}
		*field(c) = n
		return nil
	}
}

func durationInto(field func(*config) *time.Duration) func(*config, string) error {
	return func(c *config, v string) error {
		d, err := parseDuration(v)
		if err != nil {
			return err
		}
		*field(c) = d
		return nil
	}
}

// fromEnv applies the environment variables; the ones that do not parse
// are kept in envErrs, to fail validation unless an option overrides them.
func (c *config) fromEnv() {
	for _, s := range envSettings {
		v := strings.TrimSpace(os.Getenv(s.name))
		if v == "" {
			continue
		}
		shown := strconv.Quote(v)
		switch s.name {
		case EnvAPIKey, EnvKafkaSASLPassword, EnvKafkaSASLUsername:
			shown = "[REDACTED]"
		case EnvEndpoint, EnvPortalURL, EnvKafkaRESTURL, EnvKafkaBrokers:
			shown = shownURL(v)
		}
		c.source[s.name] = s.name + "=" + shown
		if err := s.parse(c, v); err != nil {
			c.envErrs[s.name] = fmt.Errorf("%s=%s: %w", s.name, shown, err)
		}
	}
}

// parseDuration reads milliseconds (the OTEL_*_TIMEOUT convention) or a Go
// duration.
func parseDuration(v string) (time.Duration, error) {
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Duration(ms) * time.Millisecond, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, errors.New("want milliseconds or a duration such as 10s")
	}
	return d, nil
}

// from names where the setting of variable env came from, for an error.
func (c *config) from(env, what string) string {
	if s, ok := c.source[env]; ok {
		return s
	}
	return what
}

// secretOption names the option of each secret's variable, for errors
// about a secret given as an option.
var secretOption = map[string]string{
	EnvAPIKey:            "WithAPIKey",
	EnvKafkaSASLUsername: "WithKafkaSASL (the username)",
	EnvKafkaSASLPassword: "WithKafkaSASL (the password)",
}

func (c *config) validate() error {
	var errs []error
	for _, s := range envSettings {
		if err := c.envErrs[s.name]; err != nil {
			errs = append(errs, err)
		}
	}
	bad := func(env, what, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", c.from(env, what), fmt.Sprintf(format, args...)))
	}
	if !slices.Contains(backends, c.backend) {
		bad(EnvBackend, "the backend", "unknown backend %q; valid: %s", c.backend, strings.Join(backends, ", "))
	}
	if err := checkURL(c.endpoint); err != nil {
		bad(EnvEndpoint, "the endpoint", "%v", err)
	}
	if c.portalURL != "" {
		if err := checkURL(c.portalURL); err != nil {
			bad(EnvPortalURL, "the portal URL", "%v", err)
		}
	}
	if c.backend == BackendKafkaREST {
		if c.kafkaRESTURL == "" {
			bad(EnvKafkaRESTURL, EnvKafkaRESTURL, "backend %s needs the REST Proxy's URL: set %s or WithKafkaRESTURL", c.backend, EnvKafkaRESTURL)
		} else if err := checkURL(c.kafkaRESTURL); err != nil {
			bad(EnvKafkaRESTURL, "the REST Proxy URL", "%v", err)
		}
	}
	if c.backend == BackendKafka && len(c.kafkaBrokers) == 0 {
		bad(EnvKafkaBrokers, EnvKafkaBrokers, "backend %s needs the seed brokers: set %s or WithKafkaBrokers", c.backend, EnvKafkaBrokers)
	}
	for env, secret := range map[string]string{EnvAPIKey: c.apiKey.Value(), EnvKafkaSASLUsername: c.saslUsername, EnvKafkaSASLPassword: c.saslPassword.Value()} {
		if err := checkSecret(secret); err != nil {
			bad(env, secretOption[env], "%v", err)
		}
	}
	if c.saslMechanism != "" {
		if !slices.Contains(saslMechanisms, strings.ToUpper(c.saslMechanism)) {
			bad(EnvKafkaSASLMechanism, "the SASL mechanism", "unknown mechanism %q; valid: %s", c.saslMechanism, strings.Join(saslMechanisms, ", "))
		}
		if c.saslUsername == "" || !c.saslPassword.Set() {
			bad(EnvKafkaSASLMechanism, "the SASL mechanism", "needs a username and a password (%s, %s)", EnvKafkaSASLUsername, EnvKafkaSASLPassword)
		}
	}
	if c.kafkaTopic == "" || strings.ContainsAny(c.kafkaTopic, "/?# ") {
		bad(EnvKafkaTopic, "the topic", "topic %q is not a valid topic name", c.kafkaTopic)
	}
	if c.checkpointTopic == "" {
		c.checkpointTopic = c.kafkaTopic + ".checkpoints"
	}
	if strings.ContainsAny(c.checkpointTopic, "/?# ") || c.checkpointTopic == c.kafkaTopic {
		bad(EnvKafkaCheckpointTopic, "the checkpoint topic", "topic %q is not a valid checkpoint topic: a topic of its own", c.checkpointTopic)
	}
	if c.txnTimeout < time.Second || c.txnTimeout > 15*time.Minute {
		bad(EnvKafkaTransactionTimeout, "the transaction timeout", "want 1s to 15m (the brokers' transaction.max.timeout.ms), got %v", c.txnTimeout)
	}
	if c.restRecords < 1 || c.restRecords > maxRESTRecords {
		bad(EnvKafkaRESTMaxRecords, "the REST Proxy batch", "want 1 to %d records per request (the proxy's answer holds an entry per record)", maxRESTRecords)
	}
	if c.restBytes < 1024 {
		bad(EnvKafkaRESTMaxBytes, "the REST Proxy batch", "want at least 1024 bytes per request")
	}
	if c.timeout <= 0 {
		bad(EnvTimeout, "the timeout", "must be positive")
	}
	if c.concurrency < 1 {
		bad(EnvConcurrency, "the concurrency", "must be at least 1")
	}
	if c.maxSeries < 1 {
		bad(EnvMaxSeries, "the series cap", "must be at least 1")
	}
	if c.maxSpoolBytes < 1 {
		bad(EnvMaxSpoolBytes, "the spool cap", "must be positive")
	}
	if c.staleness < 0 {
		bad(EnvStaleness, "the staleness", "must not be negative")
	}
	if c.cardinality < 0 {
		bad(EnvCardinalityLimit, "the cardinality limit", "must not be negative")
	}
	if c.tenantAttr == "" {
		bad(EnvTenantAttribute, "the tenant attribute", "must not be empty")
	}
	if c.deviceAttr == "" {
		bad(EnvDeviceAttribute, "the device attribute", "must not be empty")
	}
	if c.hitTTL <= 0 {
		bad(EnvCustomerCacheHit, "the customer cache", "lifetimes must be positive")
	}
	if c.missTTL <= 0 {
		bad(EnvCustomerCacheMiss, "the customer cache", "lifetimes must be positive")
	}
	if c.tlsConfig != nil && c.httpClient != nil {
		errs = append(errs, errors.New("WithTLSConfig and WithHTTPClient cannot be combined: set TLS on your client's transport"))
	}
	if c.retry.InitialInterval > c.retry.MaxInterval {
		bad(EnvRetryInitial, "the retry policy", "initial interval %v exceeds the max interval %v", c.retry.InitialInterval, c.retry.MaxInterval)
	}
	for inst, id := range c.meterIDs {
		if err := checkMeterID(id); err != nil {
			errs = append(errs, fmt.Errorf("%s: instrument %q: %w", c.from(EnvMeterIDs, "a meter id"), inst, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("litewavemetric: invalid configuration: %w", err)
	}
	return nil
}

// baseURL is raw, checked, without a trailing slash.
func baseURL(raw string) string { return strings.TrimSuffix(raw, "/") }
