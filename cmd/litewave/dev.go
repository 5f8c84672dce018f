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
	f := newFlags("dev", "litewave dev [--addr 127.0.0.1:8080] [--kafka-port 9092] [--customer TENANT=ID ...] [--redpanda]", `
Serves a local stand-in for Litewave (the litewavetest fake): the events
API, customer lookups on the API and portal paths, and a Kafka REST Proxy
produce endpoint; and a Kafka broker on 127.0.0.1 with the usage topic
(usage-events) and the checkpoint topic the exporter's Kafka transactions
need (usage-events.checkpoints). A live page at / shows the usage billed
through each, per tenant, device and meter; Kafka's is what a
read_committed consumer reads. It prints the variables to point a program
at it, and stops on Ctrl-C (SIGINT) or SIGTERM. It keeps everything in
memory.`)
	addr := f.hostPort("addr", "127.0.0.1:8080", "the address to listen on, `HOST:PORT` (port 0 picks a free one)")
	kafkaPort := f.port("kafka-port", 9092, "the Kafka broker's `PORT`, on 127.0.0.1 only (0 picks a free one)")
	var customers customerFlag
	f.check("customer", "TENANT=ID, e.g. acme=cus_42", "", "a tenant and its customer id, `TENANT=ID` (repeatable): only the tenants given have an account; without it every tenant has the customer cus_<tenant>",
		customers.add)
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
	kafka, err := startKafka(*kafkaPort)
	if err != nil {
		_ = l.Close()
		return fmt.Errorf("dev: Kafka: %w; is another server using it? Choose another with --kafka-port (0 picks a free one)", err)
	}
	srv := &http.Server{Handler: devHandler(fake, kafka), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	banner(out, baseURL(l.Addr()), kafka, customers, *redpanda)

	var stopped error
	select {
	case err := <-served:
		stopped = fmt.Errorf("dev: serving on %s: %w", l.Addr(), err)
	case <-ctx.Done():
		stopped = stopServing(srv, served, l.Addr())
	}
	kafka.close()
	if stopped != nil {
		return stopped
	}
	fmt.Fprintln(out.stdout, "litewave dev: stopped")
	return nil
}

// stopServing lets requests in progress finish, for up to 5 s.
func stopServing(srv *http.Server, served <-chan error, addr net.Addr) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("dev: stopping: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("dev: serving on %s: %w", addr, err)
	}
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

func banner(out *output, base string, kafka *devKafka, customers customerFlag, redpanda bool) {
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
  Kafka:       %[4]s (loopback only), topics %[5]s (%[6]d partitions) and %[7]s; the page shows what a read_committed consumer reads

Point a program at it. It bills through the events API; add LITEWAVE_BACKEND=kafka-rest
to bill through the REST Proxy, or LITEWAVE_BACKEND=kafka to bill through Kafka:
export LITEWAVE_ENDPOINT=%[1]s LITEWAVE_KAFKA_REST_URL=%[1]s LITEWAVE_KAFKA_BROKERS=%[4]s LITEWAVE_PORTAL_URL=%[1]s LITEWAVE_API_KEY=dev

Stop it with Ctrl-C.
`, base, who, proxy, kafka.addr, devTopic, devPartitions, devCheckpointTopic)
}

// customerFlag collects --customer TENANT=ID.
type customerFlag []struct{ tenant, id string }

func (c customerFlag) String() string {
	var parts []string
	for _, e := range c {
		parts = append(parts, e.tenant+"="+e.id)
	}
	return strings.Join(parts, ", ")
}

// add adds v, TENANT=ID, unless it is not of that form.
func (c *customerFlag) add(v string) bool {
	tenant, id, ok := strings.Cut(v, "=")
	if !ok || tenant == "" || id == "" {
		return false
	}
	*c = append(*c, struct{ tenant, id string }{tenant, id})
	return true
}
