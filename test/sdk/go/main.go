// Scenarios of the Go SDK against a real server, run by test/sdk/go-sdk.test.ts.
// Usage: scenarios URL SCENARIO QUEUE [JSON options]. Prints one JSON line with what happened.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"connectrpc.com/connect"
	switchyard "switchyard/sdk/go"
	tasksv1 "switchyard/sdk/go/gen/switchyard/tasks/v1"
)

type opts struct {
	N           int     `json:"n"`
	Concurrency int     `json:"concurrency"`
	Ms          int     `json:"ms"`
	Lease       float64 `json:"lease"`
	Drain       float64 `json:"drain"`
	WorkerID    string  `json:"worker_id"`
	MaxTasks    int     `json:"max_tasks"`
}

func print(v any) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

func stats(w *switchyard.Worker) map[string]any {
	s := w.Stats()
	return map[string]any{"completed": s.Completed, "failed": s.Failed, "released": s.Released, "refused": s.Refused, "sessions": s.Sessions, "cancelled": s.Cancelled}
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func state(t *tasksv1.Task) string { return t.State.String()[len("TASK_STATE_"):] }

func main() {
	url, scenario, queue := os.Args[1], os.Args[2], os.Args[3]
	var o opts
	if len(os.Args) > 4 {
		must(json.Unmarshal([]byte(os.Args[4]), &o))
	}
	ctx := context.Background()
	client := switchyard.NewClient(url)
	switch scenario {
	case "thousand":
		specs := make([]switchyard.TaskSpec, o.N)
		for i := range specs {
			specs[i] = switchyard.TaskSpec{Queue: queue, Type: "double", Payload: i}
		}
		created, err := client.EnqueueMany(ctx, specs)
		must(err)
		w, err := switchyard.NewWorker(client, switchyard.WorkerOptions{Queues: []string{queue}, WorkerID: "go-thousand", Concurrency: max(o.Concurrency, 1), MaxTasks: o.N})
		must(err)
		w.Handle("double", func(ctx context.Context, job *switchyard.Job) (any, error) { return job.Payload.(float64) * 2, nil })
		t0 := time.Now()
		must(w.Run(ctx))
		elapsed := time.Since(t0)
		print(map[string]any{"stats": stats(w), "completed": w.Completed(), "created": len(created), "elapsed_ms": elapsed.Milliseconds()})

	case "raw":
		// The loop a worker writes over the generated stubs alone (for the benchmark).
		specs := make([]switchyard.TaskSpec, o.N)
		for i := range specs {
			specs[i] = switchyard.TaskSpec{Queue: queue, Type: "double", Payload: i}
		}
		_, err := client.EnqueueMany(ctx, specs)
		must(err)
		t0 := time.Now()
		sctx, cancel := context.WithCancel(ctx)
		stream, err := client.Tasks.ConnectWorker(sctx, connect.NewRequest(&tasksv1.ConnectWorkerRequest{WorkerId: "go-raw", Queues: []string{queue}, Credits: int32(max(o.Concurrency, 1))}))
		must(err)
		var wg sync.WaitGroup
		seen := 0
		for seen < o.N && stream.Receive() {
			a := stream.Msg().GetAssigned()
			if a == nil {
				continue
			}
			seen++
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := client.Tasks.CompleteTask(ctx, connect.NewRequest(&tasksv1.CompleteTaskRequest{Id: a.Task.Id, FencingToken: a.Lease.FencingToken, Result: a.Task.Payload}))
				must(err)
			}()
		}
		wg.Wait()
		elapsed := time.Since(t0)
		cancel()
		print(map[string]any{"completed_count": seen, "elapsed_ms": elapsed.Milliseconds()})

	case "outcomes":
		three := int32(3)
		flaky, err := client.Enqueue(ctx, switchyard.TaskSpec{Queue: queue, Type: "flaky", Payload: map[string]any{"x": 1}, MaxAttempts: &three})
		must(err)
		bad, err := client.Enqueue(ctx, switchyard.TaskSpec{Queue: queue, Type: "bad", MaxAttempts: &three})
		must(err)
		slow, err := client.Enqueue(ctx, switchyard.TaskSpec{Queue: queue, Type: "progress", Payload: map[string]any{"steps": 3}})
		must(err)
		unknown, err := client.Enqueue(ctx, switchyard.TaskSpec{Queue: queue, Type: "nobody-handles-this", MaxAttempts: &three})
		must(err)
		var mu sync.Mutex
		attempts := []int32{}
		w, err := switchyard.NewWorker(client, switchyard.WorkerOptions{Queues: []string{queue}, WorkerID: "go-outcomes", Concurrency: 4})
		must(err)
		w.Handle("flaky", func(ctx context.Context, job *switchyard.Job) (any, error) {
			mu.Lock()
			attempts = append(attempts, job.Task.Attempt)
			mu.Unlock()
			if job.Task.Attempt == 1 {
				return nil, &switchyard.Failure{Err: errors.New("try again"), Retryable: true, Reason: "FLAKY", RetryDelay: 50 * time.Millisecond}
			}
			return map[string]any{"attempt": job.Task.Attempt}, nil
		})
		w.Handle("bad", func(ctx context.Context, job *switchyard.Job) (any, error) {
			return nil, &switchyard.Failure{Err: errors.New("cannot ever work"), Reason: "BAD_INPUT", Details: map[string]any{"why": "test"}}
		})
		w.Handle("progress", func(ctx context.Context, job *switchyard.Job) (any, error) {
			steps := int(job.Payload.(map[string]any)["steps"].(float64))
			for i := 0; i < steps; i++ {
				job.Progress(int32(100*(i+1)/steps), fmt.Sprintf("step %d", i+1))
				time.Sleep(50 * time.Millisecond)
			}
			return "async done", nil
		})
		wctx, stop := context.WithCancel(ctx)
		doneRun := make(chan struct{})
		go func() { _ = w.Run(wctx); close(doneRun) }()
		results := map[string]any{}
		for name, t := range map[string]*tasksv1.Task{"flaky": flaky, "bad": bad, "progress": slow, "unknown": unknown} {
			tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			r, err := client.Wait(tctx, t.Id)
			cancel()
			must(err)
			var e any
			if r.Error != nil {
				var details any
				if r.Error.Details != nil {
					details = r.Error.Details.AsMap()
				}
				e = map[string]any{"message": r.Error.Message, "retryable": r.Error.Retryable, "reason": r.Error.Reason, "details": details}
			}
			results[name] = map[string]any{"state": state(r), "result": switchyard.Value(r.Result), "error": e, "attempt": r.Attempt, "progress": r.Progress, "progress_message": r.ProgressMessage}
		}
		stop()
		<-doneRun
		print(map[string]any{"stats": stats(w), "completed": w.Completed(), "attempts": attempts, "results": results})

	case "cancel":
		w, err := switchyard.NewWorker(client, switchyard.WorkerOptions{Queues: []string{queue}, WorkerID: "go-cancel", Concurrency: 2, LeaseDuration: 5 * time.Second})
		must(err)
		started := make(chan struct{}, 3)
		var mu sync.Mutex
		causes := map[string]string{}
		w.Handle("wait", func(ctx context.Context, job *switchyard.Job) (any, error) {
			started <- struct{}{}
			select {
			case <-ctx.Done():
				mu.Lock()
				causes[job.Task.Id] = context.Cause(ctx).Error()
				mu.Unlock()
				return nil, ctx.Err()
			case <-time.After(20 * time.Second):
				return "not cancelled", nil
			}
		})
		wctx, stop := context.WithCancel(ctx)
		doneRun := make(chan struct{})
		go func() { _ = w.Run(wctx); close(doneRun) }()
		ids := []string{}
		for i := 0; i < 3; i++ {
			t, err := client.Enqueue(ctx, switchyard.TaskSpec{Queue: queue, Type: "wait", Payload: i})
			must(err)
			<-started
			_, err = client.Cancel(ctx, t.Id, "test")
			must(err)
			ids = append(ids, t.Id)
		}
		states := []string{}
		for _, id := range ids {
			tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			r, err := client.Wait(tctx, id)
			cancel()
			must(err)
			states = append(states, state(r))
		}
		for i := 0; i < 100; i++ {
			mu.Lock()
			n := len(causes)
			mu.Unlock()
			if n == 3 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		stop()
		<-doneRun
		reasons := []any{}
		mu.Lock()
		for _, id := range ids {
			reasons = append(reasons, causes[id])
		}
		mu.Unlock()
		_, err = client.Get(ctx, "no-such-task")
		print(map[string]any{"stats": stats(w), "completed": w.Completed(), "reasons": reasons, "states": states,
			"not_found": map[string]any{"is": errors.Is(err, switchyard.ErrTaskNotFound), "reason": switchyard.ReasonOf(err)}})

	case "work":
		if o.WorkerID == "" {
			o.WorkerID = "go-work"
		}
		w, err := switchyard.NewWorker(client, switchyard.WorkerOptions{Queues: []string{queue}, WorkerID: o.WorkerID, Concurrency: max(o.Concurrency, 1),
			LeaseDuration: time.Duration(max(o.Lease, 1) * float64(time.Second)), DrainTimeout: time.Duration(max(o.Drain, 10) * float64(time.Second)), MaxTasks: o.MaxTasks})
		must(err)
		var mu sync.Mutex
		executions := []string{}
		w.Handle("*", func(ctx context.Context, job *switchyard.Job) (any, error) {
			mu.Lock()
			executions = append(executions, job.Task.Id)
			mu.Unlock()
			time.Sleep(time.Duration(o.Ms) * time.Millisecond)
			return map[string]any{"by": w.ID(), "payload": job.Payload}, nil
		})
		sctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
		defer stop()
		print(map[string]any{"ready": true})
		must(w.Run(sctx))
		mu.Lock()
		print(map[string]any{"stats": stats(w), "completed": w.Completed(), "executions": executions})
		mu.Unlock()
	default:
		fmt.Fprintln(os.Stderr, "unknown scenario", scenario)
		os.Exit(2)
	}
}
