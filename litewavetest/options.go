package litewavetest

// Option configures a Server at construction.
//
// The interface is sealed (unexported method) so options can only come from
// this package, which leaves room to change the config without breaking users.
type Option interface {
	apply(*config)
}

type config struct {
	customers map[string]string
	apiKey    string
	portalKey string
	anyTenant bool
	redpanda  bool
	topics    map[string]bool

	// handlerExit is a test hook called when a handler returns.
	handlerExit func()
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithCustomer registers customerID as the Litewave customer of tenantID.
// It may be repeated; the last registration of a tenant wins.
func WithCustomer(tenantID, customerID string) Option {
	return optionFunc(func(c *config) { c.customers[tenantID] = customerID })
}

// WithAPIKey makes every request require the header "x-api-key: key"
// (portal lookups take the [WithPortalAPIKey] key instead, if set).
// Requests without it are answered 401 and never recorded as events or
// records.
func WithAPIKey(key string) Option {
	return optionFunc(func(c *config) { c.apiKey = key })
}

// WithPortalAPIKey makes portal lookups
// (/metering/v1alpha1/customer-accounts/tenant/{tenant}) require the header
// "x-api-key: key" instead of the WithAPIKey key. Without either option a
// portal lookup needs some non-empty x-api-key. Other paths are unaffected.
func WithPortalAPIKey(key string) Option {
	return optionFunc(func(c *config) { c.portalKey = key })
}

// WithAnyTenant makes every tenant known: one not registered with
// [WithCustomer] or [Server.SetCustomer] has the customer "cus_<tenant>",
// which lookups answer and events and records must carry.
func WithAnyTenant() Option {
	return optionFunc(func(c *config) { c.anyTenant = true })
}

// WithTopics limits the produce endpoint to the named topics. A produce to
// any other topic fails every record as a proxy does when the topic does
// not exist: see the package documentation. Without it every topic exists.
func WithTopics(names ...string) Option {
	return optionFunc(func(c *config) {
		if c.topics == nil {
			c.topics = make(map[string]bool, len(names))
		}
		for _, n := range names {
			c.topics[n] = true
		}
	})
}

// WithRedpandaAnswers makes the produce endpoint answer as Redpanda's HTTP
// proxy does (one entry per partition batch, Kafka error codes) instead of
// as Confluent's REST Proxy (one entry per record).
func WithRedpandaAnswers() Option {
	return optionFunc(func(c *config) { c.redpanda = true })
}

// withHandlerExit lets the package's own tests wait for a handler to finish
// without sleeping. Set at construction so no data race with handlers exists.
func withHandlerExit(f func()) Option {
	return optionFunc(func(c *config) { c.handlerExit = f })
}
