package chain

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTheSchemaCompilersRegexpsAreCompiledOncePerPattern(t *testing.T) {
	t.Parallel()
	engine := cachedRegexps()
	a, err := engine("^[A-Za-z0-9-]{1,39}$")
	require.NoError(t, err)
	b, err := engine("^[A-Za-z0-9-]{1,39}$")
	require.NoError(t, err)
	assert.Same(t, a, b, "one pattern, one compiled regexp")
	assert.True(t, a.MatchString("octocat"))
	assert.False(t, a.MatchString("octo/cat"))
	_, err = engine("(")
	assert.Error(t, err, "a pattern that does not compile is an error, as the library's own engine says")
	c, err := engine("^x$")
	require.NoError(t, err)
	assert.NotSame(t, a, c)
}
