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
