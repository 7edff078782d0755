package enforcer

import (
	"context"

	"github.com/rptguard/rptguard/policies"
)

// allowEvaluator is an [Evaluator] that can skip a deny's reasons
// ([policies.Engine.EvaluateAllow]): the pipeline reads only Allow, and the
// reasons cost a second evaluation on every deny (for example before each
// server-side RPT exchange).
type allowEvaluator interface {
	EvaluateAllow(ctx context.Context, in policies.Input) (policies.Decision, error)
}

// evaluate asks the evaluator for the decision, without a deny's reasons
// when it can.
func (e *Enforcer) evaluate(ctx context.Context, in policies.Input) (policies.Decision, error) {
	if a, ok := e.eval.(allowEvaluator); ok {
		return a.EvaluateAllow(ctx, in)
	}
	return e.eval.Evaluate(ctx, in)
}

// userRulesEvaluator is an [Evaluator] that can evaluate the user's rules
// alone ([policies.Engine.EvaluateUserRules]).
type userRulesEvaluator interface {
	EvaluateUserRules(ctx context.Context, in policies.Input) (bool, error)
}

// userRulesAllow reports whether the user's deny rules and the path's named
// rule allow the request, for the grants Keycloak makes without a
// permission (scopes-enforcement-mode DISABLED). A custom evaluator without
// EvaluateUserRules keeps Keycloak's behaviour there (grant): it has no
// separate user rules to consult.
func (e *Enforcer) userRulesAllow(ctx context.Context, in policies.Input) (bool, error) {
	if u, ok := e.eval.(userRulesEvaluator); ok {
		return u.EvaluateUserRules(ctx, in)
	}
	return true, nil
}
