package litewavemetric_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiorch/litewavemetric"
	"github.com/aiorch/litewavemetric/litewavetest"
)

// echoedKey has characters that each encoding writes differently.
const echoedKey = "sk_live_7Qz/pl+us"

// echoes are the ways a backend quotes the key it was sent.
var echoes = map[string]string{
	"raw":             echoedKey,
	"JSON-escaped":    jsonEscaped(echoedKey),
	"percent-encoded": url.QueryEscape(echoedKey),
}

func jsonEscaped(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// keyForms are what must never be printed: the key in any form a backend
// may have echoed, and its longest distinctive part.
var keyForms = []string{echoedKey, jsonEscaped(echoedKey), url.QueryEscape(echoedKey), "7Qz"}

// A backend that echoes the API key (a refused lookup, a rejected event,
// an outage; raw, JSON-escaped or percent-encoded) never has it shown: not
// in the provider's errors, otel.Handle's reports, the logger, Rejected()
// reasons, nor the spool's bytes.
func TestEchoedKeyIsNeverShown(t *testing.T) {
	for form, echo := range echoes {
		answers := map[string]litewavetest.Fault{
			"lookup 401": {Target: "lookups", Status: 401, Body: `{"detail":"invalid x-api-key ` + echo + `"}`},
			"event 400":  {Target: "events", Status: 400, Body: `{"detail":"bad request with key=` + echo + `&x=1"}`},
			"503":        {Target: "events", Status: 503, Body: `upstream said: "x-api-key: ` + echo + `"`},
		}
		for name, fault := range answers {
			t.Run(form+"/"+name, func(t *testing.T) {
				reports := handleErrors(t)
				var logs syncBuffer
				logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
				srv := newServer(t, litewavetest.WithCustomer("t1", "c1"), litewavetest.WithAPIKey(echoedKey))
				srv.SetFaultFunc(func(*http.Request, int) litewavetest.Fault { return fault })
				spool := t.TempDir()
				p := newPipeline(t, srv, litewavemetric.WithAPIKey(echoedKey), litewavemetric.WithLogger(logger),
					litewavemetric.WithSpoolDir(spool))
				p.counter("pages").Add(context.Background(), 1, at("t1", "d1"))
				flushErr := p.flushWithin(time.Second)
				require.Error(t, flushErr, "the fault was met")
				shutdownErr := p.shutdownWithin(time.Second)
				shown := map[string]string{"the flush's error": flushErr.Error(), "Shutdown's error": fmt.Sprint(shutdownErr), "the log": logs.String()}
				for i, r := range reports.all() {
					shown[fmt.Sprintf("report %d", i)] = r.Error()
				}
				for i, pk := range p.exp.Rejected() {
					shown[fmt.Sprintf("Rejected()[%d].Reason", i)] = pk.Reason
				}
				db, err := os.ReadFile(filepath.Join(spool, "outbox.db"))
				require.NoError(t, err)
				shown["the spool file"] = string(db)
				redacted := false
				for where, text := range shown {
					redacted = redacted || strings.Contains(text, "[REDACTED]")
					for _, f := range keyForms {
						assert.False(t, strings.Contains(text, f), "%s shows the key as %q", where, f)
					}
				}
				assert.True(t, redacted, "the answer was shown, scrubbed")
			})
		}
	}
}
