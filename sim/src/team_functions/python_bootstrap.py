"""The rehearsal's Python runtime: the Lambda Runtime API loop of a Python function.

Lambda's Python runtime imports the handler module named by `_HANDLER` (`module.function`) from
`LAMBDA_TASK_ROOT` once, at init, then for each event asks the Runtime API for it, calls
`function(event, context)` and posts the answer, or the error it raised. This is that loop, with the
standard library only, so a team's check function runs here as it runs on Lambda.
"""

import importlib
import json
import os
import sys
import time
import traceback
import urllib.request

API = "http://{}/2018-06-01/runtime".format(os.environ["AWS_LAMBDA_RUNTIME_API"])


class Context:
    """What Lambda's context object offers a Python handler, as far as a check needs it."""

    def __init__(self, headers):
        self.aws_request_id = headers.get("Lambda-Runtime-Aws-Request-Id", "")
        self.invoked_function_arn = headers.get("Lambda-Runtime-Invoked-Function-Arn", "")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self._deadline_ms = int(headers.get("Lambda-Runtime-Deadline-Ms", "0") or 0)

    def get_remaining_time_in_millis(self):
        return max(0, self._deadline_ms - int(time.time() * 1000))


def post(path, payload, error_type=None):
    headers = {"Content-Type": "application/json"}
    if error_type:
        headers["Lambda-Runtime-Function-Error-Type"] = error_type
    request = urllib.request.Request(
        API + path, data=json.dumps(payload).encode("utf-8"), method="POST", headers=headers
    )
    with urllib.request.urlopen(request) as answer:
        answer.read()


def error_payload(error):
    return {
        "errorType": type(error).__name__,
        "errorMessage": str(error),
        "stackTrace": traceback.format_exception(type(error), error, error.__traceback__),
    }


def load_handler():
    module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
    if not module_name:
        raise ValueError("_HANDLER must be module.function, not {!r}".format(os.environ["_HANDLER"]))
    sys.path.insert(0, os.environ.get("LAMBDA_TASK_ROOT", "."))
    return getattr(importlib.import_module(module_name), function_name)


def main():
    try:
        handler = load_handler()
    except Exception as error:  # an init error: Lambda reports it and the function never runs
        post("/init/error", error_payload(error), "Runtime.ImportModuleError")
        sys.exit(1)
    while True:
        with urllib.request.urlopen(API + "/invocation/next") as request:
            headers = request.headers  # case-insensitive, as HTTP headers are
            event = json.loads(request.read() or b"null")
        context = Context(headers)
        request_id = context.aws_request_id
        try:
            answer = handler(event, context)
        except Exception as error:
            traceback.print_exc()
            post("/invocation/{}/error".format(request_id), error_payload(error), "Unhandled")
            continue
        post("/invocation/{}/response".format(request_id), answer)


if __name__ == "__main__":
    main()
