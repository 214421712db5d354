package chain

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"testing"

	"github.com/saas-mcp/saas-mcp/schemas"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestABackgroundCompiledValidatorChecksAsACompiledOne: CompileValidator
// returns before its schemas are compiled; a Check made at once waits for
// them and answers as NewValidator's would (run with -race: the schemas
// are read only after the compile has published them).
func TestABackgroundCompiledValidatorChecksAsACompiledOne(t *testing.T) {
	t.Parallel()
	in, err := schemas.Input("createTicket")
	require.NoError(t, err)
	cases := []struct {
		name    string
		args    map[string]any
		wantErr string // "" for valid arguments
	}{
		{"valid", map[string]any{"repo": "octo/hello", "title": "Broken build"}, ""},
		{"missing title", map[string]any{"repo": "octo/hello"}, "title"},
		{"bad repo", map[string]any{"repo": "no-slash", "title": "x"}, "repo"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bg := CompileValidator(map[string][]byte{"createTicket": in})
			got := bg.Check("createTicket", tc.args) // before any Wait
			now, err := NewValidator(map[string][]byte{"createTicket": in})
			require.NoError(t, err)
			want := now.Check("createTicket", tc.args)
			if tc.wantErr == "" {
				assert.NoError(t, got)
				assert.NoError(t, want)
				return
			}
			require.Error(t, got)
			assert.Equal(t, want.Error(), got.Error())
			assert.Contains(t, got.Error(), tc.wantErr)
			var ce *Error
			require.True(t, errors.As(got, &ce))
			assert.Equal(t, KindInvalid, ce.Kind)
		})
	}
}

// TestAValidatorWhoseSchemasDoNotCompileRefusesEveryCall: NewValidator
// refuses a schema that breaks the meta-schema; in the background (where the
// meta-schema is not checked), a schema that fails to compile, or makes the
// library panic, makes every Check an internal error saying so (serve logs it
// too). A malformed schema that compiles all the same may check less than it
// says ("type": 5 checks no type): only
// schemas.TestEveryEmbeddedSchemaPassesItsMetaSchema stands between the
// embedded schemas and that, which is why CompileValidator is for them only.
func TestAValidatorWhoseSchemasDoNotCompileRefusesEveryCall(t *testing.T) {
	t.Parallel()
	_, err := NewValidator(map[string][]byte{"createTicket": []byte(`{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": 5}`)})
	require.Error(t, err)

	for _, bad := range []string{
		`{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "properties": {"repo": {"type": "string", "pattern": "("}}}`,
		`{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": 5}`,
		`{"$schema": "https://json-schema.org/draft/2020-12/schema", "properties": 7}`,
	} {
		v := CompileValidator(map[string][]byte{"createTicket": []byte(bad)})
		if v.Wait() == nil {
			continue // compiled after all: nothing to refuse
		}
		for _, args := range []map[string]any{{}, {"repo": "octo/hello", "title": "x"}} {
			err := v.Check("createTicket", args)
			require.Error(t, err, bad)
			var ce *Error
			require.True(t, errors.As(err, &ce))
			assert.Equal(t, KindInternal, ce.Kind)
			assert.Contains(t, err.Error(), "the input schemas did not compile")
		}
	}
	v := CompileValidator(map[string][]byte{"createTicket": []byte(`{"type": "object", "properties": {"repo": {"type": "string", "pattern": "("}}}`)})
	require.Error(t, v.Wait(), "a pattern that does not compile fails the compile, meta-schema or not")
}

// TestTheBackgroundCompileDoesNotCompileTheMetaSchema keeps the start-up
// saving of CompileValidator (third_party/jsonschema's
// SkipMetaSchemaValidation): in a fresh process, where no draft's
// meta-schema has been loaded yet, compiling the four embedded input
// schemas allocates about 0.5 MB; checking them against the 2020-12
// meta-schema first compiles it, 0.6 MB more.
func TestTheBackgroundCompileDoesNotCompileTheMetaSchema(t *testing.T) {
	t.Parallel()
	if os.Getenv("SAAS_MCP_COMPILE_CHILD") != "" {
		inputs := map[string][]byte{}
		for _, n := range []string{"createTicket", "sendMessage", "recordPaymentEvent", "writeAudit"} {
			raw, err := schemas.Input(n)
			if err != nil {
				panic(err)
			}
			inputs[n] = raw
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if os.Getenv("SAAS_MCP_COMPILE_CHILD") == "checked" {
			if _, err := NewValidator(inputs); err != nil {
				panic(err)
			}
		} else if err := CompileValidator(inputs).Wait(); err != nil {
			panic(err)
		}
		runtime.ReadMemStats(&after)
		fmt.Printf("compiled: %d bytes\n", after.TotalAlloc-before.TotalAlloc)
		return
	}
	exe, err := os.Executable()
	require.NoError(t, err)
	allocated := func(mode string) int {
		cmd := exec.Command(exe, "-test.run=^TestTheBackgroundCompileDoesNotCompileTheMetaSchema$")
		cmd.Env = append(os.Environ(), "SAAS_MCP_COMPILE_CHILD="+mode)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		m := regexp.MustCompile(`compiled: (\d+) bytes`).FindSubmatch(out)
		require.NotNil(t, m, "%s", out)
		n, err := strconv.Atoi(string(m[1]))
		require.NoError(t, err)
		return n
	}
	trusted, checked := allocated("trusted"), allocated("checked")
	t.Logf("compiling the input schemas allocated %d bytes in the background, %d checked against the meta-schema", trusted, checked)
	require.Less(t, trusted, 800_000, "the background compile compiled the meta-schema (%d bytes)", trusted)
	require.Greater(t, checked-trusted, 400_000, "the checked compile no longer costs more than the background one: this test measures nothing")
}
