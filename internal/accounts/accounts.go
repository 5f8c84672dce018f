package accounts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/aiorch/litewavemetric/internal/httpclient"
	"github.com/aiorch/litewavemetric/internal/usage"
)

// ErrNoAccount is wrapped by every error saying a tenant has no customer
// account: the API's 404 that says so, or an empty list. Any other 404 is
// a wrong URL, a configuration problem that names it (httpclient).
var ErrNoAccount = errors.New("no customer account for tenant")

// Lookup paths below a base URL; the tenant id follows.
const (
	EventsAPIPath = "/api/v1/customer-accounts/tenant/"
	PortalPath    = "/metering/v1alpha1/customer-accounts/tenant/"
)

// noAccountFix is what a report of a missing account asks to change.
const noAccountFix = "create the tenant's customer account in Litewave, or check the tenant id the application counts with"

// Config configures Accounts.
type Config struct {
	HTTP *httpclient.Client
	// URL is the lookup URL up to the tenant id, which is appended escaped:
	// {endpoint}/api/v1/customer-accounts/tenant/ or
	// {portal}/metering/v1alpha1/customer-accounts/tenant/.
	URL             string
	HitTTL, MissTTL time.Duration
	MaxTenants      int // entries the cache holds
}

// Accounts looks customers up and caches them. It is a usage.Customers.
type Accounts struct {
	http   *httpclient.Client
	prefix string
	cache  *cache
}

var _ usage.Customers = (*Accounts)(nil)

// New returns Accounts for cfg.
func New(cfg Config) *Accounts {
	return &Accounts{http: cfg.HTTP, prefix: cfg.URL, cache: newCache(cfg.HitTTL, cfg.MissTTL, cfg.MaxTenants)}
}

// Lookup asks the backend for tenant's account, always, and refreshes the
// cache with the answer. tenant must be a valid id.
func (a *Accounts) Lookup(ctx context.Context, tenant string) (string, json.RawMessage, error) {
	id, raw, err := a.fetch(ctx, tenant)
	a.cache.store(tenant, id, errors.Is(err, ErrNoAccount), err)
	return id, raw, err
}

// Cached returns the tenant's customer if the cache holds it.
func (a *Accounts) Cached(tenant string) (string, bool) { return a.cache.cached(tenant) }

// Resolve returns the tenant's customer from the cache or the backend.
func (a *Accounts) Resolve(ctx context.Context, tenant string) (string, error) {
	return a.cache.resolve(ctx, tenant, func(ctx context.Context) (string, error) {
		id, _, err := a.Lookup(ctx, tenant)
		return id, err
	}, func() error {
		return usage.Misconfigured(&noAccountError{tenant: tenant, cached: true}, noAccountFix)
	})
}

// Forget drops the tenant's cache entry.
func (a *Accounts) Forget(tenant string) { a.cache.forget(tenant) }

// Stats returns the lookup counters.
func (a *Accounts) Stats() Stats { return a.cache.snapshot() }

func (a *Accounts) fetch(ctx context.Context, tenant string) (string, json.RawMessage, error) {
	body, err := a.http.Do(ctx, "customer lookup", http.MethodGet, a.prefix+url.PathEscape(tenant), nil, acceptJSON)
	var se *httpclient.StatusError
	switch {
	case errors.As(err, &se) && se.StatusCode == http.StatusNotFound && noAccountAnswer(se.Body):
		return "", nil, noAccount(tenant)
	case err != nil:
		return "", nil, fmt.Errorf("tenant %s: %w", tenant, err)
	}
	id, raw, err := CustomerID(body)
	switch {
	case errors.Is(err, errEmptyList):
		return "", nil, noAccount(tenant)
	case err != nil:
		return "", nil, fmt.Errorf("customer lookup for tenant %s: bad answer: %w", tenant, err)
	}
	return id, raw, nil
}

func noAccount(tenant string) error {
	return usage.Misconfigured(&noAccountError{tenant: tenant}, noAccountFix)
}

// noAccountError says a tenant has no customer account. Unlike the other
// configuration problems, the backend's data fixes it, not this process's
// settings: an account created while a flush waits is found by its next
// lookup, so a flush waits for it (AwaitsBackend).
type noAccountError struct {
	tenant string
	cached bool // the cache's answer, within its miss lifetime
}

func (e *noAccountError) Error() string {
	msg := "tenant " + e.tenant + ": " + ErrNoAccount.Error()
	if e.cached {
		msg += " (cached answer)"
	}
	return msg
}

func (e *noAccountError) Unwrap() error { return ErrNoAccount }

// AwaitsBackend marks a problem that waiting may fix (see outbox).
func (e *noAccountError) AwaitsBackend() bool { return true }

func acceptJSON(h http.Header) { h["Accept"] = []string{"application/json"} }
