package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aiorch/litewavemetric"
)

func post(ctx context.Context, out *output, args []string) error {
	f := newFlags("post", "litewave post --tenant T --device D --meter M --usage N", `
Bills N units of meter M for tenant T and device D, once, through the
configured backend (LITEWAVE_BACKEND: the events API at LITEWAVE_ENDPOINT by
default, the Kafka REST Proxy at LITEWAVE_KAFKA_REST_URL, or Kafka at
LITEWAVE_KAFKA_BROKERS), as meter-lib's
post_meter_usage does. The tenant's customer id is looked up first. Prints
the backend's answer as JSON. It makes one attempt: a failure exits 1 and
nothing is retried.`)
	tenant := f.id("tenant", "a tenant id", "the tenant's `ID` (required)")
	device := f.id("device", "a device id", "the device's `ID` (required)")
	meter := f.text("meter", "a meter id", "the meter's `ID` (required)")
	units := f.units("usage", "units to bill, a whole number `N` of 0 or more (required)")
	if _, err := f.parse(args); err != nil {
		return err
	}
	if err := f.require("tenant", "device", "meter", "usage"); err != nil {
		return err
	}
	client, err := litewavemetric.NewClient()
	if err != nil {
		return err
	}
	defer client.Close()
	answer, err := client.PostMeterUsage(ctx, *tenant, *device, *meter, *units)
	if err != nil {
		return fmt.Errorf("post of %d units of %s for tenant %s, device %s, to %s: %w",
			*units, *meter, *tenant, *device, backendName(), err)
	}
	enc := json.NewEncoder(out.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(answer)
}
