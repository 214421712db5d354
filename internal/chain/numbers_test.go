package chain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/schemas"
)

// numbersValidator is the validator of the real tools' input schemas.
func numbersValidator(t *testing.T) *Validator {
	t.Helper()
	inputs := map[string][]byte{}
	for _, n := range []string{"createTicket", "writeAudit"} {
		in, err := schemas.Input(n)
		require.NoError(t, err)
		inputs[n] = in
	}
	v, err := NewValidator(inputs)
	require.NoError(t, err)
	return v
}

// decodeExact decodes args as mcpserver does, numbers as json.Number.
func decodeExact(t *testing.T, args string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(args)))
	dec.UseNumber()
	var out map[string]any
	require.NoError(t, dec.Decode(&out))
	return out
}

// jsonList joins n values made by f into a JSON array.
func jsonList(n int, f func(i int) string) string {
	vals := make([]string, n)
	for i := range vals {
		vals[i] = f(i)
	}
	return "[" + strings.Join(vals, ",") + "]"
}

// TestValidateRefusesNumbersTheSchemaLibraryCannotAfford: a number whose
// literal is too long, or whose value is beyond float64 or rounds to 0
// without being 0, is refused by field before the schema library turns it
// into a big.Rat (slow, or a panic); the other problems are listed as
// before, and numbers float64 can hold, exact integers past 2^53 included,
// stay valid.
func TestValidateRefusesNumbersTheSchemaLibraryCannotAfford(t *testing.T) {
	t.Parallel()
	v := numbersValidator(t)
	long := "1" + strings.Repeat("0", maxNumberLen)
	tests := []struct {
		name     string
		tool     string
		args     string
		problems []string // nil when valid
	}{
		{"an integer past 2^53 is valid", "writeAudit",
			`{"provider":"p","action":"a","target":"t","details":{"id":9007199254740993}}`, nil},
		{"an integer of 100 digits is valid", "writeAudit",
			`{"provider":"p","action":"a","target":"t","details":{"id":` + long[:maxNumberLen] + `}}`, nil},
		{"the smallest and largest float64 are valid", "writeAudit",
			`{"provider":"p","action":"a","target":"t","details":{"f":[5e-324,-1.7976931348623157e308,1e-310]}}`, nil},
		{"a zero with a huge exponent is 0, and valid", "writeAudit",
			`{"provider":"p","action":"a","target":"t","details":{"f":[0e-1000000000,-0.0e999999999]}}`, nil},
		{"a literal over 100 characters is refused", "writeAudit",
			`{"provider":"p","action":"a","target":"t","details":{"id":` + long + `}}`,
			[]string{"details.id: number too long: 101 characters, want at most 100"}},
		{"a number beyond float64 is refused", "writeAudit",
			`{"provider":"p","action":"a","target":"t","details":{"f":[1,-1e400]}}`,
			[]string{"details.f[1]: number out of range: -1e400 is beyond ±1.8e308"}},
		{"a number that rounds to 0 is refused", "writeAudit",
			`{"provider":"p","action":"a","target":"t","details":{"f":2.4e-324}}`,
			[]string{"details.f: number out of range: 2.4e-324 is not 0 but rounds to 0"}},
		{"a refused number keeps its type problem, and other problems stay", "createTicket",
			`{"repo":"a/b","labels":["x",1e-999999,"x"]}`,
			[]string{
				"labels: items at 0 and 2 are equal",
				"labels[1]: got number, want string",
				"labels[1]: number out of range: 1e-999999 is not 0 but rounds to 0",
				"title: is required",
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := v.Check(tt.tool, decodeExact(t, tt.args))
			if tt.problems == nil {
				assert.NoError(t, err)
				return
			}
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, KindInvalid, e.Kind)
			assert.Equal(t, "invalid arguments for "+tt.tool+": "+strings.Join(tt.problems, "; "), e.Message)
		})
	}
}

// TestValidateRefusesManyTinyNumbersInASetAtOnce: over 20 items the schema
// library hashes uniqueItems' numbers through math/big, which takes tens of
// milliseconds for 1e-999999 and panics for 1e-1000000000. Such a list is
// refused at once, each number by field, with no false duplicate from the
// numbers' stand-ins, and the caller's arguments are left as they were.
func TestValidateRefusesManyTinyNumbersInASetAtOnce(t *testing.T) {
	t.Parallel()
	v := numbersValidator(t)
	for _, exp := range []string{"e-999999", "e-1000000000"} {
		t.Run(exp, func(t *testing.T) {
			t.Parallel()
			args := decodeExact(t, `{"repo":"a/b","title":"t","labels":`+
				jsonList(400, func(i int) string { return fmt.Sprint(i+1) + exp })+`}`)
			start := time.Now()
			err := v.Check("createTicket", args)
			assert.Less(t, time.Since(start), time.Second)
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, KindInvalid, e.Kind)
			assert.Contains(t, e.Message, "labels: maxItems: got 400, want 20")
			assert.Contains(t, e.Message, "labels[0]: got number, want string")
			assert.Contains(t, e.Message, "labels[399]: number out of range: 400"+exp+" is not 0 but rounds to 0")
			assert.NotContains(t, e.Message, "are equal")
			assert.Equal(t, json.Number("1"+exp), args["labels"].([]any)[0], "the caller's arguments are unchanged")
		})
	}
}

// TestValidateTurnsAPanicOfTheSchemaLibraryIntoAnError: should the schema
// library still panic on some value, the call is refused (validation runs
// before anything is sent), not left to the chain to report as a bug that
// may have taken effect.
func TestValidateTurnsAPanicOfTheSchemaLibraryIntoAnError(t *testing.T) {
	t.Parallel()
	v := numbersValidator(t)
	// What Check refuses before the library sees it: math/big refuses the
	// exponent, and the library's uniqueItems hash dereferences nil.
	doc := decodeExact(t, `{"repo":"a/b","title":"t","labels":`+
		jsonList(21, func(i int) string { return fmt.Sprint(i+1) + "e-1000000000" })+`}`)
	var err error
	require.NotPanics(t, func() { err = validateRecovered(v.schemas["createTicket"], doc) })
	require.ErrorIs(t, err, errUncheckable)
	assert.Contains(t, err.Error(), "could not be checked against the schema: runtime error")
}
