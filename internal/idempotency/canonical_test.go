package idempotency

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCanonical(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"object keys are sorted and whitespace dropped", `{ "b": 1, "a" : [ true, false, null ] }`, `{"a":[true,false,null],"b":1}`},
		{"nested objects are sorted too", `{"z":{"y":1,"x":{"b":2,"a":1}}}`, `{"z":{"x":{"a":1,"b":2},"y":1}}`},
		{"keys sort by code point, upper case first", `{"b":1,"B":2,"é":3,"a":4}`, `{"B":2,"a":4,"b":1,"é":3}`},
		{"a later duplicate key wins", `{"a":1,"a":2}`, `{"a":2}`},
		{"an integer stays an integer", `42`, `42`},
		{"a trailing fraction zero is dropped", `1.0`, `1`},
		{"an exponent that makes an integer is written out", `10e-1`, `1`},
		{"an upper-case exponent means the same", `1E2`, `100`},
		{"negative zero is zero", `-0.0e5`, `0`},
		{"a fraction keeps its digits", `-0.50`, `-0.5`},
		{"a millionth is written plainly", `0.0000010`, `0.000001`},
		{"below a millionth goes scientific", `0.00000015`, `1.5e-7`},
		{"a ten-millionth goes scientific", `0.0000001`, `1e-7`},
		{"twenty-one digits stay plain", `1e20`, `100000000000000000000`},
		{"larger numbers go scientific", `1e21`, `1e+21`},
		{"a big integer keeps every digit", `123456789012345678901234567890`, `1.2345678901234567890123456789e+29`},
		{"two big integers that differ stay different", `123456789012345678901234567891`, `1.23456789012345678901234567891e+29`},
		{"a huge exponent cannot overflow", `1e999999999999999999999999`, `1e+999999999999999999999999`},
		{"a tiny exponent cannot overflow", `-25e-999999999999999999999999`, `-2.5e-999999999999999999999998`},
		{"escaped letters are written as letters", `"\u0041\u00e9"`, `"Aé"`},
		{"html characters are not escaped", `"<a&b>"`, `"<a&b>"`},
		{"control characters use short escapes where JSON has them", `"\u0008\t\n\f\r\u0001\u001f"`, `"\b\t\n\f\r\u0001\u001f"`},
		{"quote, backslash and slash", `"\"\\\/"`, `"\"\\/"`},
		{"invalid UTF-8 becomes the replacement character", "\"a\xffb\"", "\"a\uFFFDb\""},
		{"an empty object and array stay empty", `{"a":{},"b":[]}`, `{"a":{},"b":[]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Canonical([]byte(tt.in))
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(got))
			again, err := Canonical(got)
			require.NoError(t, err)
			assert.Equal(t, string(got), string(again), "canonical form must be a fixed point")
		})
	}
}

func TestCanonicalRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
	}{
		{"empty input", ``},
		{"two values", `{} {}`},
		{"trailing garbage", `{"a":1}x`},
		{"an unterminated object", `{"a":1`},
		{"a bare word", `nope`},
		{"a leading plus", `+1`},
		{"a leading zero", `01`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Canonical([]byte(tt.in))
			assert.Error(t, err)
		})
	}
}

// respell writes v as JSON with shuffled keys, random indentation and numbers
// spelled differently, so it must canonicalise exactly as v does.
func respell(buf *bytes.Buffer, v any, r *rand.Rand, depth int) {
	ws := func() {
		buf.WriteString([]string{"", " ", "\n", "\t", "\r\n  "}[r.IntN(5)])
	}
	indent := func() { buf.WriteString("\n" + strings.Repeat("  ", depth%8)) }
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		r.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			indent()
			kb, _ := json.Marshal(k) // escapes <>& differently from Canonical
			buf.Write(kb)
			ws()
			buf.WriteByte(':')
			ws()
			respell(buf, x[k], r, depth+1)
		}
		ws()
		buf.WriteByte('}')
	case []any:
		buf.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				buf.WriteByte(',')
			}
			ws()
			respell(buf, e, r, depth+1)
		}
		buf.WriteByte(']')
	case json.Number:
		s := string(x)
		mant, exp := s, ""
		if i := strings.IndexAny(s, "eE"); i >= 0 {
			mant, exp = s[:i], s[i:]
		}
		if strings.Contains(mant, ".") {
			mant += "0"
		} else {
			mant += ".000"
		}
		buf.WriteString(mant + exp)
	default:
		b, _ := json.Marshal(x)
		buf.Write(b)
	}
}

func FuzzCanonical(f *testing.F) {
	for _, s := range []string{
		`{"channel":"C123","text":"hello","idempotencyKey":"k1"}`,
		`{"a":[1,2.5,-3e10,{"b":null,"a":true}],"c":"\u00e9\n"}`,
		`[1e400, 0.0000001, -0, 12345678901234567890123]`,
		`"just a string"`,
		`{"nested":{"deeper":{"deepest":[[[]]]}}}`,
		`{"":"", "\u0000":"\ud83d\ude00"}`,
	} {
		f.Add([]byte(s), uint64(1))
	}
	f.Fuzz(func(t *testing.T, in []byte, seed uint64) {
		out, err := Canonical(in)
		if err != nil {
			return // any input may be rejected, none may panic
		}
		require.True(t, json.Valid(out), "canonical output is not JSON: %q", out)
		again, err := Canonical(out)
		require.NoError(t, err)
		require.Equal(t, string(out), string(again), "not a fixed point")

		v, err := decodeOne(in)
		require.NoError(t, err)
		var buf bytes.Buffer
		respell(&buf, v, rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), 0)
		other, err := Canonical(buf.Bytes())
		require.NoError(t, err, "respelled: %s", buf.Bytes())
		require.Equal(t, string(out), string(other), "respelled: %s", buf.Bytes())

		h1, err := ArgsHash("tool", in)
		require.NoError(t, err)
		h2, err := ArgsHash("tool", buf.Bytes())
		require.NoError(t, err)
		require.Equal(t, h1, h2)
	})
}
