package worker

import (
	"context"

	"github.com/hibiken/asynq"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/linkitworks/customers/customer"
	"github.com/linkitworks/customers/queue"
	"github.com/linkitworks/customers/telemetry"
)

// traced runs every task in a consumer span continuing the trace it was
// enqueued in (queue.TraceContext): API → worker → PostgreSQL is one trace.
// With tracing off the handler is returned as it is.
func traced(next asynq.Handler) asynq.Handler {
	if !telemetry.Enabled() {
		return next
	}
	tracer := otel.Tracer("github.com/linkitworks/customers/worker")
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		id, _ := asynq.GetTaskID(ctx)
		q, _ := asynq.GetQueueName(ctx)
		retried, _ := asynq.GetRetryCount(ctx)
		ctx, span := tracer.Start(queue.TraceContext(ctx, t), "process "+t.Type(),
			trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(
				attribute.String("messaging.system", "asynq"),
				attribute.String("messaging.operation.type", "process"),
				attribute.String("messaging.destination.name", q),
				attribute.String("messaging.message.id", id),
				attribute.Int("messaging.asynq.retry_count", retried)))
		defer span.End()
		err := next.ProcessTask(ctx, t)
		if err != nil {
			// The error's code only: messages can quote customers' values.
			span.SetStatus(codes.Error, "task failed")
			span.SetAttributes(attribute.String("linkit.error_code", string(customer.ErrorCode(err))))
		}
		return err
	})
}
