"""A process that runs (or resumes) ``steps_and_a_wait`` on a SQLite store: ``python -m ... DB DIR``."""

from __future__ import annotations

import json
import sys

from replayflow.local import LocalDurableService

from .workers import steps_and_a_wait


def main() -> None:
    db, directory = sys.argv[1], sys.argv[2]
    service = LocalDurableService(store=db)
    service.register("flow", steps_and_a_wait)
    listed = service.list_durable_executions_by_function(FunctionName="flow", DurableExecutionName="run-1")
    if listed["DurableExecutions"]:
        arn = listed["DurableExecutions"][0]["DurableExecutionArn"]
    else:
        arn = service.start_execution("flow", json.dumps({"dir": directory}), name="run-1")
    result = service.wait(arn, timeout=60)
    print(json.dumps({"status": result.status, "result": result.value, "arn": arn}), flush=True)
    service.close()


if __name__ == "__main__":
    main()
