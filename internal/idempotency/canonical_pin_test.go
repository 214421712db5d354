package idempotency

import (
	"bytes"
	"encoding/json"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The outputs below are the canonical and hash forms, and the argument
// hashes, as they were when they were pinned. A derived key is the hash of
// a call: if any byte moved, a call retried across the change would no
// longer find its claim and would act twice.

func TestCanonicalAndHashFormsOfJSONTextStayAsPinned(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		raw       string
		canonical string // Canonical(raw)
		hash      string // writeHash of raw decoded
	}{
		{"null", `null`, `null`, `null`},
		{"true", `true`, `true`, `true`},
		{"false", `false`, `false`, `false`},
		{"an empty string", `""`, `""`, `""`},
		{"an empty object", `{}`, `{}`, `{}`},
		{"an empty array", `[]`, `[]`, `[]`},
		{"an array of empty values", `[[],{},"",null]`, `[[],{},"",null]`, `[[],{},"",null]`},
		{"nested objects and arrays are sorted at every depth",
			`{"z":{"y":[1,{"b":2,"a":[true,null]}],"x":{}},"a":[]}`,
			`{"a":[],"z":{"x":{},"y":[1,{"a":[true,null],"b":2}]}}`,
			`{"a":[],"z":{"x":{},"y":[1,{"a":[true,null],"b":2}]}}`},
		{"a string in NFC", `"\u00e9"`, "\"\u00e9\"", "\"\u00e9\""},
		{"a string in NFD is kept by Canonical and composed by the hash", `"e\u0301"`, "\"e\u0301\"", "\"\u00e9\""},
		{"keys in NFD sort by their NFC form in the hash",
			`{"e\u0301":"Cafe\u0301","\u00e9t\u00e9":"x","B":1,"a":2}`,
			"{\"B\":1,\"a\":2,\"e\u0301\":\"Cafe\u0301\",\"\u00e9t\u00e9\":\"x\"}",
			"{\"B\":1,\"a\":2,\"\u00e9\":\"Caf\u00e9\",\"\u00e9t\u00e9\":\"x\"}"},
		{"keys that collide once composed stay as they are",
			`{"\u00e9":"1","e\u0301":"2"}`,
			"{\"e\u0301\":\"2\",\"\u00e9\":\"1\"}",
			"{\"e\u0301\":\"2\",\"\u00e9\":\"1\"}"},
		{"singletons and marks out of order are normalized by the hash",
			`["\u212b","A\u030a","\u1e9b\u0323"]`,
			"[\"\u212b\",\"A\u030a\",\"\u1e9b\u0323\"]",
			"[\"\u00c5\",\"\u00c5\",\"\u1e9b\u0323\"]"},
		{"zero", `0`, `0`, `0`},
		{"negative zero", `-0`, `0`, `0`},
		{"negative zero with a fraction and an exponent", `-0.0e5`, `0`, `0`},
		{"an integer", `42`, `42`, `42`},
		{"a zero fraction", `1.0`, `1`, `1`},
		{"a negative exponent making an integer", `10e-1`, `1`, `1`},
		{"an upper-case exponent", `1E2`, `100`, `100`},
		{"a negative fraction", `-0.50`, `-0.5`, `-0.5`},
		{"a millionth", `0.0000010`, `0.000001`, `0.000001`},
		{"below a millionth", `0.00000015`, `1.5e-7`, `1.5e-7`},
		{"twenty-one digits", `1e20`, `100000000000000000000`, `100000000000000000000`},
		{"twenty-two digits", `1e21`, `1e+21`, `1e+21`},
		{"a big integer", `123456789012345678901234567890`, `1.2345678901234567890123456789e+29`, `1.2345678901234567890123456789e+29`},
		{"an integer past 2^53", `9007199254740993`, `9007199254740993`, `9007199254740993`},
		{"a huge exponent", `1e999999999999999999999999`, `1e+999999999999999999999999`, `1e+999999999999999999999999`},
		{"a tiny exponent", `-25e-999999999999999999999998`, `-2.5e-999999999999999999999997`, `-2.5e-999999999999999999999997`},
		{"below float64", `1e-400`, `1e-400`, `1e-400`},
		{"a large float", `1.5e+300`, `1.5e+300`, `1.5e+300`},
		{"escapes, html and a line separator",
			`"\"\\\/\u0008\t\n\f\r\u0001\u001f<a&b>\u2028"`,
			"\"\\\"\\\\/\\b\\t\\n\\f\\r\\u0001\\u001f<a&b>\u2028\"",
			"\"\\\"\\\\/\\b\\t\\n\\f\\r\\u0001\\u001f<a&b>\u2028\""},
		{"invalid UTF-8", "\"a\xffb\"", "\"a\ufffdb\"", "\"a\ufffdb\""},
		{"a surrogate pair", `"\ud83d\ude00"`, "\"\U0001f600\"", "\"\U0001f600\""},
		{"an empty key and a NUL key", `{"":"","\u0000":[]}`, `{"":"","\u0000":[]}`, `{"":"","\u0000":[]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Canonical([]byte(tt.raw))
			require.NoError(t, err)
			assert.Equal(t, tt.canonical, string(got), "canonical form")
			v, err := decodeOne([]byte(tt.raw))
			require.NoError(t, err)
			var buf bytes.Buffer
			require.NoError(t, writeHash(&buf, v))
			assert.Equal(t, tt.hash, buf.String(), "hash form")
		})
	}
}

func TestHashFormsOfGoValuesStayAsPinned(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		v       any
		want    string
		wantErr string
	}{
		{"a float64 fraction", 1.5, `1.5`, ""},
		{"a float64 integer", 100.0, `100`, ""},
		{"a float64 of twenty-two digits", 1e21, `1e+21`, ""},
		{"a float64 of twenty-one digits", 1e20, `100000000000000000000`, ""},
		{"a float64 tenth", 0.1, `0.1`, ""},
		{"a float64 negative zero", math.Copysign(0, -1), `0`, ""},
		{"a float64 ten-millionth", 1e-7, `1e-7`, ""},
		{"the smallest float64", 5e-324, `5e-324`, ""},
		{"the largest float64", math.MaxFloat64, `1.7976931348623157e+308`, ""},
		{"a float64 of 2^53", float64(1 << 53), `9007199254740992`, ""},
		{"a json.Number", json.Number("1.50"), `1.5`, ""},
		{"a value already hashed", hashed(`["a","b"]`), `["a","b"]`, ""},
		{"a Go map of mixed values",
			map[string]any{"b": []any{1.5, json.Number("2"), nil, true, "e\u0301"}, "a": map[string]any{}, "\u00e9": "x"},
			"{\"a\":{},\"b\":[1.5,2,null,true,\"\u00e9\"],\"\u00e9\":\"x\"}", ""},
		{"Go map keys that collide once composed", map[string]any{"\u00e9": "1", "e\u0301": "2"}, "{\"e\u0301\":\"2\",\"\u00e9\":\"1\"}", ""},
		{"a Go string of invalid UTF-8", "a\xffb", "\"a\ufffdb\"", ""},
		{"a Go string in NFD ending in invalid UTF-8", "e\u0301\xff", "\"\u00e9\ufffd\"", ""},
		{"a Go int", 7, "", errNotJSONValue.Error()},
		{"a Go int64 in an array", []any{int64(1)}, "", errNotJSONValue.Error()},
		{"a struct in a map", map[string]any{"a": struct{}{}}, "", errNotJSONValue.Error()},
		{"a key of invalid UTF-8", map[string]any{"a\xff": 1.0}, "", errNotJSONValue.Error()},
		{"a json.Number that is not a number", json.Number("1x"), "", `canonical json: bad number "1x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			err := writeHash(&buf, tt.v)
			if tt.wantErr != "" {
				assert.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, buf.String())
		})
	}
}

func TestArgsHashesStayAsPinned(t *testing.T) {
	t.Parallel()
	form, err := NewCallForm([]byte(formSchema), "body", "labels", "details")
	require.NoError(t, err)
	tests := []struct {
		name string
		form *CallForm
		args any
		want string
	}{
		{"a call form with a set, an ordered list, an object and NFD text", form,
			json.RawMessage(`{"title":"Cafe\u0301","labels":["ui","bug","\u00e9"],"steps":[2,1.0],"limits":{"n":2},"status":"closed","details":{"x":[]}}`),
			"7cc077afbd5f3b22682c36f580b4c2d2548d5db595f93f39199ac94ebd3b34cf"},
		{"a call form given a Go map with an int and a key", form,
			map[string]any{"title": "x", "labels": []any{"b", "a"}, "n": 7, "idempotencyKey": "k"},
			"efb03cd7e8e5f7e6b9429179d77ea95f02be3b064a13814a8b0a083a654fd5b3"},
		{"no arguments", nil, nil, "c277c62dc4a00825f5e8ddbaf449c64e79a4f665924f450da81a9c31e7a392eb"},
		{"null arguments", nil, json.RawMessage(`null`), "c277c62dc4a00825f5e8ddbaf449c64e79a4f665924f450da81a9c31e7a392eb"},
		{"arguments that are an array", nil, json.RawMessage(`[1,"e\u0301"]`), "7464a8cb03c4f8eec22755717f24cf5efde2b8df93698a7042f6b6cbcc89224d"},
		{"a Go map with an int and NFD text", nil, map[string]any{"n": 7, "s": "e\u0301"}, "5aa9f2417409a2d3a64c9e7bb3f0879746fef449a0423aff48220b3858eb3d13"},
		{"raw arguments with the key and an excluded field", nil, json.RawMessage(`{"a":1,"skip":2,"idempotencyKey":"k"}`), "916fd2169e5f45d03d8741ed0263c850cff8a8dfaa8c61d1d8a20045e76ac68f"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := argsHash("t", tt.args, tt.form, []string{"skip"})
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}
