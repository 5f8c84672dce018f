package litewavetest

// Option configures a Server at construction.
//
// The interface is sealed (unexported method) so options can only come from
// this package, which leaves room to change the config without breaking users.
type Option interface {
	apply(*config)
}

type config struct {
	customers   map[string]string
	apiKey      string
	listAnswers bool
	faultFunc   FaultFunc

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

// WithAPIKey makes every request require the header "x-api-key: key".
// Requests without it are answered 401 and never recorded as events.
func WithAPIKey(key string) Option {
	return optionFunc(func(c *config) { c.apiKey = key })
}

// WithListAnswers makes customer lookups answer a JSON list of accounts
// instead of a single object, the other shape the real API may return.
func WithListAnswers() Option {
	return optionFunc(func(c *config) { c.listAnswers = true })
}

// WithFaultFunc installs f to decide the fault for each request.
// See [Server.SetFaultFunc].
func WithFaultFunc(f FaultFunc) Option {
	return optionFunc(func(c *config) { c.faultFunc = f })
}

// withHandlerExit lets the package's own tests wait for a handler to finish
// without sleeping. Set at construction so no data race with handlers exists.
func withHandlerExit(f func()) Option {
	return optionFunc(func(c *config) { c.handlerExit = f })
}
