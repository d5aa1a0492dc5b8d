package model

import (
	"context"
	"errors"
	"io"
	"math"
	"strconv"

	"github.com/99designs/gqlgen/graphql"
)

// The schema's Float, bound in gqlgen.yml as FloatContext: gqlgen's own
// writes "%g", which prints a whole amount of a million or more in
// exponent notation (2.85e+09 for the 2.85 billion yuan the article states,
// 3e+11 for 300 billion). A JSON number may be written either way, but
// analysts read the answers, and CSV cells keep the digits the answer has:
// so a Float is written in fixed notation with the fewest digits that read
// back as the same float64 (2850000000, 0.3333).

// MarshalFloatContext writes f in fixed notation; NaN and infinities, which
// JSON cannot hold, are an error, as in gqlgen's own.
func MarshalFloatContext(f float64) graphql.ContextMarshaler {
	return graphql.ContextWriterFunc(func(_ context.Context, w io.Writer) error {
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return errors.New("cannot marshal infinite or NaN float values")
		}
		_, err := io.WriteString(w, FormatFloat(f))
		return err
	})
}

// UnmarshalFloatContext reads a Float argument or variable as gqlgen's own
// does.
func UnmarshalFloatContext(ctx context.Context, v any) (float64, error) {
	return graphql.UnmarshalFloatContext(ctx, v)
}

// FormatFloat is f in fixed notation, with the fewest digits that read back
// as f: 2850000000, 0.3333, 20000.
func FormatFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
