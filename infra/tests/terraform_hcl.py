"""Reads a Terraform example offline: the HCL parsed by python-hcl2, checked against the AWS
provider's own schema of `aws_ecs_service` (terraform_aws_ecs_service.json, taken from the
provider's Go source with the version it was taken from), and turned into the ECS CreateService
request Terraform would make, so the same checks as every other example apply to it.

No provider can be downloaded here, so `terraform validate` cannot run; this is the schema's
names, nesting, required attributes and enums, and the API shapes, instead.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import hcl2

SCHEMA = json.loads((Path(__file__).resolve().parent / "terraform_aws_ecs_service.json").read_text())
HIDDEN = {"__is_block__", "__comments__", "__inline_comments__"}
INTERPOLATION = re.compile(r"^\$\{(.*)\}$", re.S)


def plain(value):
    """HCL values as python-hcl2 gives them, with quotes, comments and block markers removed.
    An expression (`var.x`, `jsonencode(local.y)`) stays as `${...}` text."""
    if isinstance(value, dict):
        return {unquote(key): plain(item) for key, item in value.items() if key not in HIDDEN}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, str):
        return unquote(value)
    return value


def unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return json.loads(text)
    return text


def is_block(value) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) and item.get("__is_block__") for item in value) \
        and bool(value)


def schema_problems(body: dict, schema: dict, path: str) -> list[str]:
    """Names, nesting, required attributes and enum values of one resource body (raw python-hcl2
    output) against the provider schema."""
    problems = []
    for key, value in body.items():
        if key in HIDDEN or key in ("lifecycle", "depends_on", "count", "for_each", "provider"):
            continue
        where = f"{path}.{key}" if path else key
        spec = schema.get(key)
        if spec is None:
            problems.append(f"{where}: the provider's aws_ecs_service has no {key!r}")
            continue
        if spec.get("computed_only"):
            problems.append(f"{where}: is computed by the provider and cannot be set")
            continue
        if spec["kind"] == "block":
            if not is_block(value):
                problems.append(f"{where}: is a block in the provider schema (write `{key} {{ ... }}`)")
                continue
            if spec.get("max_items") and len(value) > spec["max_items"]:
                problems.append(f"{where}: at most {spec['max_items']} block(s), got {len(value)}")
            for index, item in enumerate(value):
                problems += schema_problems(item, spec.get("schema", {}), f"{where}[{index}]")
        else:
            if is_block(value):
                problems.append(f"{where}: is an attribute in the provider schema (write `{key} = ...`)")
                continue
            for item in value if isinstance(value, list) else [value]:
                text = plain(item)
                if spec.get("enum") and isinstance(text, str) and not text.startswith("${") \
                        and text not in spec["enum"]:
                    problems.append(f"{where}: {text!r} is not one of {', '.join(spec['enum'])}")
    for key, spec in schema.items():
        if spec.get("required") and key not in body:
            problems.append(f"{path or 'aws_ecs_service'}: the provider requires {key!r}")
    return problems


class Module:
    """One parsed .tf file: its variables' defaults, locals and resources."""

    def __init__(self, text: str):
        self.raw = hcl2.loads(text)
        self.variables = {name: plain(body).get("default")
                          for block in self.raw.get("variable", []) for name, body in block.items()
                          if name not in HIDDEN}
        self.variables = {unquote(name): value for name, value in self.variables.items()}
        self.locals = {}
        for block in self.raw.get("locals", []):
            self.locals.update(plain(block))
        self.data = {}
        for block in self.raw.get("data", []):
            for kind, named in block.items():
                for name, body in named.items():
                    if name not in HIDDEN:
                        self.data[(unquote(kind), unquote(name))] = plain(body)

    def services(self) -> list[tuple[str, dict]]:
        found = []
        for block in self.raw.get("resource", []):
            for kind, named in block.items():
                if unquote(kind) == "aws_ecs_service":
                    found += [(unquote(name), body) for name, body in named.items() if name not in HIDDEN]
        return found

    def evaluate(self, value, exports: dict[str, str]):
        """The value of the few expressions the examples use: `var.x`, `local.x`,
        `jsonencode(local.x)`, string interpolation of those, and
        `data.aws_cloudformation_export.x.value` (its export name looked up in `exports`).
        Anything else raises ValueError naming it."""
        if isinstance(value, list):
            return [self.evaluate(item, exports) for item in value]
        if isinstance(value, dict):
            return {key: self.evaluate(item, exports) for key, item in value.items()}
        if not isinstance(value, str):
            return value
        whole = INTERPOLATION.match(value)
        if whole and "${" not in whole.group(1):
            return self.expression(whole.group(1).strip(), exports)
        return re.sub(r"\$\{([^}]*)\}", lambda m: str(self.expression(m.group(1).strip(), exports)), value)

    def expression(self, text: str, exports: dict[str, str]):
        if match := re.fullmatch(r"var\.(\w+)", text):
            if match.group(1) not in self.variables:
                raise ValueError(f"{text}: no such variable with a default")
            return self.variables[match.group(1)]
        if match := re.fullmatch(r"local\.(\w+)", text):
            if match.group(1) not in self.locals:
                raise ValueError(f"{text}: no such local")
            return self.evaluate(self.locals[match.group(1)], exports)
        if match := re.fullmatch(r"jsonencode\((local\.\w+)\)", text):
            return json.dumps(self.expression(match.group(1), exports))
        if match := re.fullmatch(r"data\.aws_cloudformation_export\.(\w+)\.value", text):
            body = self.data.get(("aws_cloudformation_export", match.group(1)))
            if body is None:
                raise ValueError(f"{text}: no such data source")
            name = self.evaluate(body.get("name", ""), exports)
            if name not in exports:
                raise ValueError(f"{text}: the export {name!r} is not one the greenlight stack outputs")
            return exports[name]
        raise ValueError(f"{text}: an expression this check does not evaluate "
                         "(use var., local., jsonencode(local.x) or a CloudFormation export)")


def create_service_request(module: Module, body: dict, exports: dict[str, str]) -> dict:
    """The CreateService request `aws_ecs_service` makes, for the attributes the examples use.
    hook_details, a JSON string in Terraform, is the JSON document ECS receives."""
    service = module.evaluate(plain(body), exports)

    def one(block):
        # A block is a list of one body; a map written `= { }` is flagged by schema_problems.
        if isinstance(block, dict):
            return block
        return (block or [{}])[0]

    request = {
        "serviceName": service.get("name"),
        "cluster": service.get("cluster"),
        "taskDefinition": service.get("task_definition"),
        "desiredCount": service.get("desired_count"),
        "launchType": service.get("launch_type"),
        "healthCheckGracePeriodSeconds": service.get("health_check_grace_period_seconds"),
    }
    if "network_configuration" in service:
        network = one(service["network_configuration"])
        request["networkConfiguration"] = {"awsvpcConfiguration": {
            "subnets": network.get("subnets"),
            "securityGroups": network.get("security_groups"),
            "assignPublicIp": "ENABLED" if network.get("assign_public_ip") else "DISABLED",
        }}
    if "deployment_controller" in service:
        request["deploymentController"] = {"type": one(service["deployment_controller"]).get("type", "ECS")}
    balancers = []
    for lb in service.get("load_balancer", []):
        entry = {"targetGroupArn": lb.get("target_group_arn"), "containerName": lb.get("container_name"),
                 "containerPort": lb.get("container_port")}
        if "advanced_configuration" in lb:
            advanced = one(lb["advanced_configuration"])
            entry["advancedConfiguration"] = {
                "alternateTargetGroupArn": advanced.get("alternate_target_group_arn"),
                "productionListenerRule": advanced.get("production_listener_rule"),
                "testListenerRule": advanced.get("test_listener_rule"),
                "roleArn": advanced.get("role_arn"),
            }
        balancers.append(entry)
    if balancers:
        request["loadBalancers"] = balancers
    deployment = {
        "maximumPercent": service.get("deployment_maximum_percent"),
        "minimumHealthyPercent": service.get("deployment_minimum_healthy_percent"),
    }
    if "alarms" in service:
        alarms = one(service["alarms"])
        deployment["alarms"] = {"alarmNames": alarms.get("alarm_names"), "enable": alarms.get("enable"),
                                "rollback": alarms.get("rollback")}
    if "deployment_configuration" in service:
        configuration = one(service["deployment_configuration"])
        deployment["strategy"] = configuration.get("strategy")
        deployment["bakeTimeInMinutes"] = configuration.get("bake_time_in_minutes")
        hooks = []
        for hook in configuration.get("lifecycle_hook", []):
            api_hook = {"hookTargetArn": hook.get("hook_target_arn"), "roleArn": hook.get("role_arn"),
                        "lifecycleStages": hook.get("lifecycle_stages")}
            if "hook_details" in hook:
                details = hook["hook_details"]
                try:
                    api_hook["hookDetails"] = json.loads(details) if isinstance(details, str) else details
                except json.JSONDecodeError as error:
                    raise ValueError(f"hook_details is not JSON: {error}") from error
                if not isinstance(details, str):
                    raise ValueError("hook_details is a string in the provider schema: write jsonencode(...)")
            hooks.append(api_hook)
        deployment["lifecycleHooks"] = hooks
        for block, key, fields in (
            ("linear_configuration", "linearConfiguration",
             {"step_percent": "stepPercent", "step_bake_time_in_minutes": "stepBakeTimeInMinutes"}),
            ("canary_configuration", "canaryConfiguration",
             {"canary_percent": "canaryPercent", "canary_bake_time_in_minutes": "canaryBakeTimeInMinutes"}),
        ):
            if block in configuration:
                deployment[key] = {api: one(configuration[block]).get(tf) for tf, api in fields.items()}
    request["deploymentConfiguration"] = deployment

    def prune(value):
        if isinstance(value, dict):
            return {key: prune(item) for key, item in value.items() if item is not None}
        if isinstance(value, list):
            return [prune(item) for item in value]
        return value

    return prune(request)
