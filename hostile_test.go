package litewavemetric_test

import (
	"context"
	"net/http"
	"net/url"
	"path"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/aiorch/litewavemetric"
	"github.com/aiorch/litewavemetric/litewavetest"
)

var hostileIDs = []string{
	"..", ".", "a/b", "../../admin", "%2e%2e", "t1?x=1", "t1#frag",
	"x\r\nx-api-key: stolen", "tab\there", "nul\x00", strings.Repeat("a", 10<<10),
	"日本", "caf\u00e9", " t1", "t1 ", "\xff\xfe",
}

// Ids written by whoever calls Add reach neither a header nor a path
// unless they pass the allow-list: no request goes anywhere but the two
// API paths, the usage of invalid series is refused, counted and reported
// every collection, and every valid series beside them is billed.
func TestHostileIDsNeverReachTheBackend(t *testing.T) {
	t.Parallel()
	srv := newServer(t, litewavetest.WithCustomer("t1", "c1"), litewavetest.WithCustomer("..", "c-evil"))
	p := newPipeline(t, srv)
	c := p.counter("pages")
	ctx := context.Background()
	for round := range 2 {
		for _, id := range hostileIDs {
			c.Add(ctx, 1, metric.WithAttributes(attribute.String("tenant.id", id), attribute.String("device.id", "d1")))
			c.Add(ctx, 1, metric.WithAttributes(attribute.String("tenant.id", "t1"), attribute.String("device.id", id)))
		}
		c.Add(ctx, 5, at("t1", "d1"))
		err := p.flush()
		var ue *litewavemetric.UsageError
		require.ErrorAs(t, err, &ue, "round %d", round)
		assert.Equal(t, "invalid_id", ue.Problem)
		assert.Equal(t, 2*len(hostileIDs), ue.Points)
		assert.Less(t, len(err.Error()), 2000, "the report quotes ids, truncated")
		assert.True(t, utf8.ValidString(err.Error()))
	}
	assert.Equal(t, map[litewavetest.Series]int64{series("t1", "d1", "pages"): 10}, srv.Totals())
	for _, r := range srv.Requests() {
		switch r.Method {
		case http.MethodGet:
			assert.Equal(t, "/api/v1/customer-accounts/tenant/t1", r.Path)
		case http.MethodPost:
			assert.Equal(t, "/api/v1/events", r.Path)
			assert.Equal(t, "t1", r.Header.Get("x-tenant-id"))
			assert.Equal(t, "d1", r.Header.Get("x-device-id"))
		default:
			t.Errorf("unexpected %s %s", r.Method, r.RequestURI)
		}
	}
	st := p.exp.Stats()
	assert.Equal(t, int64(4*len(hostileIDs)), st.InvalidPoints)
	assert.Equal(t, float64(4*len(hostileIDs)), st.InvalidUnits)
	assert.Zero(t, st.OwedUnits)
	assert.Equal(t, 1, st.Series, "invalid ids take no room")
}

func TestValidateID(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"t1", "tenant_123", "acme-corp.eu", "user@example.com", "ns:pod-7", "0a1b", "A~B+C",
		"550e8400-e29b-41d4-a716-446655440000", strings.Repeat("x", litewavemetric.MaxIDLength)} {
		assert.NoError(t, litewavemetric.ValidateID(ok), ok)
	}
	for _, bad := range append(hostileIDs, "", "-leading", "_x", ".hidden", strings.Repeat("x", litewavemetric.MaxIDLength+1)) {
		assert.ErrorIs(t, litewavemetric.ValidateID(bad), litewavemetric.ErrInvalidID, "%q", bad)
	}
}

// FuzzValidateID: whatever ValidateID accepts is safe to put in a header
// and a path segment: no byte a header forbids, nothing escaping would
// change, nothing path cleaning would change.
func FuzzValidateID(f *testing.F) {
	for _, s := range append(hostileIDs, "t1", "a.b", "a..b", "x@y", "", "-") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if litewavemetric.ValidateID(id) != nil {
			return
		}
		if id == "" || len(id) > litewavemetric.MaxIDLength {
			t.Fatalf("accepted %d-byte id", len(id))
		}
		for i := 0; i < len(id); i++ {
			if c := id[i]; c < 0x21 || c > 0x7e {
				t.Fatalf("accepted %q with byte %#x", id, c)
			}
		}
		if url.PathEscape(id) != id {
			t.Fatalf("accepted %q, which path escaping changes", id)
		}
		if p := "/api/v1/customer-accounts/tenant/" + id; path.Clean(p) != p {
			t.Fatalf("accepted %q, which path cleaning changes", id)
		}
	})
}
