package litewavetest

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// portalReq builds a portal lookup; an empty key omits the header.
func portalReq(t *testing.T, base, rawTenant, key string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/metering/v1alpha1/customer-accounts/tenant/"+rawTenant, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("x-api-key", key)
	}
	return req
}

func TestPortalLookup(t *testing.T) {
	s := newTestServer(t, WithCustomer("t1", "cus_1"), WithCustomer("a/b", "cus_ab"))
	c := newClient(t, true, 5*time.Second)

	res := mustDo(t, c, portalReq(t, s.URL, "t1", ""))
	assert.Equal(t, http.StatusUnauthorized, res.status, "the portal always wants a key")
	assert.JSONEq(t, `{"detail":"missing or invalid x-api-key"}`, res.body)

	res = mustDo(t, c, portalReq(t, s.URL, "t1", "any-key"))
	assert.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, "application/json", res.header.Get("Content-Type"))
	assert.JSONEq(t, `{"id":"cus_1","tenant_id":"t1"}`, res.body)

	res = mustDo(t, c, portalReq(t, s.URL, "nope", "any-key"))
	assert.Equal(t, http.StatusNotFound, res.status)
	assert.JSONEq(t, `{"detail":"customer account not found"}`, res.body)

	res = mustDo(t, c, portalReq(t, s.URL, "a%2Fb", "any-key"))
	assert.JSONEq(t, `{"id":"cus_ab","tenant_id":"a/b"}`, res.body, "decoded once, as on the API path")

	assert.Equal(t, http.StatusOK, mustDo(t, c, lookupReq(t, s.URL, "t1")).status, "the API path needs no key")

	// Lookups faults apply to portal lookups; Events faults do not.
	s.Script(Fault{Target: "events", Status: 503}, Fault{Target: "lookups", Status: 500})
	assert.Equal(t, http.StatusInternalServerError, mustDo(t, c, portalReq(t, s.URL, "t1", "k")).status)

	// Other methods and shapes are not the portal lookup.
	req := portalReq(t, s.URL, "t1/extra", "k")
	assert.Equal(t, http.StatusNotFound, mustDo(t, c, req).status)
	req = portalReq(t, s.URL, "t1", "k")
	req.Method = http.MethodPost
	assert.Equal(t, http.StatusNotFound, mustDo(t, c, req).status)

	st := s.Stats()
	assert.EqualValues(t, 6, st.Lookups)
	assert.EqualValues(t, 1, st.Unauthorized)
	assert.EqualValues(t, 8, st.Requests)
}

func TestPortalAPIKey(t *testing.T) {
	c := newClient(t, true, 5*time.Second)
	status := func(req *http.Request) int { return mustDo(t, c, req).status }
	withKey := func(req *http.Request, key string) *http.Request {
		req.Header.Set("x-api-key", key)
		return req
	}

	// WithAPIKey alone: the portal wants that key too.
	s := newTestServer(t, WithCustomer("t1", "cus_1"), WithAPIKey("api"))
	assert.Equal(t, 200, status(portalReq(t, s.URL, "t1", "api")))
	assert.Equal(t, 401, status(portalReq(t, s.URL, "t1", "other")))
	assert.Equal(t, 401, status(portalReq(t, s.URL, "t1", "")))

	// WithPortalAPIKey: the portal wants its own key, other paths keep theirs.
	s = newTestServer(t, WithCustomer("t1", "cus_1"), WithAPIKey("api"), WithPortalAPIKey("portal"))
	assert.Equal(t, 200, status(portalReq(t, s.URL, "t1", "portal")))
	assert.Equal(t, 401, status(portalReq(t, s.URL, "t1", "api")))
	assert.Equal(t, 200, status(withKey(lookupReq(t, s.URL, "t1"), "api")))
	assert.Equal(t, 401, status(withKey(lookupReq(t, s.URL, "t1"), "portal")))
	assert.Equal(t, 401, status(withKey(eventReq(t, s.URL, "t1", "d1", "", eventBody("m", 1, "cus_1")), "portal")))
	assert.EqualValues(t, 3, s.Stats().Unauthorized)

	// WithPortalAPIKey alone leaves the other paths open.
	s = newTestServer(t, WithCustomer("t1", "cus_1"), WithPortalAPIKey("portal"))
	assert.Equal(t, 200, status(lookupReq(t, s.URL, "t1")))
	assert.Equal(t, 201, status(eventReq(t, s.URL, "t1", "d1", "", eventBody("m", 1, "cus_1"))))
	assert.Equal(t, 401, status(portalReq(t, s.URL, "t1", "")))
	assert.Equal(t, 401, status(portalReq(t, s.URL, "t1", "other")))
	assert.Equal(t, 200, status(portalReq(t, s.URL, "t1", "portal")))
}

func TestAnyTenant(t *testing.T) {
	s := newTestServer(t, WithAnyTenant(), WithCustomer("t1", "cus_1"))
	c := newClient(t, true, 5*time.Second)

	res := mustDo(t, c, lookupReq(t, s.URL, "acme"))
	assert.Equal(t, http.StatusOK, res.status)
	assert.JSONEq(t, `{"id":"cus_acme","tenant_id":"acme"}`, res.body)
	assert.JSONEq(t, `{"id":"cus_acme","tenant_id":"acme"}`, mustDo(t, c, portalReq(t, s.URL, "acme", "k")).body)
	assert.JSONEq(t, `{"id":"cus_a/b","tenant_id":"a/b"}`, mustDo(t, c, lookupReq(t, s.URL, "a%2Fb")).body)
	assert.JSONEq(t, `{"id":"cus_1","tenant_id":"t1"}`, mustDo(t, c, portalReq(t, s.URL, "t1", "k")).body,
		"a registered tenant keeps its customer")

	// Events validate against the same ids.
	assert.Equal(t, 201, mustDo(t, c, eventReq(t, s.URL, "acme", "d1", "", eventBody("m", 2, "cus_acme"))).status)
	res = mustDo(t, c, eventReq(t, s.URL, "acme", "d1", "", eventBody("m", 2, "cus_1")))
	assert.Equal(t, http.StatusBadRequest, res.status)
	assert.Contains(t, res.body, "does not match")
	assert.Equal(t, 400, mustDo(t, c, eventReq(t, s.URL, "t1", "d1", "", eventBody("m", 2, "cus_t1"))).status)

	// So do records.
	res = mustDo(t, c, produceReq(t, s.URL, "usage-events", produceBody(
		kv(`"k1"`, recordValue("acme", "d1", "m", "cus_acme", 3)),
		kv(`"k2"`, recordValue("acme", "d1", "m", "cus_x", 3)),
	)))
	es := confluentEntries(t, res.body)
	require.Len(t, es, 2)
	assert.Nil(t, es[0].ErrorCode)
	require.NotNil(t, es[1].ErrorCode)
	assert.Equal(t, 50002, *es[1].ErrorCode)
	assert.Contains(t, *es[1].Error, `customer_id "cus_x" does not match the customer of tenant "acme"`)
	assert.Equal(t, map[Series]int64{{"acme", "d1", "m"}: 5}, s.Totals())

	// A removed tenant falls back to the stable id.
	s.SetCustomer("t1", "")
	assert.JSONEq(t, `{"id":"cus_t1","tenant_id":"t1"}`, mustDo(t, c, lookupReq(t, s.URL, "t1")).body)
}
