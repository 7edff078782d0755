package policies

import (
	"errors"
	"strings"
)

// Sentinels callers branch on with [errors.Is]. Every error returned by
// [Engine.Evaluate] comes with a denying [Decision]; none of them contains
// token material or claim values.
var (
	// ErrCompile: a policy source failed to load, parse, type-check (against
	// the input schema), or compile in strict mode, or used a reserved
	// package. Returned by [New] and [Engine.Reload]; a [*CompileError]
	// carries the details.
	ErrCompile = errors.New("policies: compile failed")
	// ErrEvaluation: evaluating the decision failed (a builtin error with
	// strict builtin errors on, a conflict, a recovered panic, a cancelled or
	// timed-out ctx). A [*EvalError] carries the details; a ctx error also
	// matches [context.Canceled] or [context.DeadlineExceeded].
	ErrEvaluation = errors.New("policies: evaluation failed")
	// ErrUndefined: the decision query produced no value. The built-in
	// library defines a default, so this means the engine is misconfigured.
	ErrUndefined = errors.New("policies: decision undefined")
	// ErrInvalidInput: the [Input] or the claims given to [NewTokenValue]
	// cannot be turned into a policy input (unknown mode, malformed rule name,
	// unsupported claim value, nesting too deep).
	ErrInvalidInput = errors.New("policies: invalid input")
)

// CompileError lists what went wrong while loading or compiling policies.
// It matches [ErrCompile] with errors.Is. Messages come from the Rego parser
// and compiler and name files and lines; they never contain request data.
type CompileError struct {
	// Errors holds one line per problem, "file:row: message" where known.
	Errors []string
	cause  error
}

func (e *CompileError) Error() string {
	if len(e.Errors) == 0 {
		return ErrCompile.Error()
	}
	return ErrCompile.Error() + ": " + strings.Join(e.Errors, "; ")
}

// Is makes a *CompileError match [ErrCompile].
func (e *CompileError) Is(target error) bool { return target == ErrCompile }

// Unwrap returns the underlying cause (an I/O error reading a source, for
// instance), or nil.
func (e *CompileError) Unwrap() error { return e.cause }

// EvalError describes a failed evaluation. It matches [ErrEvaluation] with
// errors.Is and unwraps to the ctx error when evaluation was cancelled.
//
// Only the OPA error code and the policy location are kept: the full message
// of a builtin error can quote input values (claims), so it is dropped.
type EvalError struct {
	// Code is OPA's error code ("eval_builtin_error", "eval_conflict_error",
	// "eval_cancel_error"…) or "panic".
	Code string
	// Location is "file:row" of the failing expression, when known.
	Location string
	cause    error
}

func (e *EvalError) Error() string {
	var b strings.Builder
	b.WriteString(ErrEvaluation.Error())
	if e.Code != "" {
		b.WriteString(": ")
		b.WriteString(e.Code)
	}
	if e.Location != "" {
		b.WriteString(" at ")
		b.WriteString(e.Location)
	}
	if e.cause != nil {
		b.WriteString(": ")
		b.WriteString(e.cause.Error())
	}
	return b.String()
}

// Is makes an *EvalError match [ErrEvaluation].
func (e *EvalError) Is(target error) bool { return target == ErrEvaluation }

// Unwrap returns the ctx error (context.Canceled, context.DeadlineExceeded)
// when the evaluation was cancelled, else nil.
func (e *EvalError) Unwrap() error { return e.cause }
