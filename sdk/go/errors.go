package switchyard

import (
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
)

// Error is a call the server refused: its code, the ErrorInfo reason and metadata. It wraps the
// connect error it came from.
type Error struct {
	Code     connect.Code
	Reason   string
	Message  string
	Metadata map[string]string
	err      error
}

func (e *Error) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("%s %s: %s", e.Code, e.Reason, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.err }

// Is matches another *Error by reason (when it has one) and code (when it has one), so the
// sentinels below work with errors.Is.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	return (t.Reason == "" || t.Reason == e.Reason) && (t.Code == 0 || t.Code == e.Code)
}

// Sentinels for the reasons a caller usually handles.
var (
	ErrTaskNotFound    = &Error{Reason: "TASK_NOT_FOUND"}
	ErrLeaseLost       = &Error{Reason: "LEASE_LOST"}
	ErrTaskCancelled   = &Error{Reason: "TASK_CANCELLED"}
	ErrQueuePaused     = &Error{Reason: "QUEUE_PAUSED"}
	ErrSessionNotFound = &Error{Reason: "SESSION_NOT_FOUND"}
	ErrTaskExists      = &Error{Reason: "TASK_ALREADY_EXISTS"}
	ErrAlreadyFinished = &Error{Reason: "TASK_ALREADY_FINISHED"}
	ErrUnavailable     = &Error{Code: connect.CodeUnavailable}
	ErrUnauthenticated = &Error{Code: connect.CodeUnauthenticated}
)

// ReasonOf answers the ErrorInfo reason of a server error ("" for other errors).
func ReasonOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// wrap turns a connect error into an *Error (other errors pass through).
func wrap(err error) error {
	if err == nil {
		return nil
	}
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return err
	}
	e := &Error{Code: ce.Code(), Message: ce.Message(), err: err}
	for _, d := range ce.Details() {
		v, derr := d.Value()
		if derr != nil {
			continue
		}
		if info, ok := v.(*errdetails.ErrorInfo); ok {
			e.Reason, e.Metadata = info.Reason, info.Metadata
		}
	}
	return e
}

func transient(err error) bool {
	switch connect.CodeOf(err) {
	case connect.CodeUnavailable, connect.CodeDeadlineExceeded, connect.CodeResourceExhausted, connect.CodeUnknown, connect.CodeInternal, connect.CodeAborted:
		return true
	}
	return false
}

// Failure is returned by a handler to fail the attempt with a reason, details and an optional
// retry delay. Any other error fails the attempt as retryable.
type Failure struct {
	Err        error
	Retryable  bool
	Reason     string
	Details    map[string]any
	RetryDelay time.Duration
}

func (f *Failure) Error() string { return f.Err.Error() }
func (f *Failure) Unwrap() error { return f.Err }

// Retryable fails the attempt; the server retries with backoff while attempts are left.
func Retryable(err error) error { return &Failure{Err: err, Retryable: true} }

// NonRetryable fails the task for good, whatever attempts are left.
func NonRetryable(err error) error { return &Failure{Err: err, Retryable: false} }

// Causes of a handler's context being cancelled (context.Cause).
var (
	ErrCancelled    = errors.New("switchyard: task cancelled")
	ErrLeaseExpired = errors.New("switchyard: lease expired or lost")
	ErrShutdown     = errors.New("switchyard: worker shutting down")
)
