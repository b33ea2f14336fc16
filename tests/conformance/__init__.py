"""The AWS durable execution conformance suite, run against the local durable service.

Importing this package in a worker process that the harness started routes that process's log output to
the harness (see :mod:`tests.conformance.runtime_logs`); anywhere else it does nothing.
"""

from .runtime_logs import install_from_environment

install_from_environment()
