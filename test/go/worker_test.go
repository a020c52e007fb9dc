// A Go worker, as a Go user would write one from the generated stubs: a worker stream with
// credits (starting at zero), fencing tokens, and ErrorInfo decoded from gRPC status details.
package worker_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	tasksv1 "github.com/switchyard/switchyard/gen/go/switchyard/tasks/v1"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
)

func client(t *testing.T) tasksv1.TaskServiceClient {
	t.Helper()
	addr := os.Getenv("SWITCHYARD_ADDR")
	if addr == "" {
		t.Fatal("SWITCHYARD_ADDR is not set (host:port of a running Switchyard)")
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return tasksv1.NewTaskServiceClient(conn)
}

// errorInfo returns the google.rpc.ErrorInfo carried by a gRPC error.
func errorInfo(t *testing.T, err error) (*errdetails.ErrorInfo, codes.Code) {
	t.Helper()
	st := status.Convert(err)
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info, st.Code()
		}
	}
	t.Fatalf("no ErrorInfo in %v", err)
	return nil, st.Code()
}

func TestWorkerStreamCompletesPushedTasks(t *testing.T) {
	tasks := client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	queue := fmt.Sprintf("go-worker-%d", time.Now().UnixNano())
	for i := 0; i < 3; i++ {
		if _, err := tasks.CreateTask(ctx, &tasksv1.CreateTaskRequest{Task: &tasksv1.Task{Queue: queue, Title: fmt.Sprintf("go task %d", i)}}); err != nil {
			t.Fatal(err)
		}
	}
	// Zero credits: the stream only wants pings until credits are granted.
	stream, err := tasks.ConnectWorker(ctx, &tasksv1.ConnectWorkerRequest{WorkerId: "go-worker", Queues: []string{queue}, Credits: 0})
	if err != nil {
		t.Fatal(err)
	}
	first, err := stream.Recv()
	if err != nil {
		t.Fatalf("a stream with credits 0 was refused: %v", err)
	}
	session := first.GetSession()
	if session == nil || session.SessionId == "" {
		t.Fatalf("first message is not the session: %v", first)
	}
	if _, err := tasks.GrantWorkerCredits(ctx, &tasksv1.GrantWorkerCreditsRequest{SessionId: session.SessionId, Credits: 3}); err != nil {
		t.Fatal(err)
	}
	done := 0
	for done < 3 {
		msg, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		a := msg.GetAssigned()
		if a == nil {
			continue
		}
		token := a.Lease.FencingToken
		req := &tasksv1.CompleteTaskRequest{Id: a.Task.Id, FencingToken: token, Result: structpb.NewStringValue("done in Go")}
		out, err := tasks.CompleteTask(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if out.Task.State != tasksv1.TaskState_TASK_STATE_SUCCEEDED {
			t.Fatalf("task %s is %v after complete", a.Task.Id, out.Task.State)
		}
		done++
	}
}

func TestStaleFencingTokenIsRefusedWithErrorInfo(t *testing.T) {
	tasks := client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	queue := fmt.Sprintf("go-fence-%d", time.Now().UnixNano())
	created, err := tasks.CreateTask(ctx, &tasksv1.CreateTaskRequest{Task: &tasksv1.Task{Queue: queue, Title: "fenced"}})
	if err != nil {
		t.Fatal(err)
	}
	id := created.Task.Id
	first, err := tasks.ClaimTask(ctx, &tasksv1.ClaimTaskRequest{Id: id, WorkerId: "go-a"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tasks.ReleaseTask(ctx, &tasksv1.ReleaseTaskRequest{Id: id}); err != nil {
		t.Fatal(err)
	}
	second, err := tasks.ClaimTask(ctx, &tasksv1.ClaimTaskRequest{Id: id, WorkerId: "go-b"})
	if err != nil {
		t.Fatal(err)
	}
	if second.Lease.FencingToken <= first.Lease.FencingToken {
		t.Fatalf("fencing token did not grow: %d then %d", first.Lease.FencingToken, second.Lease.FencingToken)
	}
	_, err = tasks.CompleteTask(ctx, &tasksv1.CompleteTaskRequest{Id: id, FencingToken: first.Lease.FencingToken})
	if err == nil {
		t.Fatal("a completion with the stale token was accepted")
	}
	info, code := errorInfo(t, err)
	if info.Domain != "switchyard" || info.Reason != "LEASE_LOST" || code != codes.FailedPrecondition {
		t.Fatalf("stale token: got %v %s/%s, want FailedPrecondition switchyard/LEASE_LOST", code, info.Domain, info.Reason)
	}
	if _, err := tasks.CompleteTask(ctx, &tasksv1.CompleteTaskRequest{Id: id, FencingToken: second.Lease.FencingToken}); err != nil {
		t.Fatalf("the holder's completion was refused: %v", err)
	}
	// Bad input names its field in ErrorInfo too.
	_, err = tasks.GetTask(ctx, &tasksv1.GetTaskRequest{})
	info, code = errorInfo(t, err)
	if code != codes.InvalidArgument || info.Metadata["field"] != "id" {
		t.Fatalf("GetTask without id: got %v %s %v", code, info.Reason, info.Metadata)
	}
}
