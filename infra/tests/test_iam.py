#!/usr/bin/env python3
"""IAM rules for every CloudFormation/SAM template under infra/.

For each template (SAM templates are first expanded offline with the SAM translator, so policy
templates and any role SAM would generate are seen as CloudFormation will create them):

* no Allow statement grants `*`, `service:*` or `*:...` actions, or uses NotAction/NotResource;
* no policy is attached that cannot be read here (managed policies must be defined in the template);
* a `*` resource only for actions to which AWS's Service Authorization Reference (SAR, in
  infra/iam/authorization.json) gives no resource type, and the few listed in STAR_RESOURCE_EXCEPTIONS.

For infra/template.yaml, also:

* each function's role grants exactly the actions the checks of its stages can need
  (infra/iam/needs.json, printed by `greenlight iam` from the checks' own docs), no fewer and no
  more, and trusts only lambda.amazonaws.com: for every check and every stage config validation
  lets it run at, the role of the function serving that stage grants every action it can call;
* the role ECS assumes to invoke the hooks trusts only ecs.amazonaws.com, only under the
  confused-deputy conditions StringEqualsIfExists aws:SourceAccount (this account) and
  ArnLikeIfExists aws:SourceArn (this account's ECS resources), and may only lambda:InvokeFunction
  the template's own functions;
* config and secrets stay apart (resolved at the defaults): ssm:GetParameter only under
  ConfigParameterPrefix, ssm:GetParameters only under SecretParameterPrefix,
  secretsmanager:GetSecretValue only under SecretNamePrefix, and kms:Decrypt only through SSM or
  Secrets Manager (kms:ViaService) for those same parameters and secrets (the encryption context
  keys kms:EncryptionContext:PARAMETER_ARN and kms:EncryptionContext:SecretARN);
* every statement is scoped as the SAR allows, checked on the roles resolved the way
  infra/iam/generate.py resolves them (parameters at their defaults, and again with every optional
  parameter set, so statements under a condition are checked too): every action exists; an action
  with no resource type has Resource "*" and nothing else; every resource ARN pattern matches the
  ARN format of at least one resource type of every action of its statement; every condition key
  is global (aws:) or one the SAR lists for every action of its statement.

Usage: test_iam.py [TEMPLATE ...]   (default: infra/template.yaml and infra/examples/*.yaml, then a
self-test: deliberately broken copies of infra/template.yaml must each be rejected)
Needs the SAM translator (aws-sam-translator), which comes with the SAM CLI, and PyYAML.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import os
import re
import sys
from pathlib import Path

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # the translator asks boto3 for a partition
sys.dont_write_bytecode = True  # importing generate.py must not leave __pycache__ in the tree

from samtranslator.translator.transform import transform  # noqa: E402
from samtranslator.yaml_helper import yaml_parse  # noqa: E402

# The translator records usage metrics it never publishes offline, and warns about it at exit.
logging.getLogger("samtranslator.metrics").setLevel(logging.ERROR)

ROOT = Path(__file__).resolve().parents[2]
SAM_TEMPLATE = ROOT / "infra" / "template.yaml"
SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
AUTHORIZATION = ROOT / "infra" / "iam" / "authorization.json"

sys.path.insert(0, str(ROOT / "infra" / "iam"))
from generate import ACCOUNT, PARTITION, REGION, GenerateError, build_roles  # noqa: E402

# ---------------------------------------------------------------------------------------------
# What each function may need: infra/iam/needs.json, which `greenlight iam` prints from the checks'
# own docs (shared/core: each check's needs by the params that decide them, each from the first
# stage config validation lets it run at, and what every function needs besides). A Rust test fails
# when the file is not what the code says (`make docs` rewrites it), so this table has one source.
# ---------------------------------------------------------------------------------------------
NEEDS_FILE = ROOT / "infra" / "iam" / "needs.json"
IAM_NEEDS = json.loads(NEEDS_FILE.read_text())
STAGES = IAM_NEEDS["stages"]
FUNCTION_STAGES = {function["name"]: function["stages"] for function in IAM_NEEDS["functions"]}
FUNCTION_ACTIONS = {function["name"]: set(function["actions"]) for function in IAM_NEEDS["functions"]}
CODEDEPLOY_PREFIX = "CodeDeployHook_greenlight_"
# Granted only under a template Condition (a parameter turns them on).
OPTIONAL = {
    "*": {"s3:GetObject", "events:PutEvents"},  # ConfigBucket set; VerdictEventBusName set
    "test-traffic": {  # TestTrafficSubnetIds set: Lambda attaches the function to the VPC
        "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets",
        "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses",
    },
}
# Actions that have resource types in the SAR and still carry Resource "*" here, and why. Every
# other `*` resource must be for an action with no resource type in the SAR.
STAR_RESOURCE_EXCEPTIONS = {
    # The only resource type is container-instance, a filter greenlight never sets; the call is
    # scoped by the SAR's condition key ecs:cluster instead.
    "ecs:ListTasks": "scoped by ecs:cluster",
    # Lambda itself manages the function's network interfaces in the subnets and security groups
    # chosen at deploy time (AWS's AWSLambdaVPCAccessExecutionRole grants these on "*" too).
    **{action: "Lambda's VPC networking" for action in OPTIONAL["test-traffic"]},
}

# Optional parameters set, so that infra/template.yaml's conditional statements are resolved too.
# (PermissionsBoundaryArn stays empty: a boundary does not change what the policies allow.)
OPTIONAL_PARAMETERS = {
    "ConfigReference": "ssm:/greenlight/config/{cluster}/{service}",
    "ConfigBucket": "greenlight-config",
    "ConfigObjectPrefix": "greenlight/",
    "EcrRepositoryArns": "arn:aws:ecr:us-east-1:123456789012:repository/web",
    "TestTrafficSubnetIds": "subnet-0123456789abcdef0",
    "TestTrafficSecurityGroupIds": "sg-0123456789abcdef0",
    "VerdictEventBusName": "deployments",
}


@functools.lru_cache(maxsize=1)
def authorization() -> dict:
    """infra/iam/authorization.json's services (`make infra-check` first checks it is current)."""
    return json.loads(AUTHORIZATION.read_text())["services"]


def action_data(action: str) -> dict | None:
    service, _, name = action.partition(":")
    return authorization().get(service, {}).get("actions", {}).get(name)


def supports_no_resource_type(action) -> bool:
    data = action_data(action) if isinstance(action, str) else None
    return data is not None and not data["resource_types"]


def expected_actions(function: str) -> set[str]:
    return FUNCTION_ACTIONS[function]


def check_needs_granted(function: str, always: set[str], errors: list[str]) -> None:
    """The proof over every (check, stage) pair config validation allows: for each check's needs
    and each stage of `function` from the needs' first stage on, the role grants every action."""
    def report(message: str) -> None:
        if message not in errors:  # the five CodeDeploy hooks share one role
            errors.append(message)

    for need in IAM_NEEDS["checks"]:
        first = STAGES.index(need["first_stage"])
        stages = [stage for stage in FUNCTION_STAGES[function] if STAGES.index(stage) >= first]
        missing = sorted(set(need["actions"]) - always)
        if stages and missing:
            when = f" ({need['when']})" if need["when"] else ""
            report(f"check {need['check']}{when} may run at {'/'.join(stages)}, served by {function}, "
                   f"whose role lacks {', '.join(missing)}")
    for need in IAM_NEEDS["every_function"] + ([IAM_NEEDS["codedeploy_hooks"]]
                                               if function == "codedeploy-hook" else []):
        missing = sorted(set(need["actions"]) - always)
        if missing:
            report(f"function {function}: {need['what']} needs {', '.join(missing)}, which its role lacks")


# ---------------------------------------------------------------------------------------------
# Walking policy documents. Values may hold intrinsics: Fn::If yields both branches (marked
# conditional), AWS::NoValue yields nothing, anything else is kept as is.
# ---------------------------------------------------------------------------------------------
def branches(value, conditional=False):
    """Yields (value, conditional) for each concrete alternative of value."""
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        _, when_true, when_false = value["Fn::If"]
        yield from branches(when_true, True)
        yield from branches(when_false, True)
    elif isinstance(value, dict) and value == {"Ref": "AWS::NoValue"}:
        return
    else:
        yield value, conditional


def as_list(value, conditional=False):
    """Flattens a string-or-list value (with Fn::If anywhere) into (item, conditional) pairs."""
    for item, cond in branches(value, conditional):
        if isinstance(item, list):
            for element in item:
                yield from as_list(element, cond)
        else:
            yield item, cond


def statements(document, conditional=False):
    for doc, cond in branches(document, conditional):
        if not isinstance(doc, dict):
            continue
        for statement, cond2 in as_list(doc.get("Statement", []), cond):
            if isinstance(statement, dict):
                yield statement, cond2


def policy_documents(node, path):
    """Every policy document (a mapping with a Statement of Effect-bearing statements) in node."""
    if isinstance(node, dict):
        if "Statement" in node and any(
            isinstance(s, dict) and "Effect" in s for s, _ in as_list(node["Statement"])
        ):
            yield path, node
            return
        for key, value in node.items():
            yield from policy_documents(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from policy_documents(value, f"{path}[{index}]")


def bad_action(action) -> str | None:
    if not isinstance(action, str):
        return f"action {action!r} is not a literal string and cannot be checked"
    if action == "*":
        return "allows every action (*)"
    service, _, name = action.partition(":")
    if "*" in service:
        return f"allows {action} (wildcard service)"
    if name == "*":
        return f"allows {action} (every action of the service)"
    return None


def check_statements(label, document, errors):
    for statement, _ in statements(document):
        if statement.get("Effect") != "Allow":
            continue
        sid = statement.get("Sid", "?")
        where = f"{label} statement {sid}"
        if "NotAction" in statement:
            errors.append(f"{where}: Allow with NotAction grants everything not listed")
        if "NotResource" in statement:
            errors.append(f"{where}: Allow with NotResource grants every other resource")
        actions = [a for a, _ in as_list(statement.get("Action", []))]
        for action in actions:
            problem = bad_action(action)
            if problem:
                errors.append(f"{where}: {problem}")
        resources = [r for r, _ in as_list(statement.get("Resource", []))]
        if "*" in resources and "Principal" not in statement:
            scoped = sorted(a for a in actions if isinstance(a, str) and not supports_no_resource_type(a)
                            and a not in STAR_RESOURCE_EXCEPTIONS)
            if scoped:
                errors.append(
                    f"{where}: Resource '*' for {', '.join(scoped)}, which support(s) "
                    "resource-level permissions (a resource type in the SAR); scope it"
                )


# ---------------------------------------------------------------------------------------------
# Scoping against the SAR, on resolved roles (ARN patterns are only comparable once resolved).
# An ARN format of the SAR (arn:${Partition}:ecs:${Region}:${Account}:service/${ClusterName}/...)
# and a policy's resource pattern (arn:aws:ecs:us-east-1:123456789012:service/*) each describe a
# set of ARNs; the pattern fits the resource type when the two sets meet. Both become small
# automata: a literal character, one character of a class, or any run of a class ("any" = every
# character, "segment" = every character but ':', for the partition, region and account).
# ---------------------------------------------------------------------------------------------
SEGMENT_VARIABLES = {"Partition", "Region", "Account"}
_VARIABLE = re.compile(r"\$\{([^}]*)\}")


def _format_tokens(arn_format: str) -> tuple:
    tokens, position = [], 0
    for match in _VARIABLE.finditer(arn_format):
        tokens += [("lit", c) for c in arn_format[position:match.start()]]
        if match.group(1) in SEGMENT_VARIABLES:
            tokens.append(("star", "segment"))
        else:
            tokens += [("one", "any"), ("star", "any")]
        position = match.end()
    tokens += [("lit", c) for c in arn_format[position:]]
    return tuple(tokens)


def _pattern_tokens(pattern: str) -> tuple:
    tokens, position = [], 0
    for match in _VARIABLE.finditer(pattern):  # a policy variable (${aws:username}) can be anything
        tokens += _glob_tokens(pattern[position:match.start()])
        tokens.append(("star", "any"))
        position = match.end()
    return tuple(tokens + _glob_tokens(pattern[position:]))


def _glob_tokens(text: str) -> list:
    return [("star", "any") if c == "*" else ("one", "any") if c == "?" else ("lit", c) for c in text]


def _closure(tokens, states) -> frozenset:
    out, todo = set(), list(states)
    while todo:
        state = todo.pop()
        if state in out:
            continue
        out.add(state)
        if state < len(tokens) and tokens[state][0] == "star":
            todo.append(state + 1)
    return frozenset(out)


def _step(tokens, states, char) -> frozenset:
    nxt = set()
    for state in states:
        if state == len(tokens):
            continue
        kind, value = tokens[state]
        if kind == "lit":
            if value == char:
                nxt.add(state + 1)
        elif value == "any" or char != ":":
            nxt.add(state if kind == "star" else state + 1)
    return _closure(tokens, nxt)


@functools.lru_cache(maxsize=None)
def arn_pattern_fits(pattern: str, arn_format: str) -> bool:
    """Whether some ARN both matches the policy's pattern and has the SAR's format."""
    a, b = _pattern_tokens(pattern), _format_tokens(arn_format)
    # Every literal character of either side, ':' and one character neither names.
    alphabet = {v for k, v in a + b if k == "lit"} | {":", "\x00"}
    start = (_closure(a, {0}), _closure(b, {0}))
    seen, todo = {start}, [start]
    while todo:
        sa, sb = todo.pop()
        if len(a) in sa and len(b) in sb:
            return True
        for char in alphabet:
            pair = (_step(a, sa, char), _step(b, sb, char))
            if pair[0] and pair[1] and pair not in seen:
                seen.add(pair)
                todo.append(pair)
    return False


def _condition_key_allowed(key: str, allowed: list[str]) -> bool:
    for template in allowed:
        regex = re.escape(template)
        regex = re.sub(r"\\\$\\\{[^}]*\\\}|<[^>]*>", ".+", regex)
        if re.fullmatch(regex, key, flags=re.IGNORECASE):
            return True
    return False


def check_scoping(roles: list[dict], errors: list[str]) -> int:
    """Checks every Allow statement of resolved roles against the SAR; returns how many it read."""
    # A managed policy is attached to several roles: each distinct statement is checked once.
    unique: dict[tuple, tuple[dict, list[str]]] = {}
    for role in roles:
        for policy in role["policies"]:
            for statement in policy["document"]["Statement"]:
                if statement.get("Effect") == "Allow":
                    key = (policy["name"], json.dumps(statement, sort_keys=True))
                    unique.setdefault(key, (statement, []))[1].append(role["logical_id"])
    for (policy_name, _), (statement, role_ids) in unique.items():
        where = (f"policy {policy_name} statement {statement.get('Sid', '?')} "
                 f"(role{'s' if len(role_ids) > 1 else ''} {', '.join(role_ids)})")
        resources = statement.get("Resource", [])
        condition_keys = [k for keys in statement.get("Condition", {}).values() for k in keys]
        for action in statement.get("Action", []):
            if "*" in action or "?" in action:
                continue  # reported by check_statements when it is a whole-service wildcard
            service, _, name = action.partition(":")
            if service not in authorization():
                errors.append(f"{where}: {action}: service {service} is not in "
                              f"{AUTHORIZATION.relative_to(ROOT)} (add it in infra/iam/generate.py)")
                continue
            data = action_data(action)
            if data is None:
                errors.append(f"{where}: {action} is not an action of {service} in the SAR (unknown action)")
                continue
            types = authorization()[service]["resource_types"]
            rows = data["resource_types"]
            if not rows:
                if resources != ["*"]:
                    errors.append(
                        f"{where}: {action} supports no resource-level permissions (the SAR lists no "
                        f"resource type for it), so its Resource must be \"*\" alone, not {resources}")
            else:
                formats = {row["name"]: types[row["name"]]["arns"] for row in rows}
                for resource in resources:
                    if resource == "*":
                        continue  # check_statements judges "*"
                    if not any(arn_pattern_fits(resource, f) for fs in formats.values() for f in fs):
                        errors.append(
                            f"{where}: {resource} matches none of {action}'s resource types in the SAR "
                            f"({', '.join(f'{n}: {fs[0]}' for n, fs in formats.items())})")
            allowed = list(data["condition_keys"])
            for row in rows:
                allowed += row["condition_keys"] + types[row["name"]]["condition_keys"]
            for key in condition_keys:
                if not key.lower().startswith("aws:") and not _condition_key_allowed(key, allowed):
                    errors.append(f"{where}: condition key {key} is not one the SAR lists for {action}")
    return len(unique)


# ---------------------------------------------------------------------------------------------
# Templates
# ---------------------------------------------------------------------------------------------
class NoManagedPolicies:
    """The translator's managed-policy lookup, offline: no names resolve, so a policy given by name
    stays a bare name and is reported as uninspectable below."""

    def load(self):
        return {}


def expand(template: dict) -> dict:
    """The CloudFormation a template becomes: SAM templates go through the SAM translator."""
    transforms = template.get("Transform", [])
    transforms = transforms if isinstance(transforms, list) else [transforms]
    if SAM_TRANSFORM not in transforms:
        return template
    template = copy.deepcopy(template)
    # The translator takes packaged templates: stand in for `sam package`'s upload of local code.
    for resource in template.get("Resources", {}).values():
        props = resource.get("Properties") or {}
        code = props.get("CodeUri")
        if isinstance(code, str) and not code.startswith("s3://"):
            props["CodeUri"] = "s3://packaged-artifacts/" + code.lstrip("./")
    return transform(template, {}, NoManagedPolicies())


def resources_of(template, kind):
    return {
        name: resource
        for name, resource in template.get("Resources", {}).items()
        if resource.get("Type") == kind
    }


def managed_policy_refs(template, role, errors, label):
    """The template-local managed policies attached to a role; anything else is an error."""
    local = resources_of(template, "AWS::IAM::ManagedPolicy")
    found = []
    for arn, _ in as_list(role.get("Properties", {}).get("ManagedPolicyArns", [])):
        if isinstance(arn, dict) and set(arn) == {"Ref"} and arn["Ref"] in local:
            found.append(local[arn["Ref"]])
        else:
            errors.append(
                f"{label}: managed policy {arn!r} is not defined in this template, so its actions "
                "cannot be checked; grant them in an inline or template-defined policy"
            )
    return found


def role_documents(template, role_name, role):
    """The permission documents of a role: inline, template-defined managed, AWS::IAM::Policy.
    (Managed policies defined elsewhere are reported once, by check().)"""
    docs = [p.get("PolicyDocument", {}) for p, _ in as_list(role.get("Properties", {}).get("Policies", []))]
    docs += [m["Properties"]["PolicyDocument"] for m in managed_policy_refs(template, role, [], "")]
    for policy in resources_of(template, "AWS::IAM::Policy").values():
        roles = [r for r, _ in as_list(policy["Properties"].get("Roles", []))]
        if {"Ref": role_name} in roles:
            docs.append(policy["Properties"]["PolicyDocument"])
    return docs


def granted(docs):
    """(unconditional, conditional) sets of actions allowed by docs."""
    always, sometimes = set(), set()
    for doc in docs:
        for statement, cond in statements(doc):
            if statement.get("Effect") != "Allow":
                continue
            for action, cond2 in as_list(statement.get("Action", []), cond):
                (sometimes if cond2 else always).add(action)
    return always, sometimes - always


def trusted_services(role) -> tuple[set, list]:
    services, problems = set(), []
    for statement, _ in statements(role.get("Properties", {}).get("AssumeRolePolicyDocument", {})):
        if statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal", {})
        if not isinstance(principal, dict) or set(principal) != {"Service"}:
            problems.append(f"trusts a principal other than a service: {principal!r}")
            continue
        services |= {s for s, _ in as_list(principal["Service"])}
        actions = {a for a, _ in as_list(statement.get("Action", []))}
        if actions != {"sts:AssumeRole"}:
            problems.append(f"trust allows {sorted(actions)}, expected only sts:AssumeRole")
    return services, problems


def function_name(function) -> str | None:
    name = function["Properties"].get("FunctionName")
    if isinstance(name, dict) and "Fn::Sub" in name:
        name = name["Fn::Sub"]
    if isinstance(name, str):
        if name.startswith(CODEDEPLOY_PREFIX):
            return "codedeploy-hook"
        base = name.rsplit("}", 1)[-1]
        return next((f for f in FUNCTION_STAGES if base == f), None)
    return None


def check_functions(template, errors, report):
    functions = resources_of(template, "AWS::Lambda::Function")
    roles = resources_of(template, "AWS::IAM::Role")
    seen = set()
    order = list(FUNCTION_STAGES)
    by_stage = sorted(functions.items(), key=lambda item: order.index(function_name(item[1]) or order[0]))
    for logical, function in by_stage:
        name = function_name(function)
        if name is None:
            errors.append(f"function {logical}: name is not one of {sorted(FUNCTION_STAGES)}")
            continue
        seen.add(name)
        role_ref = function["Properties"].get("Role")
        if not (isinstance(role_ref, dict) and "Fn::GetAtt" in role_ref):
            errors.append(f"function {name}: Role is not a role of this template")
            continue
        role_name = role_ref["Fn::GetAtt"][0]
        role = roles.get(role_name)
        if role is None:
            errors.append(f"function {name}: Role {role_name} is not an AWS::IAM::Role of this template")
            continue
        services, problems = trusted_services(role)
        problems += [] if services == {"lambda.amazonaws.com"} else [f"trusts {sorted(services)}"]
        errors += [f"function {name} role {role_name}: {p}" for p in problems]
        always, sometimes = granted(role_documents(template, role_name, role))
        expected = expected_actions(name)
        optional = OPTIONAL["*"] | OPTIONAL.get(name, set())
        check_needs_granted(name, always, errors)
        extra = (always - expected) | (sometimes - optional - expected)
        if extra:
            errors.append(f"function {name}: grants {', '.join(sorted(extra))}, which no check at "
                          f"{'/'.join(FUNCTION_STAGES[name])} needs")
        report.append(f"{name}: {len(always)} actions, {len(sometimes)} more under a condition")
    for name in sorted(set(FUNCTION_STAGES) - seen):
        errors.append(f"function {name}: not in the template")
    return functions


def invoke_role_name(template) -> str | None:
    output = template.get("Outputs", {}).get("HookInvokeRoleArn", {}).get("Value")
    return output["Fn::GetAtt"][0] if isinstance(output, dict) and "Fn::GetAtt" in output else None


def check_invoke_role(template, functions, errors, report):
    output = template.get("Outputs", {}).get("HookInvokeRoleArn", {}).get("Value")
    if not (isinstance(output, dict) and "Fn::GetAtt" in output):
        errors.append("output HookInvokeRoleArn: missing or not the ARN of a role of this template")
        return
    role_name = output["Fn::GetAtt"][0]
    role = resources_of(template, "AWS::IAM::Role").get(role_name)
    if role is None:
        errors.append(f"output HookInvokeRoleArn: {role_name} is not a role")
        return
    services, problems = trusted_services(role)
    if services != {"ecs.amazonaws.com"}:
        problems.append(f"trusts {sorted(services) or 'nothing'}; it must trust ecs.amazonaws.com only")
    always, sometimes = granted(role_documents(template, role_name, role))
    if always | sometimes != {"lambda:InvokeFunction"}:
        problems.append(f"allows {sorted(always | sometimes)}; it must allow lambda:InvokeFunction only")
    allowed_targets = set()
    for logical in functions:
        allowed_targets |= {f"{logical}.Arn", "${" + logical + ".Arn}:*"}
    for doc in role_documents(template, role_name, role):
        for statement, _ in statements(doc):
            for resource, _ in as_list(statement.get("Resource", [])):
                key = None
                if isinstance(resource, dict) and "Fn::GetAtt" in resource:
                    key = ".".join(resource["Fn::GetAtt"])
                elif isinstance(resource, dict) and isinstance(resource.get("Fn::Sub"), str):
                    key = resource["Fn::Sub"]
                if key not in allowed_targets:
                    problems.append(f"may invoke {resource!r}, not one of this template's functions")
    errors += [f"invoke role {role_name}: {p}" for p in problems]
    report.append(f"invoke role {role_name}: trusts ecs.amazonaws.com, invokes {len(functions)} functions")


# ---------------------------------------------------------------------------------------------
# The invoke role's confused-deputy conditions, and config kept apart from secrets. Both on the
# roles resolved at the defaults (partition, region and account of infra/iam/generate.py).
# ---------------------------------------------------------------------------------------------
# Key: (operator it must sit under, its one value). IfExists: AWS does not document whether ECS
# passes these keys when it assumes a lifecycle hook's role, and a plain operator on an absent key
# refuses every hook; when ECS passes them, another account's request is refused.
TRUST_CONDITIONS = {
    "aws:SourceAccount": ("StringEqualsIfExists", ACCOUNT),
    "aws:SourceArn": ("ArnLikeIfExists", f"arn:{PARTITION}:ecs:{REGION}:{ACCOUNT}:*"),
}


def check_invoke_trust(role: dict, errors: list[str]) -> None:
    where = f"invoke role {role['logical_id']}"
    allows = [s for s in role["trust"]["Statement"] if s.get("Effect") == "Allow"]
    for statement in allows:
        conditions = statement.get("Condition", {})
        for key, (operator, value) in TRUST_CONDITIONS.items():
            found = {op: values for op, keys in conditions.items()
                     for k, values in keys.items() if k.lower() == key.lower()}
            if not found:
                errors.append(f"{where}: trust has no {operator} {key} = {value} (confused-deputy guard)")
            for op, values in found.items():
                if op != operator:
                    why = ("ECS may not pass the key, and without IfExists every hook would be refused"
                           if not op.endswith("IfExists") else "")
                    errors.append(f"{where}: trust has {key} under {op}, expected {operator}"
                                  + (f" ({why})" if why else ""))
                elif values != [value]:
                    errors.append(f"{where}: trust allows {key} {values}, expected only {value} (this account)")


def parameter_default(template: dict, name: str) -> str:
    return str(template.get("Parameters", {}).get(name, {}).get("Default", ""))


def check_secret_reach(template: dict, roles: list[dict], errors: list[str]) -> None:
    """Config references, SSM header values and Secrets Manager header values each under their own
    prefix, and kms:Decrypt only through SSM or Secrets Manager for those names."""
    config = parameter_default(template, "ConfigParameterPrefix")
    secret_path = parameter_default(template, "SecretParameterPrefix")
    secret_names = parameter_default(template, "SecretNamePrefix")
    ssm_arn = f"arn:{PARTITION}:ssm:{REGION}:{ACCOUNT}:parameter"
    config_arn, secret_path_arn = ssm_arn + config, ssm_arn + secret_path
    secret_arn = f"arn:{PARTITION}:secretsmanager:{REGION}:{ACCOUNT}:secret:{secret_names}"
    if config.startswith(secret_path) or secret_path.startswith(config):
        errors.append(f"parameters: ConfigParameterPrefix {config} and SecretParameterPrefix {secret_path} "
                      "overlap: config references could read secrets, or header values configs")
    if secret_names != secret_path.lstrip("/"):
        errors.append(f"parameters: SecretNamePrefix {secret_names} is not SecretParameterPrefix "
                      f"{secret_path} without its leading slash")
    reads = {
        "ssm:GetParameter": ("ConfigParameterPrefix", config_arn),
        "ssm:GetParameters": ("SecretParameterPrefix", secret_path_arn),
        "secretsmanager:GetSecretValue": ("SecretNamePrefix", secret_arn),
    }
    contexts = {  # kms:ViaService -> (encryption context key, the name prefixes it may name)
        f"ssm.{REGION}.amazonaws.com": ("PARAMETER_ARN", (config_arn, secret_path_arn)),
        f"secretsmanager.{REGION}.amazonaws.com": ("SecretARN", (secret_arn,)),
    }
    for role in roles:
        for policy in role["policies"]:
            for statement in policy["document"]["Statement"]:
                if statement.get("Effect") != "Allow":
                    continue
                where = f"role {role['logical_id']} policy {policy['name']} statement {statement.get('Sid', '?')}"
                actions = statement.get("Action", [])
                for action, (parameter, prefix) in reads.items():
                    if action not in actions:
                        continue
                    for resource in statement.get("Resource", []):
                        if not resource.startswith(prefix):
                            errors.append(f"{where}: {action} on {resource}, outside {parameter} ({prefix}*)")
                if "kms:Decrypt" in actions:
                    check_decrypt(where, statement.get("Condition", {}), contexts, errors)


def check_decrypt(where: str, conditions: dict, contexts: dict, errors: list[str]) -> None:
    def values(key: str, operators: set[str]) -> list[str] | None:
        found = [v for op, keys in conditions.items() if op in operators
                 for k, vs in keys.items() if k.lower() == key.lower() for v in vs]
        return found or None

    services = values("kms:ViaService", {"StringEquals"})
    if not services or len(services) != 1 or services[0] not in contexts:
        errors.append(f"{where}: kms:Decrypt must be limited by StringEquals kms:ViaService to one of "
                      f"{', '.join(sorted(contexts))}, not {services}")
        return
    context, prefixes = contexts[services[0]]
    key = f"kms:EncryptionContext:{context}"
    named = values(key, {"StringEquals", "StringLike", "ArnEquals", "ArnLike"})
    if not named:
        errors.append(f"{where}: kms:Decrypt through {services[0]} without a {key} condition: "
                      "it could decrypt any value the key protects")
        return
    for value in named:
        if not value.startswith(prefixes):
            errors.append(f"{where}: kms:Decrypt for {key} {value}, outside {', '.join(p + '*' for p in prefixes)}")


def check(template: dict, greenlight: bool) -> tuple[list[str], list[str], int]:
    """(errors, report lines, number of policy documents) for an expanded template."""
    errors: list[str] = []
    report: list[str] = []
    documents = list(policy_documents(template.get("Resources", {}), "Resources"))
    for label, document in documents:
        check_statements(label, document, errors)
    for role_name, role in resources_of(template, "AWS::IAM::Role").items():
        managed_policy_refs(template, role, errors, f"role {role_name}")
    if greenlight:
        functions = check_functions(template, errors, report)
        check_invoke_role(template, functions, errors, report)
        scoping: list[str] = []
        checked = 0
        for overrides in ({}, OPTIONAL_PARAMETERS):
            try:
                roles = build_roles(template, overrides, service_role=False)["roles"]
            except GenerateError as error:
                scoping.append(f"cannot resolve the roles as infra/iam/generate.py does: {error}")
                continue
            checked += check_scoping(roles, scoping)
            if not overrides:
                invoke = invoke_role_name(template)
                for role in roles:
                    if role["logical_id"] == invoke:
                        check_invoke_trust(role, errors)
                check_secret_reach(template, roles, scoping)
        errors += list(dict.fromkeys(scoping))  # the same statement twice is one error
        report.append(f"scoping: {checked} resolved statements (defaults, then optional parameters set) "
                      "match the SAR's resource types and condition keys")
        report.append("secrets: config references, SSM and Secrets Manager header values and kms:Decrypt "
                      "each under their own prefix; invoke role trusts ECS for this account only (IfExists)")
    return errors, report, len(documents)


def check_template(path: Path) -> bool:
    rel = path.resolve().relative_to(ROOT) if path.resolve().is_relative_to(ROOT) else path
    try:
        raw = yaml_parse(path.read_text())
        template = expand(raw)
    except Exception as error:  # the translator raises several kinds; all mean "broken template"
        print(f"FAIL {rel}: cannot load or transform: {error}")
        return False
    greenlight = path.resolve() == SAM_TEMPLATE or "HookInvokeRoleArn" in raw.get("Outputs", {})
    errors, report, documents = check(template, greenlight)
    if errors:
        print(f"FAIL {rel}")
        for error in errors:
            print(f"     {error}")
        return False
    print(f"ok   {rel}: {documents} policy documents, no wildcard actions")
    for line in report:
        print(f"     {line}")
    return True


# ---------------------------------------------------------------------------------------------
# Self-test: each of these breakages of infra/template.yaml must be caught, with this message.
# ---------------------------------------------------------------------------------------------
def _statements_of(template, resource):
    return template["Resources"][resource]["Properties"]["PolicyDocument"]["Statement"]


def _invoke_role(template):
    return template["Resources"]["HookInvokeRole"]["Properties"]


def _break_service_wildcard(t):
    _statements_of(t, "DeploymentReadPolicy").append({"Effect": "Allow", "Action": "ecs:*", "Resource": "*"})


def _break_star_action(t):
    _statements_of(t, "GreenTasksReadPolicy")[0]["Action"] = ["ecs:ListTasks", "*"]


def _break_not_action(t):
    _statements_of(t, "GreenTasksReadPolicy").append({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})


def _break_sam_policies(t):
    function = t["Resources"]["PreScaleUpFunction"]["Properties"]
    del function["Role"]
    function["Policies"] = [{"LambdaInvokePolicy": {"FunctionName": "other"}},
                            {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}]


def _break_star_resource(t):
    statement = next(s for s in _statements_of(t, "DeploymentReadPolicy") if s.get("Sid") == "ConfigParameters")
    statement["Resource"] = "*"


def _break_missing_action(t):
    _statements_of(t, "GreenTasksReadPolicy")[0]["Action"] = "ecs:DescribeTasks"


def _break_extra_action(t):
    role = t["Resources"]["PreScaleUpRole"]["Properties"]
    role["ManagedPolicyArns"].append({"Ref": "GreenTasksReadPolicy"})


def _break_invoke_trust(t):
    _invoke_role(t)["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"] = [
        "ecs.amazonaws.com", "lambda.amazonaws.com"]


def _break_invoke_targets(t):
    _invoke_role(t)["Policies"][0]["PolicyDocument"]["Statement"][0]["Resource"] = "*"


def _break_external_managed(t):
    _invoke_role(t)["ManagedPolicyArns"] = ["arn:aws:iam::aws:policy/AdministratorAccess"]


def _codedeploy_statement(t, sid):
    policies = t["Resources"]["CodeDeployHookRole"]["Properties"]["Policies"]
    return next(s for p in policies for s in p["PolicyDocument"]["Statement"] if s.get("Sid") == sid)


def _break_report_status_scoped(t):
    # As the template once had it: the SAR gives PutLifecycleEventHookExecutionStatus no resource type.
    _codedeploy_statement(t, "ReportHookStatus")["Resource"] = {
        "Fn::Sub": "arn:${AWS::Partition}:codedeploy:${AWS::Region}:${AWS::AccountId}:deploymentgroup:*"}


def _break_pre_scale_up_without_load_balancers(t):
    # As the template once had it: the load balancer reads only with green's tasks.
    statements = _statements_of(t, "DeploymentReadPolicy")
    moved = next(s for s in statements if s.get("Sid") == "LoadBalancing")
    statements.remove(moved)
    _statements_of(t, "GreenTasksReadPolicy").append(moved)


def _break_resource_of_another_type(t):
    statement = next(s for s in _statements_of(t, "DeploymentReadPolicy") if s.get("Sid") == "EcsServices")
    statement["Resource"] = [statement["Resource"], {
        "Fn::Sub": "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:service-deployment/*"}]


def _break_app_spec_on_deployment_group(t):
    _codedeploy_statement(t, "ReadAppSpec")["Resource"] = {
        "Fn::Sub": "arn:${AWS::Partition}:codedeploy:${AWS::Region}:${AWS::AccountId}:deploymentgroup:*"}


def _break_unknown_action(t):
    statement = next(s for s in _statements_of(t, "DeploymentReadPolicy") if s.get("Sid") == "EcsServices")
    statement["Action"] = ["ecs:ListServiceDeployment", "ecs:ListServiceDeployments"]


def _break_condition_key(t):
    statement = next(s for s in _statements_of(t, "GreenTasksReadPolicy") if s.get("Sid") == "DescribeGreenTasks")
    statement["Condition"] = {"StringEquals": {"kms:ViaService": "ecs.us-east-1.amazonaws.com"}}


def _break_invoke_trust_unconditioned(t):
    # As the template once had it: ECS could assume the role for any account's resources.
    del _invoke_role(t)["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]


def _break_invoke_trust_strict(t):
    # Plain StringEquals: every hook refused if ECS does not pass aws:SourceAccount.
    condition = _invoke_role(t)["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]
    condition["StringEquals"] = condition.pop("StringEqualsIfExists")


def _break_invoke_trust_any_account(t):
    condition = _invoke_role(t)["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]
    condition["ArnLikeIfExists"]["aws:SourceArn"] = {"Fn::Sub": "arn:${AWS::Partition}:ecs:${AWS::Region}:*:*"}


def _break_headers_from_config_parameters(t):
    # Header values readable from the config prefix: config and secrets no longer apart.
    statement = next(s for s in _statements_of(t, "DeploymentReadPolicy") if s.get("Sid") == "SecretParameters")
    statement["Resource"] = {"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${ConfigParameterPrefix}*"}


def _break_decrypt_without_encryption_context(t):
    # As the template once had it: any value the key protects, through Secrets Manager.
    statement = next(s for s in _statements_of(t, "DeploymentReadPolicy") if s.get("Sid") == "DecryptHeaderSecrets")
    del statement["Condition"]["StringLike"]


def _break_decrypt_through_any_service(t):
    statement = next(s for s in _statements_of(t, "DeploymentReadPolicy")
                     if s.get("Sid") == "DecryptConfigAndSecretParameters")
    del statement["Condition"]["StringEquals"]


def _break_ecs_task_definitions(t):
    # As the template once had it: the ECS functions may describe task definitions they never read.
    _statements_of(t, "DeploymentReadPolicy").append(
        {"Sid": "EcsTaskDefinitions", "Effect": "Allow", "Action": "ecs:DescribeTaskDefinition", "Resource": "*"})


def _break_codedeploy_without_describe_services(t):
    policies = t["Resources"]["CodeDeployHookRole"]["Properties"]["Policies"]
    for policy in policies:
        statements = policy["PolicyDocument"]["Statement"]
        policy["PolicyDocument"]["Statement"] = [s for s in statements if s.get("Sid") != "DescribeServices"]


def _break_conditional_statement(t):
    # A statement under a condition that is false at the defaults must be checked all the same.
    statement = next(s for s in _statements_of(t, "DeploymentReadPolicy")
                     if isinstance(s, dict) and "Fn::If" in s)["Fn::If"][1]
    statement["Resource"] = {"Fn::Sub": "arn:${AWS::Partition}:s3:::${ConfigBucket}"}


SELF_TEST = [
    (_break_service_wildcard, "allows ecs:* (every action of the service)"),
    (_break_star_action, "allows every action (*)"),
    (_break_not_action, "NotAction"),
    (_break_sam_policies, "is not defined in this template"),
    (_break_star_resource, "Resource '*' for ssm:GetParameter"),
    (_break_missing_action, "check tasks may run at POST_SCALE_UP, served by post-scale-up, whose role lacks ecs:ListTasks"),
    (_break_extra_action, "function pre-scale-up: grants"),
    (_break_invoke_trust, "it must trust ecs.amazonaws.com only"),
    (_break_invoke_targets, "not one of this template's functions"),
    (_break_external_managed, "AdministratorAccess"),
    (_break_report_status_scoped,
     "codedeploy:PutLifecycleEventHookExecutionStatus supports no resource-level permissions"),
    (_break_pre_scale_up_without_load_balancers,
     ("check lambda may run at RECONCILE_SERVICE/PRE_SCALE_UP, served by pre-scale-up", "elasticloadbalancing:DescribeRules")),
    (_break_resource_of_another_type,
     "service-deployment/* matches none of ecs:ListServiceDeployments's resource types"),
    (_break_app_spec_on_deployment_group, "matches none of codedeploy:GetApplicationRevision's resource types"),
    (_break_unknown_action, "ecs:ListServiceDeployment is not an action of ecs in the SAR"),
    (_break_condition_key, "condition key kms:ViaService is not one the SAR lists for ecs:DescribeTasks"),
    (_break_conditional_statement, "arn:aws:s3:::greenlight-config matches none of s3:GetObject's resource types"),
    (_break_invoke_trust_unconditioned, "trust has no StringEqualsIfExists aws:SourceAccount"),
    (_break_invoke_trust_strict, ("trust has aws:SourceAccount under StringEquals", "without IfExists")),
    (_break_invoke_trust_any_account, "trust allows aws:SourceArn ['arn:aws:ecs:us-east-1:*:*']"),
    (_break_headers_from_config_parameters,
     ("ssm:GetParameters on arn:aws:ssm:us-east-1:123456789012:parameter/greenlight/config/*",
      "outside SecretParameterPrefix")),
    (_break_decrypt_without_encryption_context,
     "kms:Decrypt through secretsmanager.us-east-1.amazonaws.com without a kms:EncryptionContext:SecretARN"),
    (_break_decrypt_through_any_service, "kms:Decrypt must be limited by StringEquals kms:ViaService"),
    (_break_ecs_task_definitions, "function pre-scale-up: grants ecs:DescribeTaskDefinition"),
    (_break_codedeploy_without_describe_services, ("function codedeploy-hook: CodeDeploy", "ecs:DescribeServices")),
]


def self_test() -> bool:
    raw = yaml_parse(SAM_TEMPLATE.read_text())
    missed = []
    for breakage, expected in SELF_TEST:
        broken = copy.deepcopy(raw)
        breakage(broken)
        errors, _, _ = check(expand(broken), greenlight=True)
        needles = expected if isinstance(expected, tuple) else (expected,)
        if not any(all(n in e for n in needles) for e in errors):
            missed.append(f"{breakage.__name__}: expected an error containing {expected!r}, got {errors}")
    if missed:
        print("FAIL self-test: the checks above let these broken templates through")
        for line in missed:
            print(f"     {line}")
        return False
    print(f"ok   self-test: {len(SELF_TEST)} deliberately broken copies of infra/template.yaml rejected")
    return True


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or [SAM_TEMPLATE, *sorted((ROOT / "infra" / "examples").glob("*.yaml"))]
    results = [check_template(p) for p in paths]
    if not argv:
        results.append(self_test())
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
