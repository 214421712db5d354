package migration

import (
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		files   fstest.MapFS
		want    []int
		wantErr string
	}{
		{"files come back in version order", fstest.MapFS{
			"m/0010_b.sql": {Data: []byte("B")}, "m/0002_a.sql": {Data: []byte("A")},
		}, []int{2, 10}, ""},
		{"a name without a version is refused", fstest.MapFS{"m/init.sql": {}}, nil, "NNNN_what.sql"},
		{"a file that is not SQL is refused", fstest.MapFS{"m/0001_a.txt": {}}, nil, "NNNN_what.sql"},
		{"two files with one version are refused", fstest.MapFS{"m/0001_a.sql": {}, "m/01_b.sql": {}}, nil, "share a version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Load(tt.files, "m")
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			var versions []int
			for _, m := range got {
				versions = append(versions, m.Version)
			}
			assert.Equal(t, tt.want, versions)
			assert.Equal(t, "A", got[0].SQL)
		})
	}
}
