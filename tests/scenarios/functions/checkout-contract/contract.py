"""checkout-contract: the checkout team's contract suite, run by greenlight's `lambda` check.

It calls the service through its test listener (BASE_URL, set in the function's environment) and
checks the answers against the contract its clients rely on: an order is JSON with an integer
`order` and a decimal-string `total`. A status of 200 alone says nothing about the contract, which
is why an http check cannot stand in for this suite.
"""

import json
import os
import urllib.error
import urllib.request

CASES = ["/orders/42", "/orders/43", "/orders/44"]


def check_case(base_url, path):
    """None when the case holds, else what broke."""
    try:
        with urllib.request.urlopen(base_url + path, timeout=3) as answer:
            status, body = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return "GET {} answered {}".format(path, error.code)
    except OSError as error:
        return "GET {} failed: {}".format(path, error)
    if status != 200:
        return "GET {} answered {}".format(path, status)
    try:
        order = json.loads(body)
    except ValueError:
        return "GET {} answered a body that is not JSON".format(path)
    if not isinstance(order.get("order"), int):
        return "GET {} lacks the integer `order`".format(path)
    if not isinstance(order.get("total"), str):
        return "GET {} lacks the decimal-string `total` (got keys: {})".format(
            path, ", ".join(sorted(order))
        )
    return None


def handler(event, context):
    base_url = os.environ["BASE_URL"]
    failures = [broke for broke in (check_case(base_url, path) for path in CASES) if broke]
    evidence = [
        {
            "measured": "failed contract cases",
            "value": len(failures),
            "threshold": "0",
            "samples": len(CASES),
            "resource": base_url,
        }
    ]
    if failures:
        return {
            "result": "fail",
            "reason": "checkout contract: {} of {} cases failed ({})".format(
                len(failures), len(CASES), failures[0]
            ),
            "evidence": evidence,
        }
    return {"result": "pass", "reason": "checkout contract: all {} cases hold".format(len(CASES)), "evidence": evidence}
