package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/aiorch/litewavemetric/litewavetest"
)

func dev(ctx context.Context, out *output, args []string) error {
	f := newFlags("dev", "litewave dev [--addr 127.0.0.1:8080] [--customer TENANT=ID ...] [--redpanda]", `
Serves a local stand-in for Litewave (the litewavetest fake): the events
API, customer lookups on the API and portal paths, and a Kafka REST Proxy
produce endpoint, with a live page of the usage billed per tenant, device
and meter at /. It prints the variables to point a program at it, and
stops on Ctrl-C (SIGINT) or SIGTERM. It keeps everything in memory.`)
	addr := f.String("addr", "127.0.0.1:8080", "the address to listen on, `HOST:PORT` (port 0 picks a free one)")
	var customers customerFlag
	f.Var(&customers, "customer", "a tenant and its customer id, `TENANT=ID` (repeatable): only the tenants given have an account; without it every tenant has the customer cus_<tenant>")
	redpanda := f.Bool("redpanda", false, "answer produces as Redpanda's HTTP proxy does, instead of as Confluent's REST Proxy")
	if _, err := f.parse(args); err != nil {
		return err
	}

	opts := []litewavetest.Option{litewavetest.WithAnyTenant()}
	if len(customers) > 0 {
		opts = nil
		for _, c := range customers {
			opts = append(opts, litewavetest.WithCustomer(c.tenant, c.id))
		}
	}
	if *redpanda {
		opts = append(opts, litewavetest.WithRedpandaAnswers())
	}
	fake := litewavetest.NewHandler(opts...)
	defer fake.Close()

	l, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("dev: %w; is another server using it? Choose another with --addr", err)
	}
	srv := &http.Server{Handler: devHandler(fake), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	banner(out, baseURL(l.Addr()), customers, *redpanda)

	select {
	case err := <-served:
		return fmt.Errorf("dev: serving on %s: %w", l.Addr(), err)
	case <-ctx.Done():
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(stopCtx); err != nil {
		return fmt.Errorf("dev: stopping: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("dev: serving on %s: %w", l.Addr(), err)
	}
	fmt.Fprintln(out.stdout, "litewave dev: stopped")
	return nil
}

// baseURL is the server's URL as a program on this machine reaches it.
func baseURL(a net.Addr) string {
	host, port, _ := net.SplitHostPort(a.String())
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1" // listening on every interface, loopback among them
	}
	return "http://" + net.JoinHostPort(host, port)
}

func banner(out *output, base string, customers customerFlag, redpanda bool) {
	who := "every tenant has the customer cus_<tenant>"
	if len(customers) > 0 {
		who = "only " + customers.String() + " (other tenants have no account)"
	}
	proxy := "Confluent's REST Proxy"
	if redpanda {
		proxy = "Redpanda's HTTP proxy"
	}
	// The portal wants an API key, any key here: without one, a program
	// pointed at the portal would have every lookup refused.
	fmt.Fprintf(out.stdout, `litewave dev: a local stand-in for Litewave at %[1]s
  page:        %[1]s/ (billed usage, live)
  events API:  POST /api/v1/events
  lookups:     GET /api/v1/customer-accounts/tenant/{tenant} and /metering/v1alpha1/customer-accounts/tenant/{tenant}
               %[2]s
  REST Proxy:  POST /topics/{topic}, answered as %[3]s does

Point a program at it (add LITEWAVE_BACKEND=kafka-rest to bill through the REST Proxy endpoint):
export LITEWAVE_ENDPOINT=%[1]s LITEWAVE_KAFKA_REST_URL=%[1]s LITEWAVE_PORTAL_URL=%[1]s LITEWAVE_API_KEY=dev

Stop it with Ctrl-C.
`, base, who, proxy)
}

// customerFlag collects --customer TENANT=ID.
type customerFlag []struct{ tenant, id string }

func (c *customerFlag) String() string {
	if c == nil {
		return ""
	}
	var parts []string
	for _, e := range *c {
		parts = append(parts, e.tenant+"="+e.id)
	}
	return strings.Join(parts, ", ")
}

func (c *customerFlag) Set(v string) error {
	tenant, id, ok := strings.Cut(v, "=")
	if !ok || tenant == "" || id == "" {
		return fmt.Errorf("%q is not TENANT=ID", v)
	}
	*c = append(*c, struct{ tenant, id string }{tenant, id})
	return nil
}
