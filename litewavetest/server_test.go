package litewavetest

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRoutingUnknownPaths(t *testing.T) {
	s := newTestServer(t, WithCustomer("t1", "cus_1"))
	c := newClient(t, true, 5*time.Second)

	cases := []struct{ method, path string }{
		{http.MethodGet, "/"},
		{http.MethodGet, "/api/v1/events"},                      // wrong method
		{http.MethodPost, "/api/v1/events/"},                    // trailing slash
		{http.MethodPost, "/api/v1/x/../events"},                // must not be cleaned
		{http.MethodPost, "/api/v1//events"},                    // must not be cleaned
		{http.MethodPut, "/api/v1/customer-accounts/tenant/t1"}, // wrong method
		{http.MethodGet, "/api/v1/customer-accounts/tenant/"},   // empty tenant
		{http.MethodGet, "/api/v1/customer-accounts/tenant/t1/extra"},
		{http.MethodGet, "/api/v1/customer-accounts/tenant/x/../t1"},
	}
	for _, tc := range cases {
		req, err := http.NewRequest(tc.method, s.URL+tc.path, strings.NewReader(eventBody("m", 1, "cus_1")))
		require.NoError(t, err)
		req.Header.Set("x-tenant-id", "t1")
		req.Header.Set("x-device-id", "d1")
		res := mustDo(t, c, req)
		assert.Equal(t, http.StatusNotFound, res.status, "%s %s", tc.method, tc.path)
		assert.JSONEq(t, `{"detail":"not found"}`, res.body, "%s %s", tc.method, tc.path)
	}

	reqs := s.Requests()
	require.Len(t, reqs, len(cases))
	for i, tc := range cases {
		assert.Equal(t, tc.method, reqs[i].Method)
		assert.Equal(t, tc.path, reqs[i].RequestURI, "path reached the handler verbatim")
		assert.Equal(t, "t1", reqs[i].Header.Get("X-Tenant-Id"))
	}
	assert.Empty(t, s.Events())
	st := s.Stats()
	assert.EqualValues(t, len(cases), st.Requests)
	assert.Zero(t, st.Lookups)
	assert.Zero(t, st.Posts)
}

func TestLookupEscapedTenantDecodedOnce(t *testing.T) {
	s := newTestServer(t,
		WithCustomer("a/b", "cus_ab"),
		WithCustomer("t 1", "cus_space"),
		WithCustomer("a%2Fb", "cus_literal"),
	)
	c := newClient(t, true, 5*time.Second)

	res := mustDo(t, c, lookupReq(t, s.URL, "a%2Fb"))
	assert.Equal(t, http.StatusOK, res.status)
	assert.JSONEq(t, `{"id":"cus_ab","tenant_id":"a/b"}`, res.body)

	res = mustDo(t, c, lookupReq(t, s.URL, "t%201"))
	assert.JSONEq(t, `{"id":"cus_space","tenant_id":"t 1"}`, res.body)

	// Decoded exactly once: %252F is the tenant "a%2Fb", not "a/b".
	res = mustDo(t, c, lookupReq(t, s.URL, "a%252Fb"))
	assert.JSONEq(t, `{"id":"cus_literal","tenant_id":"a%2Fb"}`, res.body)

	// An unescaped slash is a different path, not the tenant "a/b".
	res = mustDo(t, c, lookupReq(t, s.URL, "a/b"))
	assert.Equal(t, http.StatusNotFound, res.status)
	assert.JSONEq(t, `{"detail":"not found"}`, res.body)

	reqs := s.Requests()
	require.Len(t, reqs, 4)
	assert.Equal(t, "/api/v1/customer-accounts/tenant/a%2Fb", reqs[0].RawPath)
	assert.Equal(t, "/api/v1/customer-accounts/tenant/a/b", reqs[0].Path)
	assert.EqualValues(t, 3, s.Stats().Lookups)
}

func TestLookupObjectListUnknown(t *testing.T) {
	c := newClient(t, true, 5*time.Second)

	obj := newTestServer(t, WithCustomer("t1", "cus_1"))
	res := mustDo(t, c, lookupReq(t, obj.URL, "t1"))
	assert.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, "application/json", res.header.Get("Content-Type"))
	assert.JSONEq(t, `{"id":"cus_1","tenant_id":"t1"}`, res.body)

	res = mustDo(t, c, lookupReq(t, obj.URL, "nope"))
	assert.Equal(t, http.StatusNotFound, res.status)
	assert.JSONEq(t, `{"detail":"customer account not found"}`, res.body)
}

func TestSetAndRemoveCustomer(t *testing.T) {
	s := newTestServer(t)
	c := newClient(t, true, 5*time.Second)

	assert.Equal(t, http.StatusNotFound, mustDo(t, c, lookupReq(t, s.URL, "t1")).status)
	s.SetCustomer("t1", "cus_1")
	assert.JSONEq(t, `{"id":"cus_1","tenant_id":"t1"}`, mustDo(t, c, lookupReq(t, s.URL, "t1")).body)
	s.SetCustomer("t1", "cus_2")
	assert.JSONEq(t, `{"id":"cus_2","tenant_id":"t1"}`, mustDo(t, c, lookupReq(t, s.URL, "t1")).body)
	s.SetCustomer("t1", "")
	assert.Equal(t, http.StatusNotFound, mustDo(t, c, lookupReq(t, s.URL, "t1")).status)

	// Events for a removed tenant are rejected.
	res := mustDo(t, c, eventReq(t, s.URL, "t1", "d1", "", eventBody("m", 1, "cus_2")))
	assert.Equal(t, http.StatusBadRequest, res.status)
}

func TestAPIKeyEnforced(t *testing.T) {
	s := newTestServer(t, WithCustomer("t1", "cus_1"), WithAPIKey("secret"))
	c := newClient(t, true, 5*time.Second)

	res := mustDo(t, c, lookupReq(t, s.URL, "t1"))
	assert.Equal(t, http.StatusUnauthorized, res.status)
	assert.Contains(t, res.body, `"detail"`)

	req := eventReq(t, s.URL, "t1", "d1", "k1", eventBody("m", 5, "cus_1"))
	assert.Equal(t, http.StatusUnauthorized, mustDo(t, c, req).status)

	req = eventReq(t, s.URL, "t1", "d1", "k1", eventBody("m", 5, "cus_1"))
	req.Header.Set("x-api-key", "wrong")
	assert.Equal(t, http.StatusUnauthorized, mustDo(t, c, req).status)

	req = eventReq(t, s.URL, "t1", "d1", "k1", eventBody("m", 5, "cus_1"))
	req.Header.Set("x-api-key", "secret")
	assert.Equal(t, http.StatusCreated, mustDo(t, c, req).status)

	req = lookupReq(t, s.URL, "t1")
	req.Header.Set("x-api-key", "secret")
	assert.Equal(t, http.StatusOK, mustDo(t, c, req).status)

	evs := s.Events()
	require.Len(t, evs, 1, "unauthorized posts are never events")
	assert.Equal(t, "secret", evs[0].APIKey)
	assert.EqualValues(t, 5, s.Total())
	st := s.Stats()
	assert.EqualValues(t, 3, st.Unauthorized)
	assert.EqualValues(t, 5, st.Requests)
	assert.EqualValues(t, 1, st.Accepted)
	assert.Zero(t, st.Rejected)
}

func TestCloseIsIdempotent(t *testing.T) {
	s := NewServer()
	s.Close()
	s.Close()
}
