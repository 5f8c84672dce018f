package accounts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aiorch/litewavemetric/internal/usage"
)

// noAccountAnswer reports whether the body of a lookup's 404 is the API's
// own answer for a tenant without an account, {"detail": "customer account
// not found"}, rather than a server's or a proxy's answer for a path it
// does not serve ({"detail": "Not Found"}, "404 page not found", HTML).
func noAccountAnswer(body string) bool {
	var ans struct {
		Detail string `json:"detail"`
	}
	if json.Unmarshal([]byte(body), &ans) != nil {
		return false
	}
	return strings.Contains(strings.ToLower(ans.Detail), "customer account")
}

// errEmptyList means the backend answered with an empty list of accounts.
var errEmptyList = errors.New("empty list of customer accounts")

// CustomerID extracts the customer id from a lookup answer, which is either
// one account object or a list of them (the first is used). The id may be
// a JSON string or number; anything else is an error that says what was
// wrong with the answer, never a silent empty id.
func CustomerID(body []byte) (id string, account json.RawMessage, err error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return "", nil, errors.New("empty answer")
	}
	account = body
	if body[0] == '[' {
		var list []json.RawMessage
		if err := json.Unmarshal(body, &list); err != nil {
			return "", nil, fmt.Errorf("answer is not a JSON list of accounts: %w", err)
		}
		if len(list) == 0 {
			return "", nil, errEmptyList
		}
		account = bytes.TrimSpace(list[0])
	}
	if len(account) == 0 || account[0] != '{' {
		return "", nil, errors.New("account is not a JSON object")
	}
	var obj struct {
		ID json.RawMessage `json:"id"`
	}
	if err := json.Unmarshal(account, &obj); err != nil {
		return "", nil, fmt.Errorf("account is not valid JSON: %w", err)
	}
	id, err = scalarID(obj.ID)
	if err != nil {
		return "", nil, err
	}
	if len(id) > usage.MaxCustomerLength {
		return "", nil, fmt.Errorf(`account "id" is %d bytes, longer than %d`, len(id), usage.MaxCustomerLength)
	}
	return id, account, nil
}

func scalarID(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", errors.New(`account has no "id"`)
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf(`account "id" is not a valid string: %w`, err)
		}
		if strings.TrimSpace(s) == "" {
			return "", errors.New(`account "id" is empty`)
		}
		return s, nil
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return "", fmt.Errorf(`account "id" is not a valid number: %w`, err)
		}
		return n.String(), nil
	}
	return "", fmt.Errorf(`account "id" is neither a string nor a number: %.40s`, raw)
}
