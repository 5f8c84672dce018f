package main

import (
	"net/url"
	"os"
	"strings"

	"github.com/aiorch/litewavemetric"
	"github.com/aiorch/litewavemetric/internal/accounts"
)

// The library reads the environment itself; these read it only to say, in
// messages, where a command asked. Call them after the library accepted
// the configuration, so that the URLs are valid and hold no credentials.

func env(name string) string { return strings.TrimSpace(os.Getenv(name)) }

func envOr(name, fallback string) string {
	if v := env(name); v != "" {
		return v
	}
	return fallback
}

// lookupURL is where the library asks for tenant's customer account: the
// portal when LITEWAVE_PORTAL_URL is set, else the events API.
func lookupURL(tenant string) string {
	base, path := envOr(litewavemetric.EnvEndpoint, litewavemetric.DefaultEndpoint), accounts.EventsAPIPath
	if portal := env(litewavemetric.EnvPortalURL); portal != "" {
		base, path = portal, accounts.PortalPath
	}
	return strings.TrimSuffix(base, "/") + path + url.PathEscape(tenant)
}

// backendName says which backend usage goes to, and where.
func backendName() string {
	switch b := envOr(litewavemetric.EnvBackend, litewavemetric.BackendEvents); b {
	case litewavemetric.BackendEvents:
		return "the events API at " + envOr(litewavemetric.EnvEndpoint, litewavemetric.DefaultEndpoint)
	case litewavemetric.BackendKafkaREST:
		return "the Kafka REST Proxy at " + env(litewavemetric.EnvKafkaRESTURL) +
			" (topic " + envOr(litewavemetric.EnvKafkaTopic, litewavemetric.DefaultKafkaTopic) + ")"
	default:
		return "the " + b + " backend"
	}
}
