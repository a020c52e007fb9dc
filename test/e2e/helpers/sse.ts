/** One Server-Sent Event as a client (curl -N, EventSource) reads it. */
export interface SseEvent {
  id: string | undefined;
  event: string;
  data: Record<string, unknown>;
}

/** Reads an SSE response frame by frame, like `curl -N` piped to a parser. */
export async function* readSse(res: Response): AsyncGenerator<SseEvent> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let id: string | undefined;
        let event = "message";
        const data: string[] = [];
        for (const line of frame.split("\n")) {
          if (line.startsWith(":")) continue;
          if (line.startsWith("id: ")) id = line.slice(4);
          else if (line.startsWith("event: ")) event = line.slice(7);
          else if (line.startsWith("data: ")) data.push(line.slice(6));
        }
        if (data.length === 0) continue;
        yield { id, event, data: JSON.parse(data.join("\n")) };
      }
    }
  } finally {
    reader.releaseLock();
  }
}

/** Reads events until `stop` says so (inclusive) or the stream ends; fails after `ms`. */
export async function collect(events: AsyncGenerator<SseEvent>, stop: (e: SseEvent) => boolean = () => false, ms = 30_000): Promise<SseEvent[]> {
  const out: SseEvent[] = [];
  const deadline = Date.now() + ms;
  for (;;) {
    const next = await Promise.race([events.next(), Bun.sleep(Math.max(0, deadline - Date.now())).then(() => "timeout" as const)]);
    if (next === "timeout") throw new Error(`SSE timed out after ${out.map((e) => e.event).join(",")}`);
    if (next.done) return out;
    out.push(next.value);
    if (stop(next.value)) return out;
  }
}
