package litewavemetric

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Environment variables read by New and NewClient. An explicit Option always
// beats the variable; the variable beats the default.
const (
	EnvEndpoint        = "LITEWAVE_ENDPOINT"         // base URL
	EnvAPIKey          = "LITEWAVE_API_KEY"          // sent as x-api-key
	EnvTimeout         = "LITEWAVE_TIMEOUT"          // per request: milliseconds, or a Go duration ("10s")
	EnvSpoolDir        = "LITEWAVE_SPOOL_DIR"        // crash-safe outbox directory
	EnvInstanceID      = "LITEWAVE_INSTANCE_ID"      // part of every idempotency key
	EnvConcurrency     = "LITEWAVE_CONCURRENCY"      // requests in flight
	EnvTenantAttribute = "LITEWAVE_TENANT_ATTRIBUTE" // attribute key of the tenant id
	EnvDeviceAttribute = "LITEWAVE_DEVICE_ATTRIBUTE" // attribute key of the device id
)

// Defaults.
const (
	DefaultEndpoint        = "http://metering.metering.svc.cluster.local:8000"
	DefaultTimeout         = 10 * time.Second
	DefaultConcurrency     = 64
	DefaultTenantAttribute = "tenant.id"
	DefaultDeviceAttribute = "device.id"
	DefaultMaxSeries       = 100_000
	DefaultMaxSpoolBytes   = 256 << 20
)

// RetryConfig sets how failed deliveries are retried. Delivery is retried
// until it succeeds or is rejected permanently: usage is never given up on
// because of time; these values only space the attempts.
type RetryConfig struct {
	// InitialInterval is the wait after the first failure (default 1s);
	// each further failure doubles it, with jitter, up to MaxInterval.
	InitialInterval time.Duration
	// MaxInterval bounds the wait between attempts (default 2m).
	MaxInterval time.Duration
	// MaxRetryAfter caps how long a server's Retry-After is honoured
	// (default 10m).
	MaxRetryAfter time.Duration
}

// DefaultRetryConfig is the retry policy used unless WithRetry is given.
var DefaultRetryConfig = RetryConfig{
	InitialInterval: time.Second,
	MaxInterval:     2 * time.Minute,
	MaxRetryAfter:   10 * time.Minute,
}

type config struct {
	endpoint        string
	apiKey          secret
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
	cardinality     int
	cardinalitySet  bool // else the series cap
	staleness       time.Duration
	// envErrs are environment variables that did not parse; an option that
	// sets the same value clears its error.
	envErrs map[string]error
}

// idleTTL is how long a series that holds nothing is kept, so that the
// next collection finds it instead of allocating it anew.
const idleTTL = time.Hour

// Option configures an Exporter or a Client. NewClient takes the same
// options; those about metrics and the outbox (attributes, meters, spool,
// retries, instance id) have no effect on a Client, while concurrency sizes
// its pool of idle connections and the series cap its customer cache.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithEndpoint sets the base URL of the Litewave metering API.
// Env: LITEWAVE_ENDPOINT. Default: DefaultEndpoint.
func WithEndpoint(baseURL string) Option {
	return optionFunc(func(c *config) { c.endpoint = baseURL })
}

// WithAPIKey sets the key sent as the x-api-key header. It is never
// printed: not in errors, logs, nor a %v of the exporter. Env: LITEWAVE_API_KEY.
func WithAPIKey(key string) Option {
	return optionFunc(func(c *config) { c.apiKey = newSecret(key) })
}

// WithTimeout bounds each HTTP request. Env: LITEWAVE_TIMEOUT. Default 10s.
func WithTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) {
		c.timeout = d
		delete(c.envErrs, EnvTimeout)
	})
}

// WithHTTPClient sets the HTTP client. Its redirect policy is replaced by
// one that follows no redirect (a redirect would forward the API key and
// the usage to another URL); the client itself is not modified.
func WithHTTPClient(hc *http.Client) Option {
	return optionFunc(func(c *config) { c.httpClient = hc })
}

// WithTLSConfig sets the TLS configuration of the default transport. It
// cannot be combined with WithHTTPClient (configure that client instead).
func WithTLSConfig(tc *tls.Config) Option {
	return optionFunc(func(c *config) { c.tlsConfig = tc })
}

// WithTenantAttribute sets the attribute key that carries the tenant id.
// Env: LITEWAVE_TENANT_ATTRIBUTE. Default "tenant.id".
func WithTenantAttribute(key string) Option {
	return optionFunc(func(c *config) { c.tenantAttr = key })
}

// WithDeviceAttribute sets the attribute key that carries the device id.
// Env: LITEWAVE_DEVICE_ATTRIBUTE. Default "device.id".
func WithDeviceAttribute(key string) Option {
	return optionFunc(func(c *config) { c.deviceAttr = key })
}

// WithMeterID bills the instrument named instrument under meterID instead
// of its own name. It may be given once per instrument.
func WithMeterID(instrument, meterID string) Option {
	return optionFunc(func(c *config) {
		if c.meterIDs == nil {
			c.meterIDs = map[string]string{}
		}
		c.meterIDs[instrument] = meterID
	})
}

// WithInstruments restricts billing to the named instruments; the usage of
// any other instrument is ignored. By default every counter is billed.
func WithInstruments(names ...string) Option {
	return optionFunc(func(c *config) {
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
	return optionFunc(func(c *config) {
		c.concurrency = n
		delete(c.envErrs, EnvConcurrency)
	})
}

// WithRetry sets the retry policy; zero fields keep their defaults.
func WithRetry(rc RetryConfig) Option {
	return optionFunc(func(c *config) {
		if rc.InitialInterval > 0 {
			c.retry.InitialInterval = rc.InitialInterval
		}
		if rc.MaxInterval > 0 {
			c.retry.MaxInterval = rc.MaxInterval
		}
		if rc.MaxRetryAfter > 0 {
			c.retry.MaxRetryAfter = rc.MaxRetryAfter
		}
	})
}

// WithCustomerCache sets how long a tenant's customer id is cached (hit,
// default 10m) and how long "this tenant has no customer account" is
// cached (miss, default 1m). Lookup failures are not cached.
func WithCustomerCache(hit, miss time.Duration) Option {
	return optionFunc(func(c *config) { c.hitTTL, c.missTTL = hit, miss })
}

// WithSpoolDir makes the outbox crash-safe: usage accepted by Export is
// written, synced, to a spool file in dir before it is sent, and usage not
// acknowledged by the backend is sent again, with the same idempotency keys,
// when an exporter next starts on the same dir. Env: LITEWAVE_SPOOL_DIR.
func WithSpoolDir(dir string) Option {
	return optionFunc(func(c *config) { c.spoolDir = dir })
}

// WithMaxSeries bounds the series (tenant, device, meter) held in memory;
// once reached, usage of new series is refused with an error that counts
// it. Default 100 000.
func WithMaxSeries(n int) Option {
	return optionFunc(func(c *config) { c.maxSeries = n })
}

// WithMaxSpoolBytes bounds the spool file; once reached, usage of new series
// is refused with an error that counts it. Default 256 MiB.
func WithMaxSpoolBytes(n int64) Option {
	return optionFunc(func(c *config) { c.maxSpoolBytes = n })
}

// WithInstanceID sets the instance id that is part of every idempotency key,
// so that two processes never produce the same key. Default: random per
// exporter. Env: LITEWAVE_INSTANCE_ID. If you set it (a pod name, say),
// make sure no two live processes share it.
func WithInstanceID(id string) Option {
	return optionFunc(func(c *config) { c.instanceID = id })
}

// WithLogger sets a logger for delivery details: retries (debug),
// permanent rejections and spool repairs (error). Errors are also returned
// to the caller where there is one, and otherwise passed to otel.Handle.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.logger = l })
}

// WithCardinalityLimit sets the per-instrument cardinality limit that
// CardinalityLimit (and so NewPeriodicReader) applies to counters.
// Default: the series cap, so that the SDK never merges billable attribute
// sets into its overflow set before the exporter could hold them. 0 means
// no limit; a negative limit is refused.
func WithCardinalityLimit(n int) Option {
	return optionFunc(func(c *config) { c.cardinality, c.cardinalitySet = n, true })
}

// WithStaleness sets how long the state of a cumulative stream is kept
// after it was last seen. By default, as in the Collector's
// cumulativetodelta processor, it is kept for ever (up to one stream per
// series cap; points of streams beyond it are refused and counted). A
// forgotten stream that comes back with the same start time is billed
// again from zero, so set it above the longest pause of your producers.
func WithStaleness(d time.Duration) Option {
	return optionFunc(func(c *config) { c.staleness = d })
}

func newConfig(opts []Option) (config, error) {
	c := config{
		endpoint:      DefaultEndpoint,
		timeout:       DefaultTimeout,
		tenantAttr:    DefaultTenantAttribute,
		deviceAttr:    DefaultDeviceAttribute,
		concurrency:   DefaultConcurrency,
		retry:         DefaultRetryConfig,
		hitTTL:        10 * time.Minute,
		missTTL:       time.Minute,
		maxSeries:     DefaultMaxSeries,
		maxSpoolBytes: DefaultMaxSpoolBytes,
		envErrs:       map[string]error{},
	}
	c.fromEnv()
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	if !c.cardinalitySet {
		c.cardinality = c.maxSeries
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	return c, c.validate()
}

// fromEnv applies the environment variables; the ones that do not parse
// are kept in envErrs, to fail validation unless an option overrides them.
func (c *config) fromEnv() {
	str := func(name string, dst *string) {
		if v := strings.TrimSpace(os.Getenv(name)); v != "" {
			*dst = v
		}
	}
	str(EnvEndpoint, &c.endpoint)
	str(EnvSpoolDir, &c.spoolDir)
	str(EnvInstanceID, &c.instanceID)
	str(EnvTenantAttribute, &c.tenantAttr)
	str(EnvDeviceAttribute, &c.deviceAttr)
	if v := os.Getenv(EnvAPIKey); v != "" {
		c.apiKey = newSecret(strings.TrimSpace(v))
	}
	if v := strings.TrimSpace(os.Getenv(EnvTimeout)); v != "" {
		if d, err := parseDuration(v); err != nil {
			c.envErrs[EnvTimeout] = fmt.Errorf("%s=%q: %w", EnvTimeout, v, err)
		} else {
			c.timeout = d
		}
	}
	if v := strings.TrimSpace(os.Getenv(EnvConcurrency)); v != "" {
		if n, err := strconv.Atoi(v); err != nil {
			c.envErrs[EnvConcurrency] = fmt.Errorf("%s=%q: not an integer", EnvConcurrency, v)
		} else {
			c.concurrency = n
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

func (c *config) validate() error {
	var errs []error
	for _, name := range []string{EnvTimeout, EnvConcurrency} {
		if err := c.envErrs[name]; err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := parseEndpoint(c.endpoint); err != nil {
		errs = append(errs, err)
	}
	if c.timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout %v must be positive", c.timeout))
	}
	if c.concurrency < 1 {
		errs = append(errs, fmt.Errorf("concurrency %d must be at least 1", c.concurrency))
	}
	if c.maxSeries < 1 {
		errs = append(errs, fmt.Errorf("max series %d must be at least 1", c.maxSeries))
	}
	if c.maxSpoolBytes < 1 {
		errs = append(errs, fmt.Errorf("max spool bytes %d must be positive", c.maxSpoolBytes))
	}
	if c.staleness < 0 {
		errs = append(errs, fmt.Errorf("staleness %v must not be negative", c.staleness))
	}
	if c.cardinality < 0 {
		errs = append(errs, fmt.Errorf("cardinality limit %d must not be negative", c.cardinality))
	}
	if c.tenantAttr == "" || c.deviceAttr == "" {
		errs = append(errs, errors.New("tenant and device attribute keys must not be empty"))
	}
	if c.hitTTL <= 0 || c.missTTL <= 0 {
		errs = append(errs, errors.New("customer cache lifetimes must be positive"))
	}
	if c.tlsConfig != nil && c.httpClient != nil {
		errs = append(errs, errors.New("WithTLSConfig and WithHTTPClient cannot be combined: set TLS on your client's transport"))
	}
	if c.retry.InitialInterval > c.retry.MaxInterval {
		errs = append(errs, fmt.Errorf("retry initial interval %v exceeds max interval %v", c.retry.InitialInterval, c.retry.MaxInterval))
	}
	for inst, id := range c.meterIDs {
		if id == "" {
			errs = append(errs, fmt.Errorf("meter id for instrument %q is empty", inst))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("litewavemetric: invalid configuration: %w", err)
	}
	return nil
}

// parseEndpoint checks the base URL. Credentials in it are refused: they
// would be printed with every network error.
func parseEndpoint(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("endpoint: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("endpoint %q: scheme must be http or https", u.Redacted())
	case u.Host == "":
		return nil, fmt.Errorf("endpoint %q: no host", u.Redacted())
	case u.User != nil:
		return nil, fmt.Errorf("endpoint %q: credentials in the URL are not allowed; use WithAPIKey", u.Redacted())
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("endpoint %q: must not have a query or fragment", u.Redacted())
	}
	return u, nil
}
