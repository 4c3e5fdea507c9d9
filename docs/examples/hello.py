"""The README's hello flow: two tasks, one submitted, run history recorded.

Run it with ``python docs/examples/hello.py``; then ``orch runs ls`` shows the run.
"""

from __future__ import annotations

from orch import flow, get_run_logger, task


@task(retries=2, retry_delay_seconds=1)
def greet(name: str) -> str:
    return f"hello, {name}"


@task
def shout(text: str) -> str:
    return text.upper() + "!"


@flow(name="hello")
def hello(names: list[str]) -> list[str]:
    greetings = [greet.submit(n) for n in names]  # run concurrently
    loud = [shout(g.result()) for g in greetings]
    get_run_logger().info("greeted %d people", len(loud))
    return loud


if __name__ == "__main__":
    for line in hello(["world", "data engineers"]):
        print(line)
