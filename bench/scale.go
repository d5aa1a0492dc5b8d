package bench

import (
	"context"
	"errors"
	"io"
)

func runScale(ctx context.Context, o Options, out, stderr io.Writer) error {
	return errors.New("todo")
}
