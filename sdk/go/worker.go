package switchyard

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"

	tasksv1 "switchyard/sdk/go/gen/switchyard/tasks/v1"
)

// Job is what a handler gets besides its context: the task, its lease and progress reporting.
type Job struct {
	Task    *tasksv1.Task
	Lease   *tasksv1.Lease
	Payload any
	h       *held
	w       *Worker
}

// Progress records progress (0–100); it is sent at once with a lease heartbeat, without blocking.
func (j *Job) Progress(percent int32, message string) {
	j.w.mu.Lock()
	j.h.progress = &progress{percent, message}
	j.w.mu.Unlock()
	go j.w.beat(j.h)
}

// Handler works on one task. Its ctx is cancelled when the task is cancelled, deleted, timed out
// or its lease is lost (context.Cause tells which: ErrCancelled, ErrLeaseExpired, ErrShutdown).
// The result is any JSON-like value; an error fails the attempt (see Failure, NonRetryable).
type Handler func(ctx context.Context, job *Job) (any, error)

// WorkerOptions configure a Worker.
type WorkerOptions struct {
	Queues        []string
	WorkerID      string
	Concurrency   int           // default 8
	LeaseDuration time.Duration // default 30s
	Capabilities  []string
	DrainTimeout  time.Duration // default 30s: how long running handlers may go on once Run's ctx ends
	MaxBackoff    time.Duration // default 5s
	MaxTasks      int           // stop (drain) after this many tasks ended; 0: no limit
	heartbeat     time.Duration
}

// Stats counts what a worker did.
type Stats struct {
	Completed, Failed, Released, Refused, Sessions, Cancelled int
}

type progress struct {
	percent int32
	message string
}

type state int

const (
	waiting state = iota
	running
	finishing
	done
)

type held struct {
	task          *tasksv1.Task
	lease         *tasksv1.Lease
	session       string
	state         state
	cancel        context.CancelCauseFunc
	ctx           context.Context
	progress      *progress
	lastBeat      time.Time
	cancelNoticed bool
}

// Worker runs handlers for tasks pushed on a worker stream. Credits are kept equal to the free
// slots: the server returns one for each outcome of a task of the current session and for each
// cancel notice; the worker grants one back for a task of an earlier session (after a reconnect).
type Worker struct {
	c        *Client
	o        WorkerOptions
	handlers map[string]Handler

	mu            sync.Mutex
	changed       *sync.Cond
	held          map[string]*held
	queue         []*held
	running       int
	session       string
	connecting    bool
	pendingGrants int32
	finished      int
	stopping      bool
	stats         Stats
	completed     []string
	slots         sync.WaitGroup
	stopStream    context.CancelFunc
	maxReached    chan struct{}
	completions   chan completion
}

// NewWorker makes a worker on the client's server.
func NewWorker(c *Client, o WorkerOptions) (*Worker, error) {
	if len(o.Queues) == 0 {
		return nil, errors.New("switchyard: WorkerOptions.Queues: at least one queue is required")
	}
	if o.Concurrency == 0 {
		o.Concurrency = 8
	}
	if o.Concurrency < 1 || o.Concurrency > 10000 {
		return nil, errors.New("switchyard: WorkerOptions.Concurrency: 1 to 10,000")
	}
	if o.LeaseDuration == 0 {
		o.LeaseDuration = 30 * time.Second
	}
	if o.DrainTimeout == 0 {
		o.DrainTimeout = 30 * time.Second
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = 5 * time.Second
	}
	o.heartbeat = max(200*time.Millisecond, o.LeaseDuration/3)
	if o.WorkerID == "" {
		host, _ := os.Hostname()
		o.WorkerID = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	w := &Worker{c: c, o: o, handlers: map[string]Handler{}, held: map[string]*held{}, maxReached: make(chan struct{}), completions: make(chan completion, o.Concurrency)}
	w.changed = sync.NewCond(&w.mu)
	return w, nil
}

// Handle registers a handler for a task type ("*": any type without its own handler).
func (w *Worker) Handle(taskType string, h Handler) { w.handlers[taskType] = h }

// ID is the worker id the leases are held under.
func (w *Worker) ID() string { return w.o.WorkerID }

// Stats answers the counters so far.
func (w *Worker) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stats
}

// Completed answers the ids of tasks whose completion the server accepted.
func (w *Worker) Completed() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.completed...)
}

// Run works until ctx ends (use signal.NotifyContext for SIGTERM) or MaxTasks tasks ended, then
// drains: closes the stream, releases tasks not started, lets running handlers finish for
// DrainTimeout, then cancels and releases the rest.
func (w *Worker) Run(ctx context.Context) error {
	if len(w.handlers) == 0 {
		return errors.New("switchyard: no handler registered")
	}
	streamCtx, stopStream := context.WithCancel(context.Background())
	w.stopStream = stopStream
	var loops sync.WaitGroup
	loops.Add(2)
	go func() { defer loops.Done(); w.streamLoop(streamCtx) }()
	hbCtx, stopBeats := context.WithCancel(context.Background())
	go func() { defer loops.Done(); w.heartbeats(hbCtx) }()
	// Completions go on through the drain; the completer stops after it.
	go w.completer(hbCtx)
	select {
	case <-ctx.Done():
	case <-w.maxReached:
	}
	w.drain()
	stopBeats()
	loops.Wait()
	return nil
}

func (w *Worker) drain() {
	w.mu.Lock()
	w.stopping = true
	w.mu.Unlock()
	w.stopStream()
	w.mu.Lock()
	notStarted := []*held{}
	for _, h := range w.queue {
		if h.state == waiting {
			h.state = finishing
			notStarted = append(notStarted, h)
		}
	}
	w.queue = nil
	w.mu.Unlock()
	for _, h := range notStarted {
		w.release(h)
	}
	deadline := time.Now().Add(w.o.DrainTimeout)
	w.mu.Lock()
	for len(w.held) > 0 && time.Now().Before(deadline) {
		w.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		w.mu.Lock()
	}
	left := []*held{}
	for _, h := range w.held {
		if h.state == running {
			h.state = finishing
			left = append(left, h)
		}
	}
	w.mu.Unlock()
	for _, h := range left {
		h.cancel(ErrShutdown)
		w.release(h)
	}
	// Outcomes already on their way (completions in the batcher) are answered before Run returns.
	finishBy := time.Now().Add(10 * time.Second)
	w.mu.Lock()
	for len(w.held) > 0 && time.Now().Before(finishBy) {
		w.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
		w.mu.Lock()
	}
	w.mu.Unlock()
}

// ------------------------------------------------------------------ the stream

func (w *Worker) streamLoop(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		w.mu.Lock()
		for len(w.held) >= w.o.Concurrency && !w.stopping {
			w.mu.Unlock()
			time.Sleep(50 * time.Millisecond)
			w.mu.Lock()
		}
		if w.stopping {
			w.mu.Unlock()
			return
		}
		credits := int32(w.o.Concurrency - len(w.held))
		w.connecting, w.pendingGrants = true, 0
		w.mu.Unlock()

		req := &tasksv1.ConnectWorkerRequest{WorkerId: w.o.WorkerID, Queues: w.o.Queues, Capabilities: w.o.Capabilities, Credits: credits, LeaseDuration: durationpb.New(w.o.LeaseDuration)}
		stream, err := w.c.Tasks.ConnectWorker(ctx, connect.NewRequest(req))
		if err == nil {
			for stream.Receive() {
				switch m := stream.Msg().Message.(type) {
				case *tasksv1.ConnectWorkerResponse_Session:
					backoff = 100 * time.Millisecond
					w.onSession(m.Session.SessionId)
				case *tasksv1.ConnectWorkerResponse_Assigned:
					w.onAssigned(m.Assigned.Task, m.Assigned.Lease)
				case *tasksv1.ConnectWorkerResponse_Cancel:
					w.onCancel(m.Cancel)
				}
			}
			err = stream.Err()
			stream.Close()
		}
		w.mu.Lock()
		w.session, w.connecting = "", false
		w.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		if err != nil && !connection(ctx, err) {
			fmt.Fprintf(os.Stderr, "switchyard worker: stream refused: %v\n", wrap(err))
		}
		jitter := time.Duration(float64(backoff) * (0.5 + rand.Float64()/2))
		select {
		case <-ctx.Done():
			return
		case <-time.After(jitter):
		}
		backoff = min(w.o.MaxBackoff, backoff*2)
	}
}

func (w *Worker) onSession(id string) {
	w.mu.Lock()
	w.session, w.connecting = id, false
	grants := w.pendingGrants
	w.pendingGrants = 0
	w.stats.Sessions++
	w.mu.Unlock()
	if grants > 0 {
		w.grant(grants)
	}
}

func (w *Worker) onAssigned(task *tasksv1.Task, lease *tasksv1.Lease) {
	ctx, cancel := context.WithCancelCause(context.Background())
	w.mu.Lock()
	h := &held{task: task, lease: lease, session: w.session, ctx: ctx, cancel: cancel, lastBeat: time.Now()}
	if old, ok := w.held[task.Id]; ok {
		// Redelivered after our lease ran out: the old attempt's token is dead.
		old.cancel(ErrLeaseExpired)
		if old.state == waiting {
			old.state = done
		}
	}
	w.held[task.Id] = h
	if w.stopping {
		h.state = finishing
		w.mu.Unlock()
		w.release(h)
		return
	}
	w.queue = append(w.queue, h)
	w.pumpLocked()
	w.mu.Unlock()
}

func (w *Worker) onCancel(n *tasksv1.CancelNotice) {
	w.mu.Lock()
	h, ok := w.held[n.TaskId]
	if !ok || h.lease.FencingToken != n.FencingToken {
		w.mu.Unlock()
		return
	}
	h.cancelNoticed = true
	w.stats.Cancelled++
	if h.state == waiting {
		h.state = done
		delete(w.held, n.TaskId)
	}
	w.mu.Unlock()
	if n.Reason == tasksv1.CancelReason_CANCEL_REASON_LEASE_EXPIRED {
		h.cancel(ErrLeaseExpired)
	} else {
		h.cancel(ErrCancelled)
	}
}

func (w *Worker) grant(credits int32) {
	w.mu.Lock()
	session := w.session
	if session == "" {
		if w.connecting {
			w.pendingGrants += credits
		}
		w.mu.Unlock()
		return // the next session starts with the free slots
	}
	w.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = w.c.Tasks.GrantWorkerCredits(ctx, connect.NewRequest(&tasksv1.GrantWorkerCreditsRequest{SessionId: session, Credits: credits}))
}

// ------------------------------------------------------------------ slots

func (w *Worker) pumpLocked() {
	for w.running < w.o.Concurrency && len(w.queue) > 0 && !w.stopping {
		h := w.queue[0]
		w.queue = w.queue[1:]
		if h.state != waiting {
			continue
		}
		h.state = running
		w.running++
		go func() {
			w.execute(h)
			w.mu.Lock()
			w.running--
			w.pumpLocked()
			w.mu.Unlock()
		}()
	}
}

func (w *Worker) execute(h *held) {
	handler, ok := w.handlers[h.task.Type]
	if !ok {
		handler, ok = w.handlers["*"]
	}
	var result any
	var err error
	if !ok {
		err = &Failure{Err: fmt.Errorf("no handler for task type %q", h.task.Type), Reason: "HANDLER_NOT_FOUND"}
	} else {
		job := &Job{Task: h.task, Lease: h.lease, Payload: Value(h.task.Payload), h: h, w: w}
		result, err = safeCall(handler, h.ctx, job)
	}
	w.mu.Lock()
	if h.state != running { // released by the drain meanwhile
		w.mu.Unlock()
		return
	}
	h.state = finishing
	w.mu.Unlock()
	if cause := context.Cause(h.ctx); cause != nil {
		if errors.Is(cause, ErrShutdown) {
			w.release(h)
		} else {
			w.forget(h, false, nil)
		}
		return
	}
	var f *Failure
	switch {
	case err == nil:
		w.complete(h, result)
	case errors.As(err, &f):
		w.fail(h, f)
	default:
		w.fail(h, &Failure{Err: err, Retryable: true, Reason: fmt.Sprintf("%T", err)})
	}
}

func safeCall(h Handler, ctx context.Context, job *Job) (result any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &Failure{Err: fmt.Errorf("panic: %v", r), Retryable: false, Reason: "PANIC"}
		}
	}()
	return h(ctx, job)
}

// ------------------------------------------------------------------ outcomes

// finish calls complete/fail/release, retrying while the server is unreachable; it answers the
// refusal, if any.
func (w *Worker) finish(call func(context.Context) error, retried *bool) error {
	backoff := 50 * time.Millisecond
	deadline := time.Now().Add(max(60*time.Second, 2*w.o.LeaseDuration))
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := call(ctx)
		lost := connection(ctx, err)
		cancel()
		if err == nil {
			return nil
		}
		if !lost || time.Now().After(deadline) {
			return wrap(err)
		}
		if retried != nil {
			*retried = true
		}
		time.Sleep(time.Duration(float64(backoff) * (0.5 + rand.Float64()/2)))
		// Retries stay well inside the lease, so an outcome lands before the lease runs out.
		backoff = min(w.o.MaxBackoff, w.o.LeaseDuration/4, backoff*2)
	}
}

func (w *Worker) complete(h *held, result any) {
	var value *structpb.Value
	if result != nil {
		v, err := structpb.NewValue(normalize(result))
		if err != nil {
			w.fail(h, &Failure{Err: fmt.Errorf("result is not JSON: %w", err), Reason: "RESULT_NOT_JSON"})
			return
		}
		value = v
	}
	done := make(chan completionResult, 1)
	w.completions <- completion{&tasksv1.CompleteTaskRequest{Id: h.task.Id, FencingToken: h.lease.FencingToken, Result: value}, done}
	res := <-done
	refused, retried := res.refused, res.retried
	if refused != nil && retried && w.completedByUs(h) {
		refused = nil
	}
	if refused == nil {
		w.mu.Lock()
		w.stats.Completed++
		w.completed = append(w.completed, h.task.Id)
		w.mu.Unlock()
	}
	w.forget(h, refused == nil, refused)
}

type completion struct {
	req  *tasksv1.CompleteTaskRequest
	done chan completionResult
}

type completionResult struct {
	refused error
	retried bool
}

// completer sends completions in BatchCompleteTasks calls: whatever queued while the previous
// call was in flight goes in the next one (one durable commit for all); each is answered alone.
func (w *Worker) completer(ctx context.Context) {
	for {
		var batch []completion
		select {
		case <-ctx.Done():
			return
		case c := <-w.completions:
			batch = append(batch, c)
		}
	more:
		for len(batch) < BatchLimit {
			select {
			case c := <-w.completions:
				batch = append(batch, c)
			default:
				break more
			}
		}
		reqs := make([]*tasksv1.CompleteTaskRequest, len(batch))
		for i, c := range batch {
			reqs[i] = c.req
		}
		retried := false
		var results []*tasksv1.BatchCompleteResult
		refused := w.finish(func(ctx context.Context) error {
			res, err := w.c.Tasks.BatchCompleteTasks(ctx, connect.NewRequest(&tasksv1.BatchCompleteTasksRequest{Requests: reqs}))
			if err == nil {
				results = res.Msg.Results
			}
			return err
		}, &retried)
		for i, c := range batch {
			switch {
			case refused != nil:
				c.done <- completionResult{refused, retried}
			case i >= len(results):
				c.done <- completionResult{&Error{Code: connect.CodeInternal, Message: "no result for this completion"}, retried}
			case !results[i].Ok:
				c.done <- completionResult{&Error{Code: connect.CodeFailedPrecondition, Reason: results[i].ErrorReason, Message: results[i].ErrorMessage}, retried}
			default:
				c.done <- completionResult{nil, retried}
			}
		}
	}
}

// completedByUs: after a connection loss, a refused retry may mean the first try was committed and
// only its answer lost: the task SUCCEEDED under this worker at this attempt (a new claim counts one more).
func (w *Worker) completedByUs(h *held) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	t, err := w.c.Get(ctx, h.task.Id)
	return err == nil && t.State == tasksv1.TaskState_TASK_STATE_SUCCEEDED && t.WorkerId == w.o.WorkerID && t.Attempt == h.task.Attempt
}

func (w *Worker) fail(h *held, f *Failure) {
	te := &tasksv1.TaskError{Message: truncate(f.Error(), 4000), Retryable: f.Retryable, Reason: f.Reason}
	if f.Details != nil {
		if s, err := structpb.NewStruct(f.Details); err == nil {
			te.Details = s
		}
	}
	req := &tasksv1.FailTaskRequest{Id: h.task.Id, FencingToken: h.lease.FencingToken, Error: te}
	if f.RetryDelay > 0 {
		req.RetryDelay = durationpb.New(f.RetryDelay)
	}
	refused := w.finish(func(ctx context.Context) error {
		_, err := w.c.Tasks.FailTask(ctx, connect.NewRequest(req))
		return err
	}, nil)
	if refused == nil {
		w.mu.Lock()
		w.stats.Failed++
		w.mu.Unlock()
	}
	w.forget(h, refused == nil, refused)
}

func (w *Worker) release(h *held) {
	token := h.lease.FencingToken
	refused := w.finish(func(ctx context.Context) error {
		_, err := w.c.Tasks.ReleaseTask(ctx, connect.NewRequest(&tasksv1.ReleaseTaskRequest{Id: h.task.Id, FencingToken: &token}))
		return err
	}, nil)
	if refused == nil {
		w.mu.Lock()
		w.stats.Released++
		w.mu.Unlock()
	}
	w.forget(h, refused == nil, refused)
}

func (w *Worker) forget(h *held, accepted bool, refused error) {
	w.mu.Lock()
	if refused != nil {
		w.stats.Refused++
		if os.Getenv("DEBUG_SWITCHYARD_SDK") != "" {
			fmt.Fprintf(os.Stderr, "switchyard worker: outcome of %s refused: %v\n", h.task.Id, refused)
		}
	}
	h.state = done
	if w.held[h.task.Id] == h {
		delete(w.held, h.task.Id)
	}
	h.cancel(nil)
	w.finished++
	// The server gives the credit back itself for an accepted outcome on the session that pushed
	// the task, and for a cancel notice; every other slot freed is granted here.
	serverReturned := (accepted && h.session == w.session) || h.cancelNoticed
	stopping := w.stopping
	enough := w.o.MaxTasks > 0 && w.finished >= w.o.MaxTasks
	w.mu.Unlock()
	if !serverReturned && !stopping {
		w.grant(1)
	}
	if enough {
		select {
		case <-w.maxReached:
		default:
			close(w.maxReached)
		}
	}
}

// connection reports a failure of the connection rather than a refusal: transient codes, and
// "canceled" while our own context is live (connect-go reports a reset connection that way).
func connection(ctx context.Context, err error) bool {
	return err != nil && (transient(err) || (connect.CodeOf(err) == connect.CodeCanceled && ctx.Err() == nil))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// ------------------------------------------------------------------ heartbeats

func (w *Worker) beat(h *held) {
	w.mu.Lock()
	if h.state == done {
		w.mu.Unlock()
		return
	}
	p := h.progress
	h.progress = nil
	h.lastBeat = time.Now()
	w.mu.Unlock()
	req := &tasksv1.HeartbeatTaskRequest{Id: h.task.Id, FencingToken: h.lease.FencingToken}
	if p != nil {
		req.Progress = &p.percent
		if p.message != "" {
			req.ProgressMessage = &p.message
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := w.c.Tasks.HeartbeatTask(ctx, connect.NewRequest(req))
	if err != nil {
		if connection(ctx, err) {
			w.mu.Lock()
			if p != nil && h.progress == nil {
				h.progress = p // again with the next beat
			}
			w.mu.Unlock()
			return
		}
		if os.Getenv("DEBUG_SWITCHYARD_SDK") != "" {
			fmt.Fprintf(os.Stderr, "switchyard worker: heartbeat of %s refused: %v\n", h.task.Id, err)
		}
		h.cancel(ErrLeaseExpired)
		return
	}
	if res.Msg.CancelRequested {
		h.cancel(ErrCancelled)
	}
}

func (w *Worker) heartbeats(ctx context.Context) {
	tick := time.NewTicker(min(250*time.Millisecond, w.o.heartbeat))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := time.Now()
		w.mu.Lock()
		due := []*held{}
		for _, h := range w.held {
			if h.state != done && (h.progress != nil || now.Sub(h.lastBeat) >= w.o.heartbeat) {
				due = append(due, h)
			}
		}
		w.mu.Unlock()
		var wg sync.WaitGroup
		for _, h := range due {
			wg.Add(1)
			go func() { defer wg.Done(); w.beat(h) }()
		}
		wg.Wait()
	}
}
