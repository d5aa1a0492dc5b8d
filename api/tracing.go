package api

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// operationTracer is a gqlgen extension that makes one span per GraphQL
// operation, a child of the request's span (otelhttp's), named as the
// OpenTelemetry conventions for GraphQL say ("query Headline", or "query" for
// an anonymous one) with the operation's type and name as attributes, and
// marked as failed when the answer has errors. Resolvers run in its context,
// so what they log carries its trace (logctx). There is no span per field:
// a 200-entity page resolves tens of thousands of fields.
type operationTracer struct{ tracer trace.Tracer }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
} = operationTracer{}

// newOperationTracer is the extension over tp's tracer.
func newOperationTracer(tp trace.TracerProvider) operationTracer {
	return operationTracer{tracer: tp.Tracer("policygraph/api")}
}

func (operationTracer) ExtensionName() string                          { return "OperationTracer" }
func (operationTracer) Validate(schema graphql.ExecutableSchema) error { return nil }

// InterceptOperation starts the operation's span; it ends with the answer
// (for a subscription, with its stream).
func (o operationTracer) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	op := graphql.GetOperationContext(ctx)
	kind, name := "query", operationName(op)
	if op.Operation != nil {
		kind = string(op.Operation.Operation)
	}
	spanName := kind
	if name != "" {
		spanName += " " + name
	}
	attrs := []attribute.KeyValue{attribute.String("graphql.operation.type", kind)}
	if name != "" {
		attrs = append(attrs, attribute.String("graphql.operation.name", name))
	}
	ctx, span := o.tracer.Start(ctx, spanName, trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrs...))
	respond := next(ctx)
	stream := isSubscription(op)
	ended := false
	return func(ctx context.Context) *graphql.Response {
		resp := respond(ctx)
		if ended {
			return resp
		}
		if resp != nil && len(resp.Errors) > 0 {
			span.SetAttributes(attribute.Int("graphql.errors", len(resp.Errors)))
			span.SetStatus(codes.Error, resp.Errors[0].Message)
		}
		if resp == nil || !stream {
			ended = true
			span.End()
		}
		return resp
	}
}
