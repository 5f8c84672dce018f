package litewavetest_test

import (
	"fmt"
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

	// srv.Client's idle connections are closed by srv.Close.
	resp, err := srv.Client().Do(req)
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
