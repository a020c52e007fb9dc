"""OpenAI-compatible embeddings server for tests: POST /v1/embeddings with all-MiniLM-L6-v2
(numpy forward pass, see minilm.py). Prints `listening <port>` once ready.
POST /control {"fail": true|false, "delay_ms": N} makes it fail or answer slowly, so tests can
show what Switchyard does when its embedder is down or slow. GET /stats counts requests."""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from minilm import MiniLM

model = MiniLM()
lock = threading.Lock()
state = {"fail": False, "delay_ms": 0, "requests": 0, "texts": 0}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _send(self, status, body):
        data = json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (the slow-embedder tests do)

    def do_GET(self):
        if self.path == "/stats":
            return self._send(200, state)
        self._send(404, {"error": {"message": "not found"}})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", "0"))) or b"{}")
        if self.path == "/control":
            for k in ("fail", "delay_ms"):
                if k in body:
                    state[k] = body[k]
            return self._send(200, state)
        if self.path not in ("/v1/embeddings", "/embeddings"):
            return self._send(404, {"error": {"message": "not found"}})
        state["requests"] += 1
        if state["delay_ms"]:
            time.sleep(state["delay_ms"] / 1000)
        if state["fail"]:
            return self._send(503, {"error": {"message": "model unavailable (test switch)"}})
        texts = body.get("input")
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            return self._send(400, {"error": {"message": "input must be a string or a list of strings"}})
        state["texts"] += len(texts)
        with lock:
            vectors = model.embed(texts) if texts else []
        self._send(200, {
            "object": "list",
            "model": body.get("model") or model.name,
            "data": [{"object": "embedding", "index": i, "embedding": [float(x) for x in v]} for i, v in enumerate(vectors)],
            "usage": {"prompt_tokens": 0, "total_tokens": 0},
        })


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()
