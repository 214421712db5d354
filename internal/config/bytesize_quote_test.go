package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// README: a bad value "stops start-up with an error naming it, its value
// and what it must be". ParseByteSize quotes the value after it has cut
// off what it took for a unit suffix: WEBHOOK_MAX_BODY=25XB is reported as
// "25X", WEBHOOK_MAX_BODY=0MiB as "0", a value the operator never wrote.
func TestAByteSizeErrorQuotesTheValueAsGiven(t *testing.T) {
	for _, v := range []string{"25XB", "0MiB"} {
		_, err := ParseByteSize(v)
		if assert.Error(t, err, v) {
			assert.Contains(t, err.Error(), `"`+v+`"`)
		}
	}
}
