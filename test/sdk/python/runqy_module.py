# A task module written for runqy-python (github.com/Publikey/runqy-python), unchanged: @load
# runs once at start, @task once per payload, RetryableError asks for another attempt, any
# other exception fails the task for good, run() works until SIGTERM.
from runqy_python import RetryableError, load, run, task

seen = set()
loads = []


@load
def setup():
    loads.append(1)
    return {"model": "upper"}


@task
def process(payload, ctx):
    if payload.get("fail") == "once" and payload["text"] not in seen:
        seen.add(payload["text"])
        raise RetryableError("transient, try again")
    if payload.get("fail") == "hard":
        raise ValueError("bad payload")
    return {"text": payload["text"].upper(), "model": ctx["model"], "loads": len(loads)}


if __name__ == "__main__":
    run()
