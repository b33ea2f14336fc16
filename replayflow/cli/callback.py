"""``replayflow callback succeed|fail|heartbeat CALLBACK_ID``: answer a callback, as an external system does.

Sends ``SendDurableExecutionCallbackSuccess`` / ``Failure`` / ``Heartbeat`` with boto3 to a running
``replayflow serve`` (``--endpoint``, default ``$REPLAYFLOW_ENDPOINT`` or http://127.0.0.1:9200), or to
any endpoint speaking the Lambda API.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from .serve import DEFAULT_PORT

__all__ = ["add_parser", "run"]


def add_parser(parser: argparse.ArgumentParser) -> None:
    """Declare the command's arguments."""
    parser.add_argument("action", choices=["succeed", "fail", "heartbeat"])
    parser.add_argument("callback_id", metavar="CALLBACK_ID")
    parser.add_argument("--result", help="succeed: the result payload, sent as given (e.g. JSON text)")
    parser.add_argument("--error-type", help="fail: the error type")
    parser.add_argument("--error-message", help="fail: the error message")
    parser.add_argument("--error-data", help="fail: error data")
    parser.add_argument(
        "--endpoint",
        default=os.environ.get("REPLAYFLOW_ENDPOINT", f"http://127.0.0.1:{DEFAULT_PORT}"),
        help="the service endpoint (default: $REPLAYFLOW_ENDPOINT or the `replayflow serve` default)",
    )


def run(args: argparse.Namespace) -> int:
    """Send the answer; 0 when the service accepted it, 1 when it refused (with its error)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    client: Any = boto3.client(
        "lambda",
        endpoint_url=args.endpoint,
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "local"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "local"),
    )
    try:
        if args.action == "succeed":
            kwargs: dict[str, Any] = {"CallbackId": args.callback_id}
            if args.result is not None:
                kwargs["Result"] = args.result.encode()
            client.send_durable_execution_callback_success(**kwargs)
        elif args.action == "fail":
            error = {
                key: value
                for key, value in (
                    ("ErrorType", args.error_type),
                    ("ErrorMessage", args.error_message),
                    ("ErrorData", args.error_data),
                )
                if value is not None
            }
            client.send_durable_execution_callback_failure(CallbackId=args.callback_id, Error=error)
        else:
            client.send_durable_execution_callback_heartbeat(CallbackId=args.callback_id)
    except ClientError as exc:
        details: Any = exc.response.get("Error", {})
        print(f"replayflow callback: {details.get('Code')}: {details.get('Message')}", file=sys.stderr)
        return 1
    except BotoCoreError as exc:
        print(f"replayflow callback: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"callback": args.callback_id, "sent": args.action}))
    return 0
