package litewavetest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A Server from NewHandler serves the fake's endpoints wherever it is
// mounted, beside the mounting server's own routes, and listens nowhere
// itself.
func TestHandlerServesBesideYourOwnRoutes(t *testing.T) {
	fake := NewHandler(WithCustomer("t1", "cus_1"))
	t.Cleanup(fake.Close)
	assert.Empty(t, fake.URL, "it does not listen")

	own := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/own" {
			_, _ = io.WriteString(w, "mine")
			return
		}
		fake.ServeHTTP(w, r)
	})
	srv := httptest.NewServer(own)
	t.Cleanup(srv.Close)
	c := newClient(t, true, 5*time.Second)

	res := mustDo(t, c, eventReq(t, srv.URL, "t1", "d1", "k1", eventBody("pages", 7, "cus_1")))
	assert.Equal(t, http.StatusCreated, res.status, res.body)
	res = mustDo(t, c, lookupReq(t, srv.URL, "t1"))
	assert.JSONEq(t, `{"id":"cus_1","tenant_id":"t1"}`, res.body)
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/own", nil)
	require.NoError(t, err)
	assert.Equal(t, "mine", mustDo(t, c, req).body)

	assert.Equal(t, map[Series]int64{{"t1", "d1", "pages"}: 7}, fake.Totals())
	assert.EqualValues(t, 2, fake.Stats().Requests, "the own route never reached the fake")
}
