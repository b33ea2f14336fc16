"""boto3 over HTTP: ``replayflow serve`` against AWS's ``dex-local-runner``, in the same run.

``python -m benchmarks.http`` (also ``python -m benchmarks http``). Both services run as their own
processes on 127.0.0.1; this process is the client, with one boto3 ``lambda`` client per service.

* **Calls.** One execution of :func:`benchmarks.http_workflows.await_callback` per service, parked on its
  callback. The client times ``--calls`` calls of each of GetDurableExecution,
  GetDurableExecutionHistory and SendDurableExecutionCallbackHeartbeat per round, rounds interleaved
  between the services (so load on the machine hits both alike), and the same GetDurableExecution
  without boto3 (``http.client``), which shows what the servers themselves cost. Reported: median and
  p90 ms per call, and calls per second (calls / total time).
* **Workflow.** The official SDK's ``steps`` handler with ``--steps`` steps, each checkpointed by the SDK's
  own boto3 client over HTTP, started by the client and polled (every 20 ms) until it ends: wall seconds and
  ms per step. ``replayflow serve`` runs it in its worker processes (as it hosts any official-SDK handler);
  the emulator invokes it through a :class:`replayflow.local.LambdaInvokeServer` in this process.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["CREDENTIALS", "EmulatorDidNotStart", "dex_local_runner", "find_runner", "main"]

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-west-2"}
APIS = ("GetDurableExecution", "GetDurableExecutionHistory", "SendDurableExecutionCallbackHeartbeat")
RAW = "GetDurableExecution, raw http.client"
REPLAYFLOW, EMULATOR = "replayflow serve", "dex-local-runner"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _client(url: str) -> Any:
    import boto3

    return boto3.client(
        "lambda", endpoint_url=url, region_name="us-west-2", aws_access_key_id="x", aws_secret_access_key="x"
    )


def _connects(port: int) -> bool:
    """Whether a TCP connection to 127.0.0.1:``port`` is accepted (raises OSError while nothing listens)."""
    socket.create_connection(("127.0.0.1", port), timeout=1).close()
    return True


def _wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except OSError:
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


class EmulatorDidNotStart(RuntimeError):
    """dex-local-runner exited or did not answer its health check in time (the message holds its output)."""


def find_runner() -> str | None:
    """The ``dex-local-runner`` executable (AWS's emulator, from the test extra), if installed."""
    local = Path(sys.executable).with_name("dex-local-runner")
    return str(local) if local.exists() else shutil.which("dex-local-runner")


def _runner() -> str:
    found = find_runner()
    if not found:
        raise SystemExit("dex-local-runner is not installed: pip install -e '.[test]'")
    return found


@contextmanager
def dex_local_runner(
    port: int, lambda_url: str, *, invocation_timeout: int, skip_time: bool = False, start_timeout: float = 120
) -> Iterator[subprocess.Popen[bytes]]:
    """AWS's emulator serving on 127.0.0.1:``port`` and invoking functions at ``lambda_url``; it answers its
    health check when this yields, and is stopped after. Its output goes to a file (a pipe nobody reads
    could fill and stall it) and is in the error if it does not start within ``start_timeout``
    (``--skip-time``: its waits do not wait). It runs through :mod:`benchmarks.dex_runner`, which fixes a
    race in the emulator that left an execution hanging after a wait or retry now and then."""
    import tempfile

    _runner()  # installed, or say how to install it

    url = f"http://127.0.0.1:{port}"
    args = ["start-server", "--host", "127.0.0.1", "--port", str(port), "--lambda-endpoint", lambda_url]
    args += ["--local-runner-endpoint", url, "--invocation-timeout", str(invocation_timeout), "--log-level", "WARNING"]
    args += ["--skip-time"] if skip_time else []
    with tempfile.TemporaryFile() as output:
        root = str(Path(__file__).resolve().parent.parent)  # benchmarks.dex_runner, from any directory
        path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
        env = {**os.environ, **CREDENTIALS, "PYTHONPATH": path}
        process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.dex_runner", *args], env=env, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + start_timeout  # bounds a hang only
            while not _answers(f"{url}/health"):
                if process.poll() is not None or time.monotonic() > deadline:
                    output.seek(0)
                    raise EmulatorDidNotStart(f"the emulator did not start: {output.read().decode(errors='replace')}")
                time.sleep(0.1)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=1).read()
    except OSError:
        return False
    return True


@contextmanager
def replayflow_serve() -> Iterator[str]:
    """``replayflow serve`` (request log on, as users run it) in its own process; yields its URL."""
    port = _free_port()
    specs = ["benchmarks.http_workflows:await_callback", "benchmarks.http_workflows:steps"]
    process = subprocess.Popen(
        [sys.executable, "-m", "replayflow", "serve", *specs, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **CREDENTIALS},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until(lambda: _connects(port), 60, "serve")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def emulator() -> Iterator[tuple[str, Any]]:
    """AWS's emulator in its own process, invoking our handlers through a Lambda endpoint in this one."""
    import replayflow
    from replayflow.local import LambdaInvokeServer

    from .http_workflows import await_callback, official_steps

    with LambdaInvokeServer({}) as lambdas:
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        transport = replayflow.AwsTransport(endpoint_url=url, region_name="us-west-2")
        lambdas.handlers["await_callback"] = replayflow.durable(transport=transport)(await_callback)
        lambdas.handlers["steps"] = official_steps(_client(url))
        with dex_local_runner(port, lambdas.url, invocation_timeout=300):
            yield url, lambdas


def _start(system: str, url: str, function: str, payload: Any, name: str) -> str:
    """Start an execution asynchronously; its ARN."""
    if system == REPLAYFLOW:
        response = _client(url).invoke(
            FunctionName=function, InvocationType="Event", Payload=json.dumps(payload), DurableExecutionName=name
        )
        return str(response["DurableExecutionArn"])
    body = {
        "AccountId": "123456789012",
        "FunctionName": function,
        "FunctionQualifier": "$LATEST",
        "ExecutionName": name,
        "ExecutionTimeoutSeconds": 3600,
        "ExecutionRetentionPeriodDays": 1,
        "Input": json.dumps(payload),
    }
    request = urllib.request.Request(
        f"{url}/start-durable-execution",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    return str(json.loads(urllib.request.urlopen(request, timeout=30).read())["ExecutionArn"])


class _Target:
    """One service under test: its client, the parked execution and its callback id."""

    def __init__(self, system: str, url: str) -> None:
        self.system, self.url = system, url
        self.client = _client(url)
        self.arn = _start(system, url, "await_callback", {}, f"bench-{os.getpid()}")
        self.callback_id = _wait_until(self._callback_id, 60, f"the callback on {system}")

    def _callback_id(self) -> str | None:
        events = self.client.get_durable_execution_history(DurableExecutionArn=self.arn)["Events"]
        started = [e for e in events if e["EventType"] == "CallbackStarted"]
        return started[0]["CallbackStartedDetails"]["CallbackId"] if started else None

    def call(self, api: str) -> Callable[[], Any]:
        client, arn, callback_id = self.client, self.arn, self.callback_id
        if api == RAW:
            return self._raw()
        if api == "GetDurableExecution":
            return lambda: client.get_durable_execution(DurableExecutionArn=arn)
        if api == "GetDurableExecutionHistory":
            return lambda: client.get_durable_execution_history(DurableExecutionArn=arn)
        return lambda: client.send_durable_execution_callback_heartbeat(CallbackId=callback_id)

    def _raw(self) -> Callable[[], Any]:
        """The same GET without boto3: one connection, kept alive when the server allows it."""
        split = urllib.parse.urlsplit(self.url)
        path = "/2025-12-01/durable-executions/" + urllib.parse.quote(self.arn, safe="")
        conn = [http.client.HTTPConnection(split.hostname or "127.0.0.1", split.port)]

        def call() -> None:
            conn[0].request("GET", path)
            response = conn[0].getresponse()
            if response.status != 200:
                raise RuntimeError(f"{self.system}: GET {path} answered {response.status}")
            response.read()
            if response.will_close:
                conn[0].close()
                conn[0] = http.client.HTTPConnection(split.hostname or "127.0.0.1", split.port)

        return call


def _time_calls(call: Callable[[], Any], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        call()
        out.append(time.perf_counter() - t0)
    return out


def _workflow(system: str, url: str, n: int, index: int) -> float:
    client = _client(url)
    t0 = time.perf_counter()
    arn = _start(system, url, "steps", {"n": n}, f"steps-{os.getpid()}-{index}")
    while (described := client.get_durable_execution(DurableExecutionArn=arn))["Status"] == "RUNNING":
        time.sleep(0.02)
    elapsed = time.perf_counter() - t0
    if described["Status"] != "SUCCEEDED" or json.loads(described["Result"]) != n * (n - 1) // 2:
        raise RuntimeError(f"{system}: the steps workflow ended {described['Status']}: {described}")
    return elapsed


def measure(calls: int, rounds: int, steps: int, workflow_rounds: int) -> dict[str, Any]:
    """Every sample, by system and API (seconds per call) and for the workflow (seconds per run)."""
    samples: dict[str, dict[str, list[float]]] = {REPLAYFLOW: {}, EMULATOR: {}}
    with replayflow_serve() as serve_url, emulator() as (emulator_url, _):
        targets = [_Target(REPLAYFLOW, serve_url), _Target(EMULATOR, emulator_url)]
        for target in targets:  # warm up connections and code paths
            for api in (*APIS, RAW):
                _time_calls(target.call(api), 20)
        for r in range(rounds):
            print(f"  calls: round {r + 1}/{rounds}", file=sys.stderr)
            for target in targets if r % 2 == 0 else targets[::-1]:
                for api in (*APIS, RAW):
                    samples[target.system].setdefault(api, []).extend(_time_calls(target.call(api), calls))
        if steps:
            for target in targets:  # warm up: the first run creates the SDK's boto3 client
                _workflow(target.system, target.url, 5, -1)
            for r in range(workflow_rounds):
                print(f"  workflow of {steps} steps: round {r + 1}/{workflow_rounds}", file=sys.stderr)
                for target in targets if r % 2 == 0 else targets[::-1]:
                    run = _workflow(target.system, target.url, steps, r)
                    samples[target.system].setdefault("workflow", []).append(run)
    return {"calls": calls, "rounds": rounds, "steps": steps, "samples": samples}


def _p90(values: list[float]) -> float:
    return sorted(values)[int(0.9 * (len(values) - 1))]


def report(result: dict[str, Any]) -> str:
    """The markdown tables."""
    samples = result["samples"]
    lines = [
        f"boto3 calls against each service, {result['rounds']} interleaved rounds of {result['calls']} calls"
        " per API (one client, keep-alive connections):",
        "",
        "| API | replayflow serve median / p90 | dex-local-runner median / p90 | replayflow calls/s "
        "| dex-local-runner calls/s | ratio |",
        "|---|---|---|---|---|---|",
    ]
    for api in (*APIS, "all", RAW):

        def values(system: str, api: str = api) -> list[float]:
            if api == "all":
                return [v for a in APIS for v in samples[system][a]]
            return list(samples[system][api])

        ours, theirs = values(REPLAYFLOW), values(EMULATOR)
        rate_ours, rate_theirs = len(ours) / sum(ours), len(theirs) / sum(theirs)
        lines.append(
            f"| {api} | {statistics.median(ours) * 1e3:.2f} / {_p90(ours) * 1e3:.2f} ms "
            f"| {statistics.median(theirs) * 1e3:.2f} / {_p90(theirs) * 1e3:.2f} ms "
            f"| {rate_ours:,.0f} | {rate_theirs:,.0f} | {rate_ours / rate_theirs:.2f}x |"
        )
    if result["steps"]:
        n = result["steps"]
        ours, theirs = samples[REPLAYFLOW]["workflow"], samples[EMULATOR]["workflow"]
        lines += [
            "",
            f"The official SDK's workflow of {n} steps (one checkpoint per step over HTTP, its own boto3 client),"
            f" median of {len(ours)} runs:",
            "",
            "| service | seconds per run | ms per step |",
            "|---|---|---|",
            f"| replayflow serve | {statistics.median(ours):.2f} | {statistics.median(ours) / n * 1e3:.2f} |",
            f"| dex-local-runner | {statistics.median(theirs):.2f} | {statistics.median(theirs) / n * 1e3:.2f} |",
        ]
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    lines += [
        "",
        f"`all` is the three boto3 APIs together; the raw row is the same GET without boto3 (the emulator"
        f" closes every connection, so it reconnects). Python {platform.python_version()},"
        f" {os.cpu_count()} CPUs, load average {load} when the run ended.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.http", description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="calls per API per round (default 200)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--steps", type=int, default=300, help="steps of the workflow row (0: skip it)")
    parser.add_argument("--workflow-rounds", type=int, default=3, help="runs of the workflow per service")
    parser.add_argument("--quick", action="store_true", help="20 calls x 2 rounds, a 20-step workflow once")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results"), help="where to write results")
    args = parser.parse_args(argv)
    if args.quick:
        args.calls, args.rounds, args.steps, args.workflow_rounds = 20, 2, 20, 1
    for key, value in CREDENTIALS.items():  # the handlers this process hosts for the emulator sign requests
        os.environ.setdefault(key, value)
    result = measure(args.calls, args.rounds, args.steps, args.workflow_rounds)
    text = report(result)
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "http-quick" if args.quick else "http"
    (out / f"{stem}.md").write_text(text)
    (out / f"{stem}.json").write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
