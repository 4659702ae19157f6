"""Error answers of the scoring server that echo nothing a request sent.

MLflow's scoring app words a failed request as `Failed to predict data '<the whole
table>'. Error: …` and adds a `stack_trace`: a request's claim lines, patient ids
included, would come back in the body (and land in any client's log). `QuietErrors`
sits in front of the app: an error answer keeps its status and `error_code` and says
what is wrong (MLflow's own reason, `Model is missing inputs ['claim_id']`), with
the table cut out, any cell value of the request that is still quoted replaced by
`…`, and no stack trace. Successful answers pass untouched.
"""

from __future__ import annotations

import json
import re

REDACTED = "…"
MAX_MESSAGE = 500
_MIN_VALUE = 3  # shorter cells ("1", "Y", "12") identify nobody, and would blot out the message's words
# MLflow's messages that quote the input table (the reason follows the last "Error: "), and the
# marker after which it appends the raw body of a request it could not parse
_CARRIES_TABLE = ("Failed to predict data", "Failed to enforce schema of data")
_RAW_BODY = " Input:"


class QuietErrors:
    """ASGI middleware: error answers (status >= 400) of POST /invocations rewritten by `quiet_body`."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("path") != "/invocations":
            return await self.app(scope, receive, send)
        request: list[bytes] = []
        start: dict | None = None
        parts: list[bytes] = []

        async def receive_and_keep():
            message = await receive()
            if message.get("type") == "http.request":
                request.append(message.get("body", b""))
            return message

        async def send_quietly(message):
            nonlocal start
            if message["type"] == "http.response.start" and message.get("status", 200) >= 400:
                start = message  # held until the body is whole
                return None
            if start is None or message["type"] != "http.response.body":
                return await send(message)
            parts.append(message.get("body", b""))
            if message.get("more_body", False):
                return None
            body = quiet_body(b"".join(parts), b"".join(request))
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
            return await send({"type": "http.response.body", "body": body})

        return await self.app(scope, receive_and_keep, send_quietly)


def quiet_body(body: bytes, request: bytes) -> bytes:
    """`{"error_code", "message"}` with no input value and no stack trace."""
    try:
        answer = json.loads(body)
    except ValueError:
        answer = {"message": body.decode("utf-8", "replace")}
    if not isinstance(answer, dict):
        answer = {"message": str(answer)}
    quiet = {"error_code": str(answer.get("error_code", "BAD_REQUEST"))}
    quiet["message"] = quiet_message(str(answer.get("message", "")), request)
    return json.dumps(quiet).encode()


def quiet_message(message: str, request: bytes) -> str:
    text = message.split(_RAW_BODY, 1)[0]
    if any(marker in text for marker in _CARRIES_TABLE):
        text = "the request could not be scored: " + text.rsplit("Error: ", 1)[-1]
    for value in sorted(_cell_values(request), key=len, reverse=True):
        text = text.replace(value, REDACTED)
    text = re.sub(r"'[^']{200,}'", REDACTED, text)  # a long quoted repr (a table) without "Error: "
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + REDACTED


def _cell_values(request: bytes) -> set[str]:
    """Every cell value of the request (JSON `dataframe_split`/`dataframe_records`/`instances`/`inputs`,
    or CSV) at least `_MIN_VALUE` characters long, column names excepted."""
    try:
        data = json.loads(request)
    except ValueError:
        rows = request.decode("utf-8", "replace").splitlines()
        header = set(rows[0].split(",")) if rows else set()
        cells = {c.strip().strip('"') for row in rows[1:] for c in row.split(",")}
        return {c for c in cells - header if len(c) >= _MIN_VALUE}
    names: set[str] = set()
    values: set[str] = set()

    def walk(node, key_is_name: bool = False) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                names.add(str(k))
                walk(v, key_is_name=k == "columns")
        elif isinstance(node, list):
            for item in node:
                if key_is_name and not isinstance(item, (list, dict)):
                    names.add(str(item))
                else:
                    walk(item)
        elif node is not None and not isinstance(node, bool):
            values.add(str(node).strip())

    walk(data)
    return {v for v in values - names if len(v) >= _MIN_VALUE}
