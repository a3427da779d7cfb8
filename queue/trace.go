package queue

import (
	"context"
	"errors"

	"github.com/hibiken/asynq"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/linkitworks/customers/telemetry"
)

const tracerName = "github.com/linkitworks/customers/queue"

// enqueue is the one way a task enters the queue: when tracing is on it
// records a producer span and carries the trace context (W3C traceparent)
// in the task's headers, asynq's envelope around the payload, so that the
// worker's span continues the request's trace whatever the task type and
// whatever its payload holds.
func (c *Client) enqueue(ctx context.Context, typ string, payload []byte, opts ...asynq.Option) (*asynq.TaskInfo, error) {
	if !telemetry.Enabled() {
		return c.c.EnqueueContext(ctx, asynq.NewTask(typ, payload, opts...))
	}
	ctx, span := otel.Tracer(tracerName).Start(ctx, "send "+typ, trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(attribute.String("messaging.system", "asynq"), attribute.String("messaging.operation.type", "send")))
	defer span.End()
	headers := map[string]string{}
	otel.GetTextMapPropagator().Inject(ctx, propagation.MapCarrier(headers))
	info, err := c.c.EnqueueContext(ctx, asynq.NewTaskWithHeaders(typ, payload, headers, opts...))
	switch {
	case errors.Is(err, asynq.ErrTaskIDConflict): // the task exists: not a failure
		span.SetAttributes(attribute.Bool("linkit.task_exists", true))
	case err != nil:
		span.SetStatus(codes.Error, "enqueue failed")
	default:
		span.SetAttributes(attribute.String("messaging.destination.name", info.Queue), attribute.String("messaging.message.id", info.ID))
	}
	return info, err
}

// TraceContext returns ctx continuing the trace task t was enqueued in (its
// headers), or ctx itself when t carries none.
func TraceContext(ctx context.Context, t *asynq.Task) context.Context {
	h := t.Headers()
	if len(h) == 0 {
		return ctx
	}
	return otel.GetTextMapPropagator().Extract(ctx, propagation.MapCarrier(h))
}
