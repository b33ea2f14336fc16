"""Names the service makes and checks: ARNs, execution names, checkpoint tokens, callback ids."""

from __future__ import annotations

import base64
import re
import secrets
import uuid

__all__ = [
    "DEFAULT_ACCOUNT",
    "DEFAULT_REGION",
    "callback_id",
    "execution_arn",
    "function_arn",
    "new_execution_name",
    "new_request_id",
    "parse_function_target",
    "token_nonce",
    "valid_callback_id",
    "valid_execution_name",
    "valid_function_name",
]

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"
LATEST = "$LATEST"

_FUNCTION_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_EXECUTION_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_CALLBACK_ID = re.compile(r"[A-Za-z0-9+/]+={0,2}")
#: ``name``, ``name:qualifier``, ``account:function:name``, or a full/partial function ARN.
_TARGET = re.compile(
    r"(?:arn:(?:aws[a-zA-Z-]*)?:lambda:)?(?:(?P<region>(?:eusc-)?[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d):)?"
    r"(?:(?P<account>\d{12}):)?(?:function:)?(?P<name>[a-zA-Z0-9_.-]+)(?::(?P<qualifier>\$LATEST(?:\.PUBLISHED)?|[a-zA-Z0-9_-]+))?"
)


def valid_function_name(name: str) -> bool:
    """A function name usable in a durable execution ARN (letters, digits, ``-``, ``_``; 1..64)."""
    return bool(_FUNCTION_NAME.fullmatch(name))


def valid_execution_name(name: str) -> bool:
    """The model's ``DurableExecutionName``: ``[a-zA-Z0-9-_]+``, 1..64 characters."""
    return bool(_EXECUTION_NAME.fullmatch(name))


def valid_callback_id(value: str) -> bool:
    return 0 < len(value) <= 1024 and bool(_CALLBACK_ID.fullmatch(value))


def function_arn(name: str, region: str, account: str, qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def execution_arn(function: str, execution_name: str, execution_id: str, region: str, account: str) -> str:
    """``arn:aws:lambda:<region>:<account>:function:<fn>:$LATEST/durable-execution/<name>/<id>``."""
    return f"{function_arn(function, region, account, LATEST)}/durable-execution/{execution_name}/{execution_id}"


def new_execution_name() -> str:
    return str(uuid.uuid4())


def new_execution_id() -> str:
    return uuid.uuid4().hex


def new_request_id() -> str:
    return str(uuid.uuid4())


def token_nonce() -> str:
    """A random prefix for one invocation's checkpoint tokens (base64 alphabet, no padding)."""
    return base64.b64encode(secrets.token_bytes(18)).decode()


def callback_id() -> str:
    """An unguessable callback id matching the model's pattern ``[A-Za-z0-9+/]+={0,2}``."""
    return base64.b64encode(secrets.token_bytes(30)).decode()


def parse_function_target(target: str) -> tuple[str, str | None, str | None, str | None] | None:
    """``(name, qualifier, region, account)`` of a chained-invoke ``FunctionName``, or ``None`` if malformed."""
    match = _TARGET.fullmatch(target)
    if match is None:
        return None
    return match["name"], match["qualifier"], match["region"], match["account"]
