package migration

import (
	"context"
	"errors"
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

func TestApply(t *testing.T) {
	t.Parallel()
	all := []Migration{{Version: 1, Name: "0001_a.sql", SQL: "A"}, {Version: 2, Name: "0002_b.sql", SQL: "B"}, {Version: 5, Name: "0005_c.sql", SQL: "C"}}
	tests := []struct {
		name     string
		newest   int
		failExec string
		wantRun  []string
		wantErr  string
	}{
		{"a new database gets every migration in order", 0, "", []string{"A", "B", "C"}, ""},
		{"only the missing ones run", 2, "", []string{"C"}, ""},
		{"an up-to-date database runs nothing", 5, "", nil, ""},
		{"a schema from a newer binary is refused", 6, "", nil, "newer than this binary knows (5)"},
		{"a failing file stops the run and is named", 0, "B", []string{"A"}, "apply 0002_b.sql"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var ran, recorded []string
			err := Apply(context.Background(), all, Steps{
				Newest: func(context.Context) (int, error) { return tt.newest, nil },
				Exec: func(_ context.Context, sql string) error {
					if sql == tt.failExec {
						return errors.New("syntax error")
					}
					ran = append(ran, sql)
					return nil
				},
				Record: func(_ context.Context, m Migration) error {
					recorded = append(recorded, m.SQL)
					return nil
				},
			})
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tt.wantRun, ran)
			assert.Equal(t, tt.wantRun, recorded, "each applied migration is recorded, and only those")
		})
	}
}
