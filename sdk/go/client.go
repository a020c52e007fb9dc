package switchyard

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"

	tasksv1 "switchyard/sdk/go/gen/switchyard/tasks/v1"
	"switchyard/sdk/go/gen/switchyard/tasks/v1/tasksv1connect"
)

// BatchLimit is the most creates in one BatchCreateTasks call.
const BatchLimit = 1000

// Option configures a Client.
type Option func(*options)

type options struct {
	token      string
	httpClient connect.HTTPClient
	connect    bool
}

// WithToken sends `Authorization: Bearer <token>` on every call.
func WithToken(token string) Option { return func(o *options) { o.token = token } }

// WithHTTPClient replaces the default HTTP/2 client.
func WithHTTPClient(c connect.HTTPClient) Option { return func(o *options) { o.httpClient = c } }

// WithConnectProtocol speaks the Connect protocol instead of gRPC.
func WithConnectProtocol() Option { return func(o *options) { o.connect = true } }

// Client talks to one Switchyard server.
type Client struct {
	Tasks  tasksv1connect.TaskServiceClient
	Queues tasksv1connect.QueueServiceClient
}

// NewHTTPClient is an HTTP/2 client for gRPC: h2c for http:// URLs, TLS for https://, with
// pings so a dead connection is noticed.
func NewHTTPClient() *http.Client {
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true)
	protocols.SetHTTP2(true)
	return &http.Client{Transport: &http.Transport{
		Protocols:       &protocols,
		DialContext:     (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 15 * time.Second}).DialContext,
		TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12},
		HTTP2:           &http.HTTP2Config{SendPingTimeout: 10 * time.Second, PingTimeout: 5 * time.Second},
	}}
}

// NewClient connects to baseURL (`http://host:port`).
func NewClient(baseURL string, opts ...Option) *Client {
	o := options{}
	for _, f := range opts {
		f(&o)
	}
	if o.httpClient == nil {
		o.httpClient = NewHTTPClient()
	}
	baseURL = strings.TrimRight(baseURL, "/")
	copts := []connect.ClientOption{}
	if !o.connect {
		copts = append(copts, connect.WithGRPC())
	}
	if o.token != "" {
		copts = append(copts, connect.WithInterceptors(bearer(o.token)))
	}
	return &Client{
		Tasks:  tasksv1connect.NewTaskServiceClient(o.httpClient, baseURL, copts...),
		Queues: tasksv1connect.NewQueueServiceClient(o.httpClient, baseURL, copts...),
	}
}

type bearerInterceptor string

func bearer(token string) connect.Interceptor { return bearerInterceptor(token) }

func (b bearerInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		req.Header().Set("Authorization", "Bearer "+string(b))
		return next(ctx, req)
	}
}

func (b bearerInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		conn.RequestHeader().Set("Authorization", "Bearer "+string(b))
		return conn
	}
}

func (b bearerInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// TaskSpec is what Enqueue creates. Payload is any JSON-like Go value (maps, slices, strings,
// float64/int, bool, nil).
type TaskSpec struct {
	Queue        string
	Type         string
	Payload      any
	ID           string
	Priority     *int32
	MaxAttempts  *int32
	Timeout      time.Duration
	Capabilities []string
	DependsOn    []string
	Tags         []string
	RequestID    string
	Delay        time.Duration
}

func (s TaskSpec) request() (*tasksv1.CreateTaskRequest, error) {
	t := &tasksv1.Task{Queue: s.Queue, Type: s.Type, Id: s.ID, Priority: s.Priority, MaxAttempts: s.MaxAttempts,
		RequiredCapabilities: s.Capabilities, DependsOn: s.DependsOn, Tags: s.Tags}
	if s.Payload != nil {
		v, err := structpb.NewValue(normalize(s.Payload))
		if err != nil {
			return nil, err
		}
		t.Payload = v
	}
	if s.Timeout > 0 {
		t.Timeout = durationpb.New(s.Timeout)
	}
	req := &tasksv1.CreateTaskRequest{Task: t, RequestId: s.RequestID}
	if s.Delay > 0 {
		req.Delay = durationpb.New(s.Delay)
	}
	return req, nil
}

// normalize makes common Go values acceptable to structpb (ints, typed slices and maps).
func normalize(v any) any {
	switch x := v.(type) {
	case int:
		return float64(x)
	case int32:
		return float64(x)
	case int64:
		return float64(x)
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	case map[string]string:
		out := make(map[string]any, len(x))
		for k, s := range x {
			out[k] = s
		}
		return out
	}
	return v
}

// Value is a task's payload or result as plain Go (nil when absent).
func Value(v *structpb.Value) any {
	if v == nil {
		return nil
	}
	return v.AsInterface()
}

// Enqueue creates one task.
func (c *Client) Enqueue(ctx context.Context, spec TaskSpec) (*tasksv1.Task, error) {
	req, err := spec.request()
	if err != nil {
		return nil, err
	}
	res, err := c.Tasks.CreateTask(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, wrap(err)
	}
	return res.Msg.Task, nil
}

// EnqueueMany creates tasks in order, 1,000 per durable commit.
func (c *Client) EnqueueMany(ctx context.Context, specs []TaskSpec) ([]*tasksv1.Task, error) {
	out := make([]*tasksv1.Task, 0, len(specs))
	for start := 0; start < len(specs); start += BatchLimit {
		end := min(start+BatchLimit, len(specs))
		batch := &tasksv1.BatchCreateTasksRequest{}
		for _, s := range specs[start:end] {
			r, err := s.request()
			if err != nil {
				return out, err
			}
			batch.Requests = append(batch.Requests, r)
		}
		res, err := c.Tasks.BatchCreateTasks(ctx, connect.NewRequest(batch))
		if err != nil {
			return out, wrap(err)
		}
		out = append(out, res.Msg.Tasks...)
	}
	return out, nil
}

// Get reads one task.
func (c *Client) Get(ctx context.Context, id string) (*tasksv1.Task, error) {
	res, err := c.Tasks.GetTask(ctx, connect.NewRequest(&tasksv1.GetTaskRequest{Id: id}))
	if err != nil {
		return nil, wrap(err)
	}
	return res.Msg.Task, nil
}

// Cancel cancels a pending, blocked or running task.
func (c *Client) Cancel(ctx context.Context, id, reason string) (*tasksv1.Task, error) {
	res, err := c.Tasks.CancelTask(ctx, connect.NewRequest(&tasksv1.CancelTaskRequest{Id: id, Reason: reason}))
	if err != nil {
		return nil, wrap(err)
	}
	return res.Msg.Task, nil
}

// Retry retries a failed, timed-out or cancelled task.
func (c *Client) Retry(ctx context.Context, id string) (*tasksv1.Task, error) {
	res, err := c.Tasks.RetryTask(ctx, connect.NewRequest(&tasksv1.RetryTaskRequest{Id: id}))
	if err != nil {
		return nil, wrap(err)
	}
	return res.Msg.Task, nil
}

// Final reports whether a state is final (succeeded, failed, cancelled, timed out).
func Final(s tasksv1.TaskState) bool {
	switch s {
	case tasksv1.TaskState_TASK_STATE_SUCCEEDED, tasksv1.TaskState_TASK_STATE_FAILED, tasksv1.TaskState_TASK_STATE_CANCELLED, tasksv1.TaskState_TASK_STATE_TIMED_OUT:
		return true
	}
	return false
}

// Watch streams live task events matching the filter to fn until ctx ends (nil) or fn errs.
func (c *Client) Watch(ctx context.Context, filter *tasksv1.WatchTaskEventsRequest, fn func(*tasksv1.TaskEvent) error) error {
	stream, err := c.Tasks.WatchTaskEvents(ctx, connect.NewRequest(filter))
	if err != nil {
		return wrap(err)
	}
	defer stream.Close()
	for stream.Receive() {
		if err := fn(stream.Msg().Event); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return wrap(stream.Err())
}

// Wait blocks until the task is finished and answers it; it ends with ctx's error.
func (c *Client) Wait(ctx context.Context, id string) (*tasksv1.Task, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		task, err := c.waitWindow(wctx, id)
		cancel()
		if task != nil {
			return task, nil
		}
		if err == nil || ctx.Err() != nil {
			continue
		}
		if !transient(err) && connect.CodeOf(err) != connect.CodeCanceled {
			return nil, wrap(err)
		}
		if connect.CodeOf(err) == connect.CodeUnavailable {
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// waitWindow watches first, then reads, so a change between the two is not missed; the caller
// re-reads every window. The watch runs apart: connect-go's stream call returns only once the
// server sends its first message, and a watch sends nothing until an event.
func (c *Client) waitWindow(ctx context.Context, id string) (*tasksv1.Task, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	final := make(chan *tasksv1.Task, 1)
	go func() {
		stream, err := c.Tasks.WatchTaskEvents(ctx, connect.NewRequest(&tasksv1.WatchTaskEventsRequest{TaskIds: []string{id}}))
		if err != nil {
			return
		}
		defer stream.Close()
		for stream.Receive() {
			if t := stream.Msg().Event.GetTask(); t != nil && Final(t.State) {
				final <- t
				return
			}
		}
	}()
	task, err := c.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if Final(task.State) {
		return task, nil
	}
	select {
	case t := <-final:
		return t, nil
	case <-ctx.Done():
		return nil, nil
	}
}
