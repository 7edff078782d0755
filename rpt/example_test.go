package rpt_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/rptguard/rptguard/keycloaktest"
	"github.com/rptguard/rptguard/rpt"
)

func Example() {
	kc, err := keycloaktest.Start()
	if err != nil {
		panic(err)
	}
	defer kc.Close()
	ctx := context.Background()

	v, err := rpt.New(ctx, rpt.Config{
		ClaimRules:        rpt.ClaimRules{Issuer: kc.Issuer(), Audience: []string{kc.ClientID()}},
		JWKSURL:           kc.JWKSURL(),
		InsecureAllowHTTP: true, // keycloaktest serves plain HTTP; never in production
	}, rpt.WithHTTPClient(kc.HTTPClient()))
	if err != nil {
		panic(err)
	}
	defer v.Close()

	token := kc.IssueRPT("alice", rpt.Permission{ResourceID: "r1", ResourceName: "Orders", Scopes: []string{"orders:read"}})
	claims, err := v.Verify(ctx, token)
	if err != nil {
		panic(err)
	}
	for _, p := range claims.Permissions() {
		fmt.Println(claims.PreferredUsername, p.ResourceName, p.Scopes)
	}

	// Branch on errors with errors.Is: 401 for bad tokens, 503 when keys
	// are unavailable.
	_, err = v.Verify(ctx, kc.AccessToken("alice", keycloaktest.WithClaim("typ", "Refresh")))
	switch {
	case errors.Is(err, rpt.ErrUnavailable):
		fmt.Println("503")
	case errors.Is(err, rpt.ErrTokenType):
		fmt.Println("401:", err)
	}
	// Output:
	// alice Orders [orders:read]
	// 401: rpt: token type not accepted
}
