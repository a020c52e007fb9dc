// Package switchyard is the Go SDK of Switchyard's task API: a Client (enqueue one task or a
// batch, get, wait for a result, watch events, cancel, retry) and a Worker (handlers by task type
// on a ConnectWorker stream, a concurrency limit with credits, lease heartbeats, progress,
// retryable and non-retryable failures, cancellation through context.Context, a drain when its
// context ends, reconnection with backoff).
//
// It speaks gRPC over HTTP/2 (h2c for http:// URLs) with connect-go; the generated stubs are in
// the gen/ packages. Errors from the server are *Error values carrying the google.rpc.ErrorInfo
// reason; match them with errors.Is(err, switchyard.ErrTaskNotFound) or ReasonOf(err).
package switchyard
