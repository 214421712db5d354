package worker

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A trimmed GitHub issues payload, in GitHub's member order.
const issuesPayload = `{"action":"opened","issue":{"url":"https://api.github.com/repos/acme/app/issues/42","id":1,"number":42,` +
	`"title":"Crash on start","user":{"login":"octocat","id":1},"labels":[{"name":"bug"}],"state":"open","body":"It \"crashes\"\n\u00e9"},` +
	`"repository":{"id":9,"name":"app","full_name":"acme/app","private":false,"owner":{"login":"acme"}},` +
	`"organization":{"login":"acme","id":7},"sender":{"login":"octocat","id":1}}`

// parseGitHub gives what json.Unmarshal into githubPayload gave, refusing
// the same payloads: the cases GitHub sends, and the odd ones whose rules
// encoding/json sets (case, duplicates, null, wrong types, strings).
func TestParseGitHubReadsAsEncodingJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, raw string
		wantErr   bool
	}{
		{"issues", issuesPayload, false},
		{"push", `{"ref":"refs/heads/main","repository":{"full_name":"acme/app"},"sender":{"login":"a"}}`, false},
		{"release", `{"action":"published","release":{"tag_name":"v1.2.0"},"repository":{"full_name":"acme/app"}}`, false},
		{"an organization event", `{"action":"member_added","organization":{"login":"acme"}}`, false},
		{"keys in another case", `{"ACTION":"x","Repository":{"FULL_NAME":"a/b"},"issue":{"Number":3}}`, false},
		{"a later duplicate wins", `{"action":"a","action":"b","issue":{"number":1},"issue":{"number":2}}`, false},
		{"an object again keeps members it does not name", `{"repository":{"full_name":"a/b"},"repository":{"id":1}}`, false},
		{"null leaves a string", `{"action":"a","action":null}`, false},
		{"null clears an object", `{"repository":{"full_name":"a/b"},"repository":null}`, false},
		{"null payload", `null`, false},
		{"empty object", `{}`, false},
		{"escapes and odd strings", `{"action":"a\u0000b\ud800c","ref":"\u00e9\t"}`, false},
		{"a number as a string field", `{"action":5}`, true},
		{"a string as an object", `{"repository":"acme/app"}`, true},
		{"an array as an object", `{"sender":[]}`, true},
		{"a fraction as the issue number", `{"issue":{"number":1.5}}`, true},
		{"an exponent as the issue number", `{"issue":{"number":1e2}}`, true},
		{"an issue number past int64", `{"issue":{"number":99999999999999999999}}`, true},
		{"a wrong type after a good value", `{"action":"a","ref":{}}`, true},
		{"an array payload", `[{"action":"a"}]`, true},
		{"a string payload", `"x"`, true},
		{"not JSON", `{"action":`, true},
		{"trailing garbage", `{"action":"a"} x`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var want githubPayload
			werr := json.Unmarshal([]byte(tc.raw), &want)
			require.Equal(t, tc.wantErr, werr != nil, "encoding/json's verdict, as the case says: %v", werr)
			got, err := parseGitHub([]byte(tc.raw))
			if tc.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, want, got)
		})
	}
}

// Any input: parseGitHub refuses what json.Unmarshal refuses, and keeps the
// same values otherwise.
func FuzzParseGitHubAsEncodingJSON(f *testing.F) {
	for _, s := range []string{issuesPayload, `{"ACTION":"x","Repository":{"FULL_NAME":"a/b"}}`, `{"action":"a","action":null}`,
		`{"repository":{"full_name":"a/b"},"repository":null}`, `{"issue":{"number":-0}}`, `{"action":"\ud83d\ude00\ud800"}`,
		`{"a":[[[[{"b":1}]]]],"sender":{"login":"\xff"}}`, `null`, `{"release":{"tag_name":"v1","tag_name":2}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var want githubPayload
		werr := json.Unmarshal(raw, &want)
		got, err := parseGitHub(raw)
		if (werr == nil) != (err == nil) {
			t.Fatalf("encoding/json: %v; parseGitHub: %v; input %q", werr, err, raw)
		}
		if werr == nil {
			require.Equal(t, want, got, "input %q", raw)
		}
	})
}
