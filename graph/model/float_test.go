package model_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"testing"

	"policygraph/graph/model"
)

// TestMarshalFloatFixedNotation: Floats are written in fixed notation, with
// the digits that read back as the same number; NaN and infinities are refused.
func TestMarshalFloatFixedNotation(t *testing.T) {
	for _, tt := range []struct {
		in   float64
		want string
	}{
		{2850000000, "2850000000"},
		{300000000000, "300000000000"},
		{410000000, "410000000"},
		{1e21, "1000000000000000000000"},
		{0.3333, "0.3333"},
		{0.0000001, "0.0000001"},
		{20000, "20000"},
		{-1.5e9, "-1500000000"},
		{0, "0"},
	} {
		var b bytes.Buffer
		if err := model.MarshalFloatContext(tt.in).MarshalGQLContext(context.Background(), &b); err != nil {
			t.Fatalf("%v: %v", tt.in, err)
		}
		if b.String() != tt.want {
			t.Errorf("%v is written %s, want %s", tt.in, b.String(), tt.want)
		}
		var back float64
		if err := json.Unmarshal(b.Bytes(), &back); err != nil || back != tt.in {
			t.Errorf("%s reads back as %v (%v), want %v", b.String(), back, err, tt.in)
		}
	}
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if err := model.MarshalFloatContext(bad).MarshalGQLContext(context.Background(), &bytes.Buffer{}); err == nil {
			t.Errorf("%v was written", bad)
		}
	}
}
