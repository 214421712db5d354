package webhook

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestReadBodyAtAndAroundTheLimit(t *testing.T) {
	const limit = 100000
	for _, tc := range []struct {
		name    string
		n       int
		chunked bool
		code    int
	}{
		{"exact CL at limit", limit, false, 0},
		{"chunked at limit", limit, true, 0},
		{"chunked one over", limit + 1, true, http.StatusRequestEntityTooLarge},
		{"CL one over", limit + 1, false, http.StatusRequestEntityTooLarge},
		{"empty chunked", 0, true, 0},
		{"small CL", 10, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := strings.Repeat("a", tc.n)
			var rd io.Reader = strings.NewReader(body)
			if tc.chunked {
				rd = io.MultiReader(rd) // hides the length
			}
			r := httptest.NewRequest(http.MethodPost, "/", rd)
			if tc.chunked {
				r.ContentLength = -1
			}
			got, code, _ := readBody(httptest.NewRecorder(), r, limit)
			assert.Equal(t, tc.code, code)
			if code == 0 {
				assert.True(t, bytes.Equal(got, []byte(body)))
			}
		})
	}
}
