package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/aiorch/litewavemetric/internal/spool"
)

func spoolInspect(_ context.Context, out *output, args []string) error {
	f := newFlags("spool inspect", "litewave spool inspect DIR", `
Shows what the spool in DIR (an exporter's LITEWAVE_SPOOL_DIR) holds, per
tenant, device and meter: usage waiting to be sent (owed events and open
usage) and usage the backend rejected, with its reason. It only
reads: it changes nothing, and it cannot read a spool a running exporter
holds (exit 1); inspect a copy of the directory instead.`)
	pos, err := f.parse(args, "DIR")
	if err != nil {
		return err
	}
	h, err := inspect(pos[0])
	if err != nil {
		return err
	}
	h.print(out.stdout, pos[0])
	return nil
}

// inspect reads the spool in dir, read-only, with errors that say what to
// do.
func inspect(dir string) (holdings, error) {
	in, err := spool.Inspect(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return holdings{}, fmt.Errorf("no spool at %s: there is no %s in it (an exporter with LITEWAVE_SPOOL_DIR=%s creates one)",
			dir, spool.FileName, dir)
	case errors.Is(err, spool.ErrLocked):
		return holdings{}, fmt.Errorf("the spool at %s is in use by a running exporter; stop it first, or inspect a copy of the directory", dir)
	case err != nil:
		return holdings{}, fmt.Errorf("spool %s: %w", filepath.Join(dir, spool.FileName), err)
	}
	return summarize(in), nil
}
