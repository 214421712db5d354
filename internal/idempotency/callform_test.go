package idempotency

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/saas-mcp/saas-mcp/schemas"
)

// formSchema has a default, a set, an ordered list and free-form details.
const formSchema = `{
  "type": "object",
  "properties": {
    "title": {"type": "string"},
    "body": {"type": "string"},
    "status": {"type": "string", "default": "open"},
    "limits": {"type": "object", "default": {"n": 1}},
    "labels": {"type": "array", "uniqueItems": true},
    "steps": {"type": "array"},
    "details": {"type": "object"}
  },
  "required": ["title"]
}`

func TestCallFormTakesEverySpellingOfOneCallForTheSameCall(t *testing.T) {
	t.Parallel()
	form, err := NewCallForm([]byte(formSchema), "body", "labels", "details")
	require.NoError(t, err)
	base := `{"title":"Café","labels":["bug","ui"],"steps":["a","b"]}`
	tests := []struct {
		name string
		args string
		same bool
	}{
		{"the default spelled out is the default left out", `{"title":"Café","labels":["bug","ui"],"steps":["a","b"],"status":"open"}`, true},
		{"an object default spelled out in another way is the default", `{"title":"Café","labels":["bug","ui"],"steps":["a","b"],"limits":{"n":1.0}}`, true},
		{"an empty string that means absent is absent", `{"title":"Café","labels":["bug","ui"],"steps":["a","b"],"body":""}`, true},
		{"an empty object that means absent is absent", `{"title":"Café","labels":["bug","ui"],"steps":["a","b"],"details":{}}`, true},
		{"a set in another order is the same set", `{"title":"Café","labels":["ui","bug"],"steps":["a","b"]}`, true},
		{"a string in NFD is the string in NFC", `{"title":"Cafe\u0301","labels":["bug","ui"],"steps":["a","b"]}`, true},
		{"another value than the default is another call", `{"title":"Café","labels":["bug","ui"],"steps":["a","b"],"status":"closed"}`, false},
		{"an empty value not declared absent is another call", `{"title":"Café","labels":["bug","ui"],"steps":[]}`, false},
		{"an ordered list in another order is another call", `{"title":"Café","labels":["bug","ui"],"steps":["b","a"]}`, false},
		{"a set with another element is another call", `{"title":"Café","labels":["bug","ui","p1"],"steps":["a","b"]}`, false},
		{"a set of one element less is another call", `{"title":"Café","labels":["bug"],"steps":["a","b"]}`, false},
		{"a non-empty body is another call", `{"title":"Café","labels":["bug","ui"],"steps":["a","b"],"body":" "}`, false},
	}
	want, err := form.ArgsHash("t", json.RawMessage(base))
	require.NoError(t, err)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := form.ArgsHash("t", json.RawMessage(tt.args))
			require.NoError(t, err)
			if tt.same {
				assert.Equal(t, want, got)
			} else {
				assert.NotEqual(t, want, got)
			}
		})
	}
}

func TestCallFormHashesTheShortestSpellingAsBefore(t *testing.T) {
	t.Parallel()
	// Derived keys of calls spelled the shortest way (no default spelled
	// out, nothing empty, sets in order, text in NFC, numbers below 2^53)
	// must survive the upgrade that brought CallForm: an agent retrying
	// across it would otherwise act twice. The hashes are those the
	// release before gave, from mcp-go's float64 arguments.
	tests := []struct {
		name  string
		tool  string
		empty []string
		args  string
		want  string
	}{
		{"a ticket with a title only", "createTicket", []string{"body", "labels", "assignees"},
			`{"repo":"acme/app","title":"Deploy failed"}`,
			"7b88b9895f1c6e74270d2ea13896417117f55f1cb6434538b0c32cd35c02f352"},
		{"a ticket with a body and labels in order", "createTicket", []string{"body", "labels", "assignees"},
			`{"repo":"acme/app","title":"Caf\u00e9 menu broken","body":"Steps","labels":["bug","ui"]}`,
			"89b6926027c56516d6498111988a5d408869f5fb417a2d7d4dc8ed55d5df8163"},
		{"a record with its status left out and a number in its details", "writeAudit", []string{"details"},
			`{"provider":"ci","action":"deploy","target":"prod","details":{"n":42}}`,
			"a41ce0f11cf30f9ea3fc72cbdc392a9a19d0ff86802f53215865c087b5f90881"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			form, err := NewCallForm(must(schemas.Input(tt.tool)), tt.empty...)
			require.NoError(t, err)
			args, err := decodeOne([]byte(tt.args)) // numbers as json.Number, as mcpserver hands them
			require.NoError(t, err)
			got, err := form.ArgsHash(tt.tool, args)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestCallFormKeepsNumbersExact(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		a, b   map[string]any
		differ bool
	}{
		{"integers one apart past 2^53 differ",
			map[string]any{"n": json.Number("9007199254740993")}, map[string]any{"n": json.Number("9007199254740992")}, true},
		{"a json.Number and a float64 of one value are one number",
			map[string]any{"n": json.Number("1.5")}, map[string]any{"n": 1.5}, false},
		{"spellings of one number are one number",
			map[string]any{"n": json.Number("100")}, map[string]any{"n": json.Number("1e2")}, false},
		{"a Go int is its JSON number",
			map[string]any{"n": json.Number("7")}, map[string]any{"n": 7}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var form *CallForm // the plain hash: numbers are the same for every tool
			ha, err := form.ArgsHash("t", tt.a)
			require.NoError(t, err)
			hb, err := form.ArgsHash("t", tt.b)
			require.NoError(t, err)
			if tt.differ {
				assert.NotEqual(t, ha, hb)
			} else {
				assert.Equal(t, ha, hb)
			}
		})
	}
}

func TestArgsHashNeverMergesKeysThatNormalizeAlike(t *testing.T) {
	t.Parallel()
	nfc, nfd := "\u00e9", "e\u0301"
	both1, err := ArgsHash("t", map[string]any{"d": map[string]any{nfc: "1", nfd: "2"}})
	require.NoError(t, err)
	both2, err := ArgsHash("t", map[string]any{"d": map[string]any{nfc: "2", nfd: "1"}})
	require.NoError(t, err)
	assert.NotEqual(t, both1, both2, "two keys that normalize alike stay two keys")
	for range 32 { // map order varies from one hash to the next
		again, err := ArgsHash("t", map[string]any{"d": map[string]any{nfc: "1", nfd: "2"}})
		require.NoError(t, err)
		require.Equal(t, both1, again, "one document, one hash")
	}

	one1, err := ArgsHash("t", map[string]any{"d": map[string]any{nfd: "1"}})
	require.NoError(t, err)
	one2, err := ArgsHash("t", map[string]any{"d": map[string]any{nfc: "1"}})
	require.NoError(t, err)
	assert.Equal(t, one1, one2, "a lone key is hashed in NFC")
}

func TestNewCallFormRefusesWhatCannotMeanAbsent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		schema string
		empty  []string
		want   string
	}{
		{"a property the schema does not have", formSchema, []string{"nope"}, "nope is not a property"},
		{"a required property", formSchema, []string{"title"}, "title is required"},
		{"a schema that is not JSON", `{`, nil, "read input schema"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewCallForm([]byte(tt.schema), tt.empty...)
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

func TestCallFormLeavesTheArgumentsAsTheyWere(t *testing.T) {
	t.Parallel()
	form, err := NewCallForm([]byte(formSchema), "body", "labels", "details")
	require.NoError(t, err)
	args := map[string]any{"title": "Cafe\u0301", "labels": []any{"ui", "bug"}, "body": "", "status": "open", "idempotencyKey": "k"}
	_, err = form.ArgsHash("t", args)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"title": "Cafe\u0301", "labels": []any{"ui", "bug"}, "body": "", "status": "open", "idempotencyKey": "k"}, args)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
