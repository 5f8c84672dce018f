package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/aiorch/litewavemetric"
)

func lookup(ctx context.Context, out *output, args []string) error {
	f := newFlags("lookup", "litewave lookup TENANT", `
Prints the id of the customer account TENANT is billed to, asked of the
events API (LITEWAVE_ENDPOINT) or, when LITEWAVE_PORTAL_URL is set, of the
portal (with LITEWAVE_API_KEY). It exits 1 when the tenant has no account.`)
	pos, err := f.parse(args, "TENANT")
	if err != nil {
		return err
	}
	tenant := pos[0]
	if err := litewavemetric.ValidateID(tenant); err != nil {
		return f.bad("TENANT takes a tenant id (%s), not %q", idForm, tenant)
	}
	client, err := litewavemetric.NewClient()
	if err != nil {
		return err
	}
	defer client.Close()
	account, err := client.LookupCustomer(ctx, tenant)
	switch {
	case errors.Is(err, litewavemetric.ErrNoCustomer):
		return fmt.Errorf("tenant %s has no customer account (asked GET %s); create it in Litewave, or check the tenant id",
			tenant, lookupURL(tenant))
	case err != nil:
		return fmt.Errorf("lookup of tenant %s (GET %s): %w", tenant, lookupURL(tenant), err)
	}
	fmt.Fprintln(out.stdout, account.ID)
	return nil
}
