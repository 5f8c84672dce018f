package main

import (
	"net/url"
	"os"
	"strings"

	"github.com/aiorch/litewavemetric"
	"github.com/aiorch/litewavemetric/internal/accounts"
	"github.com/aiorch/litewavemetric/internal/config"
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
	base, path := envOr(config.Endpoint.Env, config.Endpoint.Default), accounts.EventsAPIPath
	if portal := env(config.PortalURL.Env); portal != "" {
		base, path = portal, accounts.PortalPath
	}
	return strings.TrimSuffix(base, "/") + path + url.PathEscape(tenant)
}

// backendName says which backend usage goes to, and where.
func backendName() string {
	switch b := envOr(config.Backend.Env, config.Backend.Default); b {
	case litewavemetric.BackendEvents:
		return "the events API at " + envOr(config.Endpoint.Env, config.Endpoint.Default)
	case litewavemetric.BackendKafkaREST:
		return "the Kafka REST Proxy at " + env(config.KafkaRESTURL.Env) +
			" (topic " + envOr(config.KafkaTopic.Env, config.KafkaTopic.Default) + ")"
	default:
		return "the " + b + " backend"
	}
}
