package litewavetest_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/aiorch/litewavemetric/litewavetest"
)

func Example() {
	srv := litewavetest.NewServer(litewavetest.WithCustomer("tenant-1", "cus_1"))
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/events",
		strings.NewReader(`{"meter_id":"pages.processed","total_usage":24,"customer_id":"cus_1"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("x-tenant-id", "tenant-1")
	req.Header.Set("x-device-id", "device-a")
	req.Header.Set("Idempotency-Key", "batch-1")

	// srv.Close closes the connection this leaves idle.
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()

	fmt.Println(resp.StatusCode)
	fmt.Println(srv.Totals())
	// Output:
	// 201
	// map[{tenant-1 device-a pages.processed}:24]
}

// A produce through the fake Kafka REST Proxy endpoint, as the exporter's
// REST transport sends it.
func Example_produce() {
	srv := litewavetest.NewServer(litewavetest.WithCustomer("tenant-1", "cus_1"),
		litewavetest.WithTopics("usage-events"))
	defer srv.Close()

	body := `{"records":[{"key":"evt-1","value":{"meter_id":"pages.processed","customer_id":"cus_1",` +
		`"total_usage":24,"tenant_id":"tenant-1","device_id":"device-a"}}]}`
	resp, err := http.Post(srv.URL+"/topics/usage-events",
		"application/vnd.kafka.json.v2+json", strings.NewReader(body))
	if err != nil {
		fmt.Println(err)
		return
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()

	fmt.Println(resp.StatusCode)
	fmt.Println(string(answer))
	fmt.Println(srv.Totals())
	// Output:
	// 200
	// {"offsets":[{"partition":0,"offset":0,"error_code":null,"error":null}],"key_schema_id":null,"value_schema_id":null}
	// map[{tenant-1 device-a pages.processed}:24]
}
