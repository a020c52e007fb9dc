import { describe, expect, it } from "bun:test";
import { create, fromJson, toBinary, fromBinary } from "@bufbuild/protobuf";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { BatchCreateTasksRequestSchema, CreateTaskRequestSchema, ListTasksRequestSchema } from "../../../gen/switchyard/tasks/v1/tasks_service_pb.js";
import { TaskSchema } from "../../../gen/switchyard/tasks/v1/tasks_pb.js";
import { AppError } from "../../core/errors.ts";
import { validateMessage } from "./validation.ts";

/** The field an `invalid_argument` names, or undefined when the message passes. */
function fault(run: () => void): string | undefined {
  try {
    run();
    return undefined;
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    return (e as AppError).metadata.field as string;
  }
}

describe("request validation (the fields watched per message type)", () => {
  const batch = (tasks: ({ queue?: string } | undefined)[]) =>
    create(BatchCreateTasksRequestSchema, { requests: tasks.map((task) => ({ task: task && { queue: task.queue ?? "" } })) });

  it("passes a well-formed batch, payloads (google.protobuf values) included", () => {
    const payload = fromJson(ValueSchema, { a: [1, { b: "c" }] });
    expect(fault(() => validateMessage(BatchCreateTasksRequestSchema, create(BatchCreateTasksRequestSchema, { requests: [{ task: { queue: "q", payload } }] })))).toBeUndefined();
  });

  it("names a required field missing at the top, in a message field and in the n-th item of a list", () => {
    expect(fault(() => validateMessage(CreateTaskRequestSchema, create(CreateTaskRequestSchema, {})))).toBe("task");
    expect(fault(() => validateMessage(CreateTaskRequestSchema, create(CreateTaskRequestSchema, { task: {} })))).toBe("task.queue");
    expect(fault(() => validateMessage(BatchCreateTasksRequestSchema, batch([{ queue: "q" }, { queue: "q" }, undefined])))).toBe("requests[2].task");
    expect(fault(() => validateMessage(BatchCreateTasksRequestSchema, batch([{ queue: "q" }, { queue: "" }])))).toBe("requests[1].task.queue");
    // The first fault in field order, as before the per-type plan.
    expect(fault(() => validateMessage(BatchCreateTasksRequestSchema, batch([{ queue: "" }, undefined])))).toBe("requests[0].task.queue");
  });

  it("refuses a page size out of 0..1000 and passes the bounds", () => {
    expect(fault(() => validateMessage(ListTasksRequestSchema, create(ListTasksRequestSchema, { pageSize: 1001 })))).toBe("page_size");
    expect(fault(() => validateMessage(ListTasksRequestSchema, create(ListTasksRequestSchema, { pageSize: -1 })))).toBe("page_size");
    expect(fault(() => validateMessage(ListTasksRequestSchema, create(ListTasksRequestSchema, { pageSize: 1000 })))).toBeUndefined();
  });

  it("names a field number unknown to a nested message (as binary clients can send)", () => {
    // A Task with field 999 appended, inside a CreateTaskRequest.
    const task = toBinary(TaskSchema, create(TaskSchema, { queue: "q" }));
    const withUnknown = new BinaryWriter().raw(task).tag(999, 0).uint32(1).finish();
    const request = new BinaryWriter().tag(1, 2).bytes(withUnknown).finish();
    const message = fromBinary(CreateTaskRequestSchema, request);
    expect(fault(() => validateMessage(CreateTaskRequestSchema, message))).toBe("task.#999");
  });
});
