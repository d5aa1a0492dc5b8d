package api

import (
	"math"
)

// intVariables turns the whole numbers of decoded JSON variables (float64, as
// encoding/json decodes every number into an any) into int64, recursively.
// gqlparser accepts a whole float64 for an Int variable but gqlgen's Int
// unmarshaler does not, so without this every Int variable sent in a POST body
// failed ("float64 is not an int"). Float variables take int64 as well.
func intVariables(v any) any {
	switch v := v.(type) {
	case float64:
		if v == math.Trunc(v) && math.Abs(v) <= 1<<53-1 {
			return int64(v)
		}
	case map[string]any:
		for k, x := range v {
			v[k] = intVariables(x)
		}
	case []any:
		for i, x := range v {
			v[i] = intVariables(x)
		}
	}
	return v
}
