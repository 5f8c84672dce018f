package main

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/aiorch/litewavemetric/litewavetest"
)

func newServer(t *testing.T, opts ...litewavetest.Option) *litewavetest.Server {
	t.Helper()
	srv := litewavetest.NewServer(opts...)
	t.Cleanup(srv.Close)
	return srv
}

func TestLookupPrintsTheCustomerID(t *testing.T) {
	srv := newServer(t, litewavetest.WithCustomer("acme", "cus_42"))
	res := litewave(t, []string{"LITEWAVE_ENDPOINT=" + srv.URL}, "lookup", "acme")
	assert.Equal(t, 0, res.code)
	assert.Equal(t, "cus_42\n", res.stdout)
	assert.Empty(t, res.stderr)
}

func TestLookupAtThePortal(t *testing.T) {
	srv := newServer(t, litewavetest.WithCustomer("acme", "cus_42"), litewavetest.WithPortalAPIKey("portal-key"))
	res := litewave(t, []string{"LITEWAVE_PORTAL_URL=" + srv.URL, "LITEWAVE_API_KEY=portal-key"}, "lookup", "acme")
	assert.Equal(t, 0, res.code)
	assert.Equal(t, "cus_42\n", res.stdout)
	assert.Equal(t, "/metering/v1alpha1/customer-accounts/tenant/acme", srv.Requests()[0].Path)
}

// A tenant without an account is a failure that says so, and where it
// asked.
func TestLookupOfATenantWithoutAnAccount(t *testing.T) {
	srv := newServer(t, litewavetest.WithCustomer("acme", "cus_42"))
	res := litewave(t, []string{"LITEWAVE_ENDPOINT=" + srv.URL}, "lookup", "globex")
	assert.Equal(t, 1, res.code)
	assert.Empty(t, res.stdout)
	assert.Contains(t, res.stderr, "litewave: tenant globex has no customer account (asked GET "+srv.URL+"/api/v1/customer-accounts/tenant/globex)")
}

// A setting that does not parse fails before anything is asked, naming the
// variable.
func TestLookupWithABadSettingNamesTheVariable(t *testing.T) {
	srv := newServer(t, litewavetest.WithAnyTenant())
	res := litewave(t, []string{"LITEWAVE_ENDPOINT=" + srv.URL, "LITEWAVE_TIMEOUT=soon"}, "lookup", "acme")
	assert.Equal(t, 1, res.code)
	assert.Contains(t, res.stderr, `LITEWAVE_TIMEOUT="soon"`)
	assert.Zero(t, srv.Stats().Requests)
}
