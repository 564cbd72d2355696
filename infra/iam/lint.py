#!/usr/bin/env python3
"""Runs parliament (the IAM policy linter) over every permission policy in infra/iam/roles.json.

Fails on any finding of severity MEDIUM or above, and on every RESOURCE_MISMATCH (a statement
whose resources match none of an action's resource types), unless infra/iam/parliament-allow.yaml
lists it as a known false positive with a reason; an allow-list entry that matches no finding fails
too. LOW findings (such as RESOURCE_STAR for an action that also takes a condition key) are printed,
not failed. parliament runs with its built-in auditors and its own bundled IAM data, a second
opinion beside infra/tests/test_iam.py, which checks the template against authorization.json.

Then a self-test: a deliberately broken copy of a policy must be flagged.

Usage: lint.py   (needs parliament, from infra/tests/requirements-iam.txt, in .venv)
"""

from __future__ import annotations

import copy
import json
import sys
import warnings
from importlib.metadata import version
from pathlib import Path

import yaml

# parliament imports pkg_resources, which warns that it is deprecated on every import.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
from parliament import analyze_policy_string, enhance_finding  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
ROLES = ROOT / "infra" / "iam" / "roles.json"
ALLOW = ROOT / "infra" / "iam" / "parliament-allow.yaml"
SEVERITIES = ["MUTE", "INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL"]
FAIL_FROM = SEVERITIES.index("MEDIUM")
ALWAYS_FAIL = {"RESOURCE_MISMATCH"}


def finding_actions(detail) -> list[str]:
    """The actions a finding names (its detail is a list of actions, of {action: ...}, or text)."""
    items = detail if isinstance(detail, list) else [detail]
    actions = []
    for item in items:
        if isinstance(item, dict) and "action" in item:
            actions.append(str(item["action"]))
        elif isinstance(item, str):
            actions.append(item)
    return sorted(set(actions))


def findings_of(document: dict) -> list[dict]:
    policy = analyze_policy_string(json.dumps(document))
    out = []
    for finding in policy.findings:
        finding = enhance_finding(finding)
        out.append({
            "issue": finding.issue,
            "severity": finding.severity,
            "actions": finding_actions(finding.detail),
            "detail": finding.detail,
        })
    return out


def fails(finding: dict) -> bool:
    return finding["issue"] in ALWAYS_FAIL or SEVERITIES.index(finding["severity"]) >= FAIL_FROM


def lint(roles: list[dict], allow: list[dict]) -> tuple[list[str], list[str], int]:
    """(errors, notes, number of policies linted)."""
    errors, notes, used = [], {}, set()
    policies = 0
    for role in roles:
        for policy in role["policies"]:
            policies += 1
            for finding in findings_of(policy["document"]):
                where = f"{role['logical_id']} policy {policy['name']}"
                if not fails(finding):
                    key = (policy["name"], finding["severity"], finding["issue"], ", ".join(finding["actions"]))
                    notes.setdefault(key, []).append(role["logical_id"])
                    continue
                match = next(
                    (i for i, entry in enumerate(allow)
                     if entry.get("role") == role["logical_id"] and entry.get("policy") == policy["name"]
                     and entry.get("issue") == finding["issue"]
                     and sorted(set(entry.get("actions", []))) == finding["actions"]),
                    None,
                )
                if match is not None:
                    used.add(match)
                    continue
                errors.append(f"{where}: {finding['severity']} {finding['issue']} {json.dumps(finding['detail'])}")
    for index, entry in enumerate(allow):
        if index not in used:
            errors.append(f"{ALLOW.relative_to(ROOT)} entry {entry!r} matches no finding: remove it")
    note_lines = [
        f"{severity} {issue} {actions or ''} in {policy} ({', '.join(roles_)})"
        for (policy, severity, issue, actions), roles_ in sorted(notes.items())
    ]
    return errors, note_lines, policies


def load_allow() -> list[dict]:
    data = yaml.safe_load(ALLOW.read_text()) or {}
    allow = data.get("allow") or []
    for entry in allow:
        missing = {"role", "policy", "issue", "actions", "reason"} - set(entry)
        if missing or not str(entry.get("reason", "")).strip():
            raise SystemExit(f"FAIL {ALLOW.relative_to(ROOT)}: entry {entry!r} needs role, policy, issue, "
                             "actions and a reason")
    return allow


# Self-test: parliament must flag these breakages of roles.json's policies.
def _report_status_on_deployment_group(roles):
    role = next(r for r in roles if r["logical_id"] == "CodeDeployHookRole")
    policy = next(p for p in role["policies"] if p["name"] == "codedeploy-report-and-handoff")
    statement = next(s for s in policy["document"]["Statement"] if s.get("Sid") == "ReportHookStatus")
    statement["Resource"] = ["arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:*"]


SELF_TEST = [
    (_report_status_on_deployment_group, "RESOURCE_MISMATCH",
     "codedeploy:PutLifecycleEventHookExecutionStatus"),
]


def self_test(roles: list[dict], allow: list[dict]) -> list[str]:
    missed = []
    for breakage, issue, action in SELF_TEST:
        broken = copy.deepcopy(roles)
        breakage(broken)
        errors, _, _ = lint(broken, allow)
        if not any(issue in e and action in e for e in errors):
            missed.append(f"{breakage.__name__}: expected {issue} naming {action}, got {errors}")
    return missed


def main() -> int:
    roles = json.loads(ROLES.read_text())["roles"]
    allow = load_allow()
    errors, notes, policies = lint(roles, allow)
    status = 0
    if errors:
        print(f"FAIL parliament {version('parliament')} on {ROLES.relative_to(ROOT)}:")
        for error in errors:
            print(f"     {error}")
        status = 1
    else:
        excused = f", {len(allow)} allow-listed" if allow else ""
        print(f"ok   parliament {version('parliament')}: {policies} policies of {len(roles)} roles, "
              f"no finding of severity MEDIUM or above{excused}")
        for note in notes:
            print(f"     note: {note}")
    missed = self_test(roles, allow)
    if missed:
        print("FAIL parliament self-test: these broken policies were let through")
        for line in missed:
            print(f"     {line}")
        status = 1
    else:
        print(f"ok   parliament self-test: {len(SELF_TEST)} deliberately broken policy rejected")
    return status


if __name__ == "__main__":
    sys.exit(main())
