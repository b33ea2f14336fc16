"""replayflow benchmarks: replay speed, first-run throughput, memory and import time.

Every figure is measured side by side with the official ``aws-durable-execution-sdk-python`` (the ``bench``
extra) and a pure-Python floor loop, on the identical workload. Run ``python -m benchmarks`` (see
``benchmarks/README.md``).
"""
