package main

import (
	"bytes"
	"context"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRun(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out))
	got := out.String()
	// Both ways give the same answers; offline calls no token endpoint.
	assert.Equal(t, 2, bytes.Count(out.Bytes(), []byte("alice GET    /orders/7: 200 allowed")), got)
	assert.Equal(t, 2, bytes.Count(out.Bytes(), []byte("alice DELETE /orders/7: 403 forbidden")), got)
	assert.Equal(t, 2, bytes.Count(out.Bytes(), []byte("bob   DELETE /orders/7: 200 allowed")), got)
	assert.Contains(t, got, "plain access token):\n  alice")
	m := regexp.MustCompile(`token endpoint calls: (\d+)\n`).FindAllStringSubmatch(got, -1)
	require.Len(t, m, 2, got)
	assert.Equal(t, "0", m[0][1], "offline decisions make no token-endpoint call")
	assert.NotEqual(t, "0", m[1][1], "the UMA comparison does")
}
