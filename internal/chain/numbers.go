package chain

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// maxNumberLen bounds a number's literal: far more digits than any id or
// amount has, few enough that math/big handles one at once.
const maxNumberLen = 100

// numberCheck is what checkNumbers found: the arguments with each refused
// number replaced, a problem line per refused number, and their fields.
type numberCheck struct {
	doc      any
	problems []string
	refused  map[string]bool
}

// checkNumbers refuses the numbers the schema library cannot be trusted
// with. It turns each number into a big.Rat (uniqueItems, integer checks),
// at a cost that grows with the exponent: 1e-999999, which float64 takes
// for 0 and so passes mcp-go, costs tens of milliseconds, a few KB of them
// hold a worker for seconds, and an exponent math/big refuses makes it
// panic. A number is refused when its literal is longer than maxNumberLen,
// or its value is beyond float64's finite range or rounds to 0 without
// being 0; integers past 2^53 (ids) stay exact and accepted.
//
// The schema library then sees, in place of each refused number, a
// stand-in: a number, so that "got number, want string" still shows, and
// one unlike any other, so that uniqueItems finds no false duplicate. The
// arguments themselves are not changed (they are copied where needed).
func checkNumbers(doc any) numberCheck {
	var nc numberCheck
	nc.doc, _ = nc.walk(doc, nil)
	return nc
}

// step is one element of a value's location: a key, or an index when
// index >= 0. Indexes stay ints until a problem names them.
type step struct {
	key   string
	index int
}

// walk returns v with its refused numbers replaced, and whether it
// replaced any.
func (nc *numberCheck) walk(v any, loc []step) (any, bool) {
	switch x := v.(type) {
	case map[string]any:
		var out map[string]any
		for k, e := range x {
			if r, changed := nc.walk(e, append(loc, step{key: k, index: -1})); changed {
				if out == nil {
					out = maps.Clone(x)
				}
				out[k] = r
			}
		}
		if out == nil {
			return v, false
		}
		return out, true
	case []any:
		var out []any
		for i, e := range x {
			if r, changed := nc.walk(e, append(loc, step{index: i})); changed {
				if out == nil {
					out = slices.Clone(x)
				}
				out[i] = r
			}
		}
		if out == nil {
			return v, false
		}
		return out, true
	case json.Number:
		if p := numberProblem(string(x)); p != "" {
			return nc.refuse(loc, p), true
		}
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return nc.refuse(loc, "number out of range: "+strconv.FormatFloat(x, 'g', -1, 64)+" is not finite"), true
		}
	}
	return v, false
}

// refuse records problem for the number at loc and returns its stand-in.
func (nc *numberCheck) refuse(loc []step, problem string) any {
	names := make([]string, len(loc))
	for i, s := range loc {
		names[i] = s.key
		if s.index >= 0 {
			names[i] = strconv.Itoa(s.index)
		}
	}
	field := fieldName(names)
	if nc.refused == nil {
		nc.refused = map[string]bool{}
	}
	nc.refused[field] = true
	nc.problems = append(nc.problems, field+": "+problem)
	// Distinct, cheap for math/big, and not a number anyone sends.
	return json.Number("-" + strconv.Itoa(len(nc.problems)) + ".000000000000000000000000000000001")
}

// numberProblem says why the number literal n is refused, "" when it is
// not.
func numberProblem(n string) string {
	if len(n) > maxNumberLen {
		return fmt.Sprintf("number too long: %d characters, want at most %d", len(n), maxNumberLen)
	}
	f, err := strconv.ParseFloat(n, 64)
	switch {
	case err != nil && !errors.Is(err, strconv.ErrRange), math.IsNaN(f):
		return "not a number: " + n
	case math.IsInf(f, 0):
		return "number out of range: " + n + " is beyond ±1.8e308"
	case f == 0 && nonzero(n):
		// ParseFloat takes a number that rounds to 0 for 0, no error.
		return "number out of range: " + n + " is not 0 but rounds to 0"
	}
	return ""
}

// nonzero reports whether the number literal n has a nonzero digit before
// its exponent.
func nonzero(n string) bool {
	if i := strings.IndexAny(n, "eE"); i >= 0 {
		n = n[:i]
	}
	return strings.ContainsAny(n, "123456789")
}
