package github

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// A body that ends with another call's marker only quotes this call's.
// Another life of the same key (claimed again after the first expired) is
// another call too, and its issue ends with the same key's comment after
// another claim's: endsWithOtherKey compared the key comment alone, so
// such a body was not seen as another call's and the quoted marker was
// taken as this life's issue (found in review).
func TestAnIssueOfAnotherLifeOfTheKeyQuotingThisLifesMarkerDoesNotMatch(t *testing.T) {
	t.Parallel()
	claim := time.Unix(1796443949, 0)
	next := claim.Add(48 * time.Hour)
	body := "was:\n\n" + Marker("k", claim) + "\n\nsame here\n\n" + Marker("k", next)
	assert.False(t, hasMarker(body, "k", claim), "%q", body)
}
