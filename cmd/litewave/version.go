package main

import (
	"context"
	"fmt"

	"github.com/aiorch/litewavemetric"
)

func version(_ context.Context, out *output, args []string) error {
	f := newFlags("version", "litewave version", `
Prints the version of the litewavemetric library this command is built
from (see its CHANGELOG.md).`)
	if _, err := f.parse(args); err != nil {
		return err
	}
	fmt.Fprintf(out.stdout, "litewave %s\n", litewavemetric.Version)
	return nil
}
