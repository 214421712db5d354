package schemas

import (
	"bytes"
	"io/fs"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"
)

// TestEveryEmbeddedSchemaPassesItsMetaSchema: serve compiles the input
// schemas without checking them against the 2020-12 meta-schema
// (chain.CompileValidator; the check was three quarters of the compile's
// start-up time), because this test does, for every embedded file, with the
// library's checking compiler. A schema broken here fails this test, not a
// user's call.
func TestEveryEmbeddedSchemaPassesItsMetaSchema(t *testing.T) {
	t.Parallel()
	names, err := fs.Glob(files, "*.json")
	require.NoError(t, err)
	require.Len(t, names, 8, "an input and an output schema for each of the four tools")
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			raw, err := files.ReadFile(name)
			require.NoError(t, err)
			require.Contains(t, string(raw), `"$schema": "https://json-schema.org/draft/2020-12/schema"`)
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
			require.NoError(t, err)
			c := jsonschema.NewCompiler()
			c.DefaultDraft(jsonschema.Draft2020)
			url := "mem:///" + name
			require.NoError(t, c.AddResource(url, doc))
			_, err = c.Compile(url)
			require.NoError(t, err, "%s does not pass the 2020-12 meta-schema", name)
		})
	}
}

// TestTheMetaSchemaCheckCatchesABrokenSchema keeps the test above able to
// fail: the same compiler refuses a schema that breaks the meta-schema.
func TestTheMetaSchemaCheckCatchesABrokenSchema(t *testing.T) {
	t.Parallel()
	for _, broken := range []string{
		`{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "properties": {"x": {"type": "text"}}}`,
		`{"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "required": "x"}`,
		`{"$schema": "https://json-schema.org/draft/2020-12/schema", "maxLength": -1}`,
	} {
		doc, err := jsonschema.UnmarshalJSON(strings.NewReader(broken))
		require.NoError(t, err)
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		require.NoError(t, c.AddResource("mem:///broken.json", doc))
		_, err = c.Compile("mem:///broken.json")
		require.Error(t, err, "%s", broken)
	}
}
