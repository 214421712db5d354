package payments

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRankFollowsEachObjectsLife(t *testing.T) {
	t.Parallel()
	assert.Less(t, Rank("checkout.session.completed"), Rank("checkout.session.async_payment_succeeded"))
	assert.Equal(t, Rank("checkout.session.async_payment_succeeded"), Rank("checkout.session.async_payment_failed"))
	assert.Less(t, Rank("payment_intent.created"), Rank("payment_intent.payment_failed"))
	assert.Less(t, Rank("payment_intent.payment_failed"), Rank("payment_intent.succeeded"))
	assert.Equal(t, 0, Rank("charge.succeeded"), "a type of no known place")
	assert.Less(t, Rank("payment_intent.some_new_type"), Rank("payment_intent.created"))
}

func TestEveryRankedTypeHasOnePlace(t *testing.T) {
	t.Parallel()
	n := 0
	for _, object := range stages {
		for _, stage := range object {
			n += len(stage)
		}
	}
	assert.Len(t, ranks, n, "a type is listed in two stages")
}

func TestRankSQLNamesEveryRankedType(t *testing.T) {
	t.Parallel()
	got := RankSQL("type")
	for typ, r := range ranks {
		assert.Contains(t, got, "WHEN '"+typ+"' THEN "+strconv.Itoa(r)+" ")
	}
	assert.Equal(t, got, RankSQL("type"), "the same text every time")
}
