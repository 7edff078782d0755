package keycloaktest_test

import (
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rptguard/rptguard/keycloaktest"
)

func TestWithListenAddr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		addr    string
		wantErr string
	}{
		{name: "ipv4 loopback", addr: "127.0.0.1:0"},
		{name: "localhost", addr: "localhost:0"},
		{name: "all interfaces", addr: "0.0.0.0:0", wantErr: "not a loopback"},
		{name: "empty host", addr: ":0", wantErr: "not a loopback"},
		{name: "public address", addr: "192.0.2.1:8080", wantErr: "not a loopback"},
		{name: "no port", addr: "127.0.0.1", wantErr: "listen address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := keycloaktest.Start(keycloaktest.WithListenAddr(tt.addr))
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			defer s.Close()
			assert.True(t, strings.HasPrefix(s.URL(), "http://127.0.0.1:") || strings.HasPrefix(s.URL(), "http://[::1]:"), s.URL())
			resp, err := s.HTTPClient().Get(s.JWKSURL())
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, http.StatusOK, resp.StatusCode)
		})
	}
}

func TestWithListenAddrFixedPort(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	s, err := keycloaktest.Start(keycloaktest.WithListenAddr(addr), keycloaktest.WithTLS())
	require.NoError(t, err)
	defer s.Close()
	assert.Equal(t, "https://"+addr, s.URL())
	assert.Equal(t, "https://"+addr+"/realms/rptguard", s.Issuer())

	_, err = keycloaktest.Start(keycloaktest.WithListenAddr(addr))
	require.Error(t, err, "the address is taken")
}
