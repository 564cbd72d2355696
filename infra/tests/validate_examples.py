#!/usr/bin/env python3
"""Validates the wiring examples in infra/examples against the ECS API and against greenlight.

* service-*.json: each is a CreateService request, checked with botocore's own parameter
  validation (ParamValidator on the CreateService input shape from botocore's loader) plus the
  enum values, which ParamValidator does not check; the same file reduced to an UpdateService
  request (what an existing service is updated with) is checked the same way.
* every ecspresso.yml under infra/examples: its keys against ecspresso's own config keys
  (ecspresso_config.json, taken from its config struct, with the version it was taken from), its
  `required_version` (v2.6.0 or later when the service uses ECS-native blue/green: an older
  ecspresso drops the fields it does not know and deploys ungated), and its service definition:
  ECS-native (lifecycle hooks, checked below) or CODE_DEPLOY with `codedeploy` and AppSpec hooks
  naming greenlight's CodeDeployHook_ functions. The service definition is checked as CreateService
  (after filling the `{{ must_env ... }}` placeholders with sample values), the task definition as
  RegisterTaskDefinition. Broken copies of these configs (a misspelt key, no required_version, a
  CODE_DEPLOY config pointing at an ECS-native service) must be rejected: the script fails if not.
* cloudformation-service.yaml: its lifecycle hooks, and that every greenlight export it imports is
  an output of infra/template.yaml. (cfn-lint checks the rest of the template.)
* every .tf file (terraform_hcl.py): parsed with python-hcl2; each aws_ecs_service's attribute and
  block names, nesting, required attributes and enums against the provider's own schema
  (terraform_aws_ecs_service.json, with the version it was taken from); the aws provider pinned
  to a version with lifecycle hooks; then the CreateService request it makes (hook_details decoded
  from jsonencode(local.x), the stack's exports resolved against infra/template.yaml's outputs),
  checked like the JSON examples. No provider can be downloaded offline, so this stands in for
  `terraform validate`; broken copies (a map for hook_details, a misspelt attribute, a stage the
  function does not serve, an unknown export, an old provider, a block written as a map) must be
  rejected.

For every lifecycle hook: the function it targets serves every stage it is registered for (else
the function answers FAILED, naming the wiring mistake); an inline `greenlight` config only names
the hook's stages and passes `greenlight config validate`; a `greenlightConfig` reference has the
shape of one (ssm:, s3://bucket/key or a path), and an ssm: one is under the template's default
ConfigParameterPrefix.
IAM and secret paths, at the template's defaults: every `{ ssm: ... }` header value in a config is
under SecretParameterPrefix, every `{ secret: ... }` under SecretNamePrefix, every team `lambda`
function under TeamCheckFunctionPrefix; in a service's inline config, secrets are under that
service's own path (GREENLIGHT_SECRET_PATH filled with its cluster and name), as the functions
require.
Deployment strategy: ROLLING takes a PRE_SCALE_UP hook only; BLUE_GREEN, LINEAR and CANARY need
the load balancer's advancedConfiguration, and LINEAR/CANARY their own configuration block.

Usage: validate_examples.py
Environment: GREENLIGHT_CLI, the command that runs the greenlight CLI
(default: cargo run -q --locked -p greenlight-cli --).
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import botocore
import botocore.loaders
import botocore.model
import yaml
from botocore.validate import ParamValidator

import terraform_hcl

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "infra" / "examples"
TEMPLATE = ROOT / "infra" / "template.yaml"
MIN_BOTOCORE = (1, 39, 5)  # the first botocore with ECS blue/green, linear, canary and hooks

FUNCTION_STAGES = {
    "pre-scale-up": {"RECONCILE_SERVICE", "PRE_SCALE_UP"},
    "post-scale-up": {"POST_SCALE_UP"},
    "test-traffic": {"TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT"},
    "production-traffic": {
        "PRE_PRODUCTION_TRAFFIC_SHIFT",
        "PRODUCTION_TRAFFIC_SHIFT",
        "POST_PRODUCTION_TRAFFIC_SHIFT",
    },
}
# The greenlight stack's outputs, by the function each names.
EXPORT_FUNCTIONS = {
    "PreScaleUpFunctionArn": "pre-scale-up",
    "PostScaleUpFunctionArn": "post-scale-up",
    "TestTrafficFunctionArn": "test-traffic",
    "ProductionTrafficFunctionArn": "production-traffic",
}
STRATEGY_BY_FILE = {
    "service-blue-green.json": "BLUE_GREEN",
    "service-linear.json": "LINEAR",
    "service-canary.json": "CANARY",
    "service-rolling.json": "ROLLING",
}
# Sample values for ecspresso's {{ must_env `NAME` }} placeholders.
SAMPLE_ENV = {
    "AWS_REGION": "us-east-1",
    "IMAGE_TAG": "1.4.2",
    "GREENLIGHT_PRE_SCALE_UP_ARN": "arn:aws:lambda:us-east-1:111122223333:function:greenlight-pre-scale-up",
    "GREENLIGHT_POST_SCALE_UP_ARN": "arn:aws:lambda:us-east-1:111122223333:function:greenlight-post-scale-up",
    "GREENLIGHT_TEST_TRAFFIC_ARN": "arn:aws:lambda:us-east-1:111122223333:function:greenlight-test-traffic",
    "GREENLIGHT_PRODUCTION_TRAFFIC_ARN": "arn:aws:lambda:us-east-1:111122223333:function:greenlight-production-traffic",
    "GREENLIGHT_HOOK_ROLE_ARN": "arn:aws:iam::111122223333:role/greenlight-HookInvokeRole-1A2B3C4D5E6F",
}
PLACEHOLDER = re.compile(r"\{\{\s*must_env\s+`([A-Z0-9_]+)`\s*\}\}")
REFERENCE = re.compile(r"^(ssm:\S+|s3://[a-z0-9][a-z0-9.-]+/\S+|[^:\s]+)$")
ECSPRESSO = json.loads((Path(__file__).resolve().parent / "ecspresso_config.json").read_text())
ACTIONS = json.loads((Path(__file__).resolve().parent / "github_actions_inputs.json").read_text())["actions"]
CODEDEPLOY_EVENTS = ["BeforeInstall", "AfterInstall", "AfterAllowTestTraffic", "BeforeAllowTraffic", "AfterAllowTraffic"]


# Files checked as part of another (a service or task definition an ecspresso config names).
EXTRA_CHECKED: list[str] = []


class Problems(list):
    def add(self, where: str, message: str) -> None:
        self.append(f"{where}: {message}")


# ---------------------------------------------------------------------------------------------
# The ECS API shapes
# ---------------------------------------------------------------------------------------------
def ecs_model() -> botocore.model.ServiceModel:
    loader = botocore.loaders.create_loader()
    return botocore.model.ServiceModel(loader.load_service_model("ecs", "service-2"), "ecs")


def enum_errors(value, shape, path="") -> list[str]:
    """Enum values, which ParamValidator leaves to the service."""
    errors = []
    if shape.type_name == "string" and shape.enum and isinstance(value, str) and value not in shape.enum:
        errors.append(f"{path or 'value'}: {value!r} is not one of {', '.join(shape.enum)}")
    elif shape.type_name == "structure" and isinstance(value, dict) and not shape.is_document_type:
        for key, member in shape.members.items():
            if key in value:
                errors += enum_errors(value[key], member, f"{path}.{key}" if path else key)
    elif shape.type_name == "list" and isinstance(value, list):
        for index, item in enumerate(value):
            errors += enum_errors(item, shape.member, f"{path}[{index}]")
    elif shape.type_name == "map" and isinstance(value, dict):
        for key, item in value.items():
            errors += enum_errors(item, shape.value, f"{path}.{key}")
    return errors


# Hook fields added after the first botocore with blue/green (>= 1.39.5). An older botocore does not
# know them: they are stripped before validation and reported as not validated. Any other unknown
# field is an error.
NEWER_HOOK_FIELDS = {"timeoutConfiguration"}
NOT_VALIDATED: set[str] = set()


def without_newer_hook_fields(model, params: dict) -> dict:
    shape = model.operation_model("CreateService").input_shape
    known = set(shape.members["deploymentConfiguration"].members["lifecycleHooks"].member.members)
    unknown = NEWER_HOOK_FIELDS - known
    hooks = params.get("deploymentConfiguration", {}).get("lifecycleHooks", [])
    if not unknown or not any(unknown & set(hook) for hook in hooks):
        return params
    params = json.loads(json.dumps(params))
    for hook in params["deploymentConfiguration"]["lifecycleHooks"]:
        for key in unknown & set(hook):
            NOT_VALIDATED.add(key)
            del hook[key]
    return params


def validate_request(model, operation: str, params: dict, where: str, problems: Problems) -> None:
    shape = model.operation_model(operation).input_shape
    if operation in ("CreateService", "UpdateService"):
        params = without_newer_hook_fields(model, params)
    report = ParamValidator().validate(params, shape)
    if report.has_errors():
        for line in report.generate_report().splitlines():
            problems.add(f"{where} ({operation})", line.strip())
    for error in enum_errors(params, shape):
        problems.add(f"{where} ({operation})", error)


def update_request(model, create: dict) -> dict:
    """The UpdateService request that applies a CreateService request to an existing service."""
    update = {"service": create["serviceName"]}
    model_keys = model.operation_model("UpdateService").input_shape.members
    for key, value in create.items():
        if key in model_keys and key != "service":
            update[key] = value
    return update


# ---------------------------------------------------------------------------------------------
# Lifecycle hooks and greenlight configs
# ---------------------------------------------------------------------------------------------
class Configs:
    """Inline greenlight configs, written out for one `greenlight config validate` run."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.files: dict[Path, str] = {}

    def add(self, where: str, config: dict) -> None:
        slug = re.sub(r"[^A-Za-z0-9]+", "-", where).strip("-")
        path = self.directory / f"{len(self.files):02d}-{slug}.json"
        path.write_text(json.dumps(config, indent=2))
        self.files[path] = where


def function_of(target: str) -> str | None:
    """The greenlight function a hookTargetArn names (any name prefix; version or alias ignored)."""
    match = re.search(r":function:([^:]+)", target or "")
    name = match.group(1) if match else ""
    return next((f for f in FUNCTION_STAGES if name.endswith(f)), None)


def check_hook(hook: dict, function: str | None, where: str, configs: Configs, problems: Problems,
               service: tuple[str, str] | None = None) -> None:
    stages = set(hook.get("lifecycleStages", []))
    if function is None:
        problems.add(where, f"hookTargetArn {hook.get('hookTargetArn')!r} is not a greenlight function")
        return
    wrong = stages - FUNCTION_STAGES[function]
    if wrong:
        problems.add(where, f"{function} does not serve {', '.join(sorted(wrong))} "
                            f"(it serves {', '.join(sorted(FUNCTION_STAGES[function]))})")
    if not hook.get("roleArn"):
        problems.add(where, "no roleArn (the role ECS assumes to invoke the function)")
    details = hook.get("hookDetails")
    if details is None:
        return
    if not isinstance(details, dict):
        problems.add(where, "hookDetails is not a JSON object")
        return
    config = details.get("greenlight")
    if config is not None:
        named = set(config.get("stages", {}))
        if named - stages:
            problems.add(where, f"inline config names {', '.join(sorted(named - stages))}, "
                                "which this hook is not registered for")
        configs.add(where, config)
        for problem in reference_problems(config, service):
            problems.add(where, problem)
    reference = details.get("greenlightConfig")
    if reference is not None and not (isinstance(reference, str) and REFERENCE.match(reference)):
        problems.add(where, f"greenlightConfig {reference!r} is not ssm:<name>, s3://bucket/key or a file path")
    elif isinstance(reference, str) and reference.startswith("ssm:"):
        prefix = template_defaults()["ConfigParameterPrefix"]
        if not reference[len("ssm:"):].startswith(prefix):
            problems.add(where, f"greenlightConfig {reference!r} is outside the template's default "
                                f"ConfigParameterPrefix ({prefix!r}); the functions' role could not read it")


def check_service(request: dict, where: str, configs: Configs, problems: Problems, expect_strategy=None) -> int:
    config = request.get("deploymentConfiguration", {})
    strategy = config.get("strategy", "ROLLING")
    if expect_strategy and strategy != expect_strategy:
        problems.add(where, f"strategy is {strategy}, expected {expect_strategy}")
    if request.get("deploymentController", {}).get("type") != "ECS":
        problems.add(where, "deploymentController.type must be ECS for lifecycle hooks")
    hooks = config.get("lifecycleHooks", [])
    if not hooks:
        problems.add(where, "no lifecycleHooks")
    if strategy == "ROLLING":
        for hook in hooks:
            if set(hook.get("lifecycleStages", [])) != {"PRE_SCALE_UP"}:
                problems.add(where, "a ROLLING service takes a PRE_SCALE_UP hook only")
    else:
        for index, lb in enumerate(request.get("loadBalancers", [])):
            advanced = lb.get("advancedConfiguration", {})
            missing = {"alternateTargetGroupArn", "productionListenerRule", "roleArn"} - set(advanced)
            if missing:
                problems.add(where, f"loadBalancers[{index}].advancedConfiguration lacks {', '.join(sorted(missing))}")
        for block, wanted in (("linearConfiguration", "LINEAR"), ("canaryConfiguration", "CANARY")):
            if (block in config) != (strategy == wanted):
                problems.add(where, f"{block} belongs with strategy {wanted} only")
    cluster, name = request.get("cluster"), request.get("serviceName")
    service = (cluster, name) if isinstance(cluster, str) and isinstance(name, str) else None
    for index, hook in enumerate(hooks):
        check_hook(hook, function_of(hook.get("hookTargetArn", "")), f"{where} hook[{index}]", configs, problems,
                   service)
    return len(hooks)


# ---------------------------------------------------------------------------------------------
# Terraform
# ---------------------------------------------------------------------------------------------
def stack_exports(stack: str = "greenlight") -> dict[str, str]:
    """The greenlight stack's exports, `<stack>-<Output>`, with sample values."""
    outputs = yaml.load(TEMPLATE.read_text(), Loader=CloudFormationLoader).get("Outputs", {})
    exports = {}
    for output in outputs:
        function = EXPORT_FUNCTIONS.get(output)
        if function:
            value = f"arn:aws:lambda:us-east-1:111122223333:function:greenlight-{function}"
        elif output == "HookInvokeRoleArn":
            value = SAMPLE_ENV["GREENLIGHT_HOOK_ROLE_ARN"]
        else:
            value = f"arn:aws:lambda:us-east-1:111122223333:function:{output}"
        exports[f"{stack}-{output}"] = value
    return exports


def terraform_problems(text: str, where: str, model, configs: Configs) -> tuple[Problems, str]:
    """A .tf file: every aws_ecs_service against the provider's schema, then as the CreateService
    request it makes (botocore), with its hooks and inline configs checked like every example."""
    problems = Problems()
    try:
        module = terraform_hcl.Module(text)
    except Exception as error:  # python-hcl2 raises lark's errors
        problems.add(where, f"does not parse as HCL: {error}")
        return problems, "unparsable"
    settings = terraform_hcl.plain(module.raw.get("terraform", [{}]))
    providers = (settings[0].get("required_providers") or [{}])[0] if settings else {}
    aws = providers.get("aws") if isinstance(providers.get("aws"), dict) else {}
    pinned = version_floor(aws.get("version", "")) if aws else None
    floor = max(version_floor(v) or (0,) for v in terraform_hcl.SCHEMA["min_provider_versions"].values())
    if pinned is None or pinned < floor:
        problems.add(where, f"required_providers.aws.version must admit only >= {'.'.join(map(str, floor))} "
                            "(lifecycle_hook, hook_details, linear/canary); an older provider refuses these blocks")
    services = module.services()
    if not services:
        problems.add(where, "no aws_ecs_service")
    hooks = 0
    for name, body in services:
        service_where = f"{where} aws_ecs_service.{name}"
        for problem in terraform_hcl.schema_problems(body, terraform_hcl.SCHEMA["schema"], ""):
            problems.add(service_where, problem)
        try:
            request = terraform_hcl.create_service_request(module, body, stack_exports())
        except ValueError as error:
            problems.add(service_where, str(error))
            continue
        validate_request(model, "CreateService", request, service_where, problems)
        hooks += check_service(request, service_where, configs, problems)
    return problems, (f"{len(services)} aws_ecs_service against the provider schema "
                      f"({terraform_hcl.SCHEMA['source']['path']}), as CreateService; {hooks} hook(s)")


# Each breakage of the Terraform example, and the text that must be reintroduced to show it.
TERRAFORM_BREAKAGES = {
    "hook_details as a map": ("hook_details     = jsonencode(local.admission)",
                              "hook_details     = local.admission"),
    "misspelt attribute": ("lifecycle_stages = [\"POST_SCALE_UP\"]", "lifecycle_stage = [\"POST_SCALE_UP\"]"),
    "stage the function does not serve": ("lifecycle_stages = [\"POST_SCALE_UP\"]",
                                          "lifecycle_stages = [\"POST_TEST_TRAFFIC_SHIFT\"]"),
    "unknown export": ("-PostScaleUpFunctionArn", "-PostScaleUpFunction"),
    "old provider": ('version = ">= 6.21.0"', 'version = ">= 6.3.0"'),
    "advanced_configuration as a map": ("advanced_configuration {", "advanced_configuration = {"),
}


def terraform_self_test(model) -> list[str]:
    path = EXAMPLES / "terraform" / "main.tf"
    text = path.read_text()
    failures = []
    with tempfile.TemporaryDirectory(prefix="greenlight-tf-") as tmp:
        for name, (good, bad) in TERRAFORM_BREAKAGES.items():
            if good not in text:
                failures.append(f"self-test {name!r}: {good!r} is no longer in {path.name}")
                continue
            problems, _ = terraform_problems(text.replace(good, bad, 1), name, model, Configs(Path(tmp)))
            if not problems:
                failures.append(f"self-test: a copy with {name} was accepted")
    return failures


# ---------------------------------------------------------------------------------------------
# The examples
# ---------------------------------------------------------------------------------------------
def render(text: str, where: str, problems: Problems) -> str:
    def fill(match):
        name = match.group(1)
        return SAMPLE_ENV.get(name, f"sample-{name.lower().replace('_', '-')}")

    rendered = PLACEHOLDER.sub(fill, text)
    if "{{" in rendered:
        problems.add(where, "a template expression other than {{ must_env `NAME` }} is left")
    return rendered


class CloudFormationLoader(yaml.SafeLoader):
    """Reads CloudFormation YAML: each short-form intrinsic (!Ref, !Sub...) becomes its long form."""


def _intrinsic(loader, suffix, node):
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


CloudFormationLoader.add_multi_constructor("!", _intrinsic)


def cloudformation_hooks(path: Path, configs: Configs, problems: Problems) -> str:
    template = yaml.load(path.read_text(), Loader=CloudFormationLoader)
    outputs = yaml.load(TEMPLATE.read_text(), Loader=CloudFormationLoader).get("Outputs", {})
    where = path.relative_to(ROOT).as_posix()
    count = 0
    for logical, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::ECS::Service":
            continue
        props = resource["Properties"]
        if props.get("DeploymentController", {}).get("Type") != "ECS":
            problems.add(f"{where} {logical}", "DeploymentController.Type must be ECS")
        for index, hook in enumerate(props.get("DeploymentConfiguration", {}).get("LifecycleHooks", [])):
            hook_where = f"{where} {logical} hook[{index}]"
            function = None
            for key in ("HookTargetArn", "RoleArn"):
                imported = json.dumps(hook.get(key))
                match = re.search(r"-(\w+Arn)\b", imported)
                export = match.group(1) if match and "ImportValue" in imported else None
                if export and export not in outputs:
                    problems.add(hook_where, f"{key} imports {export}, which infra/template.yaml does not output")
                if key == "HookTargetArn":
                    function = EXPORT_FUNCTIONS.get(export) if export else function_of(hook.get(key))
            api_hook = {
                "hookTargetArn": hook.get("HookTargetArn"),
                "roleArn": hook.get("RoleArn"),
                "lifecycleStages": hook.get("LifecycleStages", []),
            }
            if "HookDetails" in hook:
                details = hook["HookDetails"]
                if isinstance(details, str):
                    try:
                        api_hook["hookDetails"] = json.loads(details)
                    except json.JSONDecodeError as error:
                        problems.add(f"{where} hook[{index}]", f"HookDetails is not a JSON object: {error}")
                else:
                    # CloudFormation documents HookDetails as "a JSON object as a string"; a map
                    # passes the pinned cfn-lint but an older one rejects it.
                    problems.add(f"{where} hook[{index}]", "HookDetails must be a JSON object as a string, "
                                 "as CloudFormation documents it (HookDetails: '{\"greenlight\": …}')")
                    api_hook["hookDetails"] = details
            cluster, name = props.get("Cluster"), props.get("ServiceName")
            service = (cluster, name) if isinstance(cluster, str) and isinstance(name, str) else None
            check_hook(api_hook, function, hook_where, configs, problems, service)
            count += 1
    return f"{count} hook(s) wired to the greenlight stack's exports"


@functools.cache
def template_defaults() -> dict[str, str]:
    """The template's parameter defaults (the template's own YAML tags are kept as text)."""
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    template = yaml.load((ROOT / "infra" / "template.yaml").read_text(), Loader=Loader)
    return {name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()}


def references(node, path=""):
    """(path, kind, value) of each ssm parameter, secret and team function a config names."""
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}" if path else str(key)
            if key in ("ssm", "secret") and isinstance(value, str):
                yield where, key, value
            elif key == "function" and isinstance(value, str) and path.endswith("lambda"):
                yield where, key, value
            else:
                yield from references(value, where)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from references(value, f"{path}[{index}]")


def reference_problems(config, service: tuple[str, str] | None = None) -> list[str]:
    """Every SSM header value, secret and team function a config names must be one the template's
    default IAM prefixes let the functions read or invoke, so a copied example works as deployed. With
    the service known (cluster, name), a secret must also be under that service's own secret path
    (GREENLIGHT_SECRET_PATH, SecretParameterPrefix + {cluster}/{service}/), which the functions
    enforce before any call."""
    defaults = template_defaults()
    out = []
    for where, kind, value in references(config):
        if kind == "ssm":
            parameter, name = "SecretParameterPrefix", value
            prefix = defaults[parameter]
        elif kind == "secret":
            parameter = "SecretNamePrefix"
            prefix = defaults[parameter]
            name = value.split(":secret:", 1)[1] if ":secret:" in value else value
        else:
            parameter = "TeamCheckFunctionPrefix"
            prefix = defaults[parameter]
            match = re.search(r":function:([^:]+)", value)
            name = match.group(1) if match else value.split(":")[0]
        if not name.startswith(prefix):
            out.append(
                f"{where}: {kind} {value!r} is outside the template's default {parameter} ({prefix!r}); "
                "the functions' role could not read it. Rename it, or say which parameter to set"
            )
        elif kind in ("ssm", "secret") and service is not None:
            path = defaults["SecretParameterPrefix"] + f"{service[0]}/{service[1]}/"
            own = path if kind == "ssm" else path.lstrip("/")
            if not name.startswith(own):
                out.append(f"{where}: {kind} {value!r} is outside the service's secret path {own!r} "
                           "(GREENLIGHT_SECRET_PATH for its cluster and name); the functions refuse it")
    return out


def check_iam_prefixes(path: Path, problems: Problems) -> int:
    """reference_problems for an example config file (no service: the prefixes only)."""
    config = yaml.safe_load(path.read_text()) if path.suffix != ".json" else json.loads(path.read_text())
    problems.extend(reference_problems(config))
    return sum(1 for _ in references(config))


def version_floor(constraint: str) -> tuple[int, ...] | None:
    """The lowest version a `required_version` constraint admits (hashicorp/go-version syntax, as
    ecspresso reads it): the largest `>=`, `>`, `~>` or `=` bound; None when nothing bounds it below."""
    floors = []
    for part in constraint.split(","):
        match = re.fullmatch(r"\s*(>=|>|~>|=)?\s*v?(\d+)(?:\.(\d+))?(?:\.(\d+))?\s*", part)
        if match:
            floors.append(tuple(int(n or 0) for n in match.groups()[1:]))
    return max(floors) if floors else None


def appspec_hook_problems(appspec: dict, where: str) -> list[str]:
    """An AppSpec's Hooks: ECS lifecycle events, each calling greenlight's function for it."""
    problems = []
    hooks = [(event, function) for entry in appspec.get("Hooks") or [] for event, function in entry.items()]
    if not hooks:
        problems.append(f"{where}: Hooks names no greenlight hook")
    for event, function in hooks:
        if event not in CODEDEPLOY_EVENTS:
            problems.append(f"{where}: hook {event} is not an ECS lifecycle event ({', '.join(CODEDEPLOY_EVENTS)})")
        elif str(function) != f"CodeDeployHook_greenlight_{event}":
            problems.append(f"{where}: hook {event} calls {function}, not greenlight's CodeDeployHook_greenlight_{event} "
                            "(AWSCodeDeployRoleForECSLimited invokes CodeDeployHook_* only)")
    return problems


def ecspresso_problems(settings: dict, service: dict, where: str) -> list[str]:
    """What is wrong with an ecspresso config and the service definition it deploys."""
    problems = []
    if not isinstance(settings, dict):
        return [f"{where}: not a map of ecspresso settings"]
    for key in settings:
        if key not in ECSPRESSO["keys"]:
            problems.append(f"{where}: `{key}` is not an ecspresso setting (ecspresso ignores it): "
                            f"one of {', '.join(ECSPRESSO['keys'])}")
    codedeploy = settings.get("codedeploy")
    for key in (codedeploy or {}):
        if key not in ECSPRESSO["codedeploy_keys"]:
            problems.append(f"{where}: codedeploy.{key} is not an ecspresso setting: one of "
                            f"{', '.join(ECSPRESSO['codedeploy_keys'])}")
    controller = (service.get("deploymentController") or {}).get("type", "ECS")
    native = controller == "ECS" and (
        (service.get("deploymentConfiguration") or {}).get("lifecycleHooks")
        or (service.get("deploymentConfiguration") or {}).get("strategy") in ("BLUE_GREEN", "LINEAR", "CANARY"))
    minimum = tuple(ECSPRESSO["native_blue_green_min_version"])
    floor = version_floor(str(settings.get("required_version", "")))
    if native and (floor is None or floor < minimum):
        problems.append(f"{where}: required_version must admit only ecspresso {'.'.join(map(str, minimum))} or later "
                        f"(ECS-native blue/green; an older ecspresso drops the hooks and deploys ungated), "
                        f"e.g. required_version: \">= {'.'.join(map(str, minimum))}\"")
    if controller == "CODE_DEPLOY":
        if not codedeploy or not codedeploy.get("application_name") or not codedeploy.get("deployment_group_name"):
            problems.append(f"{where}: a CODE_DEPLOY service needs codedeploy.application_name and "
                            "codedeploy.deployment_group_name (else ecspresso guesses among every application)")
        appspec = settings.get("appspec") or {}
        for key in appspec:
            if key not in ECSPRESSO["appspec_keys"]:
                problems.append(f"{where}: appspec.{key} is not an AppSpec section")
        problems.extend(appspec_hook_problems(appspec, where))
        if (service.get("deploymentConfiguration") or {}).get("lifecycleHooks"):
            problems.append(f"{where}: a CODE_DEPLOY service cannot take ECS lifecycle hooks")
    elif codedeploy:
        problems.append(f"{where}: codedeploy is set, but the service definition's deploymentController is "
                        f"{controller}, not CODE_DEPLOY")
    return problems


def ecspresso_self_test() -> list[str]:
    """Broken copies of the examples that must each be rejected."""
    failures = []
    native_path = EXAMPLES / "ecspresso" / "ecspresso.yml"
    codedeploy_path = EXAMPLES / "codedeploy" / "ecspresso.yml"
    native = yaml.safe_load(render(native_path.read_text(), "self-test", Problems()))
    native_service = json.loads(render((native_path.parent / native["service_definition"]).read_text(), "self-test", Problems()))
    codedeploy = yaml.safe_load(render(codedeploy_path.read_text(), "self-test", Problems()))
    codedeploy_service = json.loads(render((codedeploy_path.parent / codedeploy["service_definition"]).read_text(), "self-test", Problems()))
    misspelt = {("code_deploy" if key == "codedeploy" else key): value for key, value in codedeploy.items()}
    no_version = {key: value for key, value in native.items() if key != "required_version"}
    old_version = {**native, "required_version": ">= 2.5.0"}
    unprefixed = {**codedeploy, "appspec": {"Hooks": [{"AfterInstall": "greenlight-after-install"}]}}
    for name, settings, service in [
        ("`code_deploy:` instead of `codedeploy:`", misspelt, codedeploy_service),
        ("no required_version", no_version, native_service),
        ("required_version >= 2.5.0", old_version, native_service),
        ("CODE_DEPLOY config on an ECS-native service", codedeploy, native_service),
        ("an AppSpec hook without the CodeDeployHook_ prefix", unprefixed, codedeploy_service),
    ]:
        if not ecspresso_problems(settings, service, name):
            failures.append(f"ecspresso self-test: {name} was not rejected")
    return failures


def workflow_problems(workflow: dict, where: str, appspec_hooks: int) -> list[str]:
    """A GitHub Actions workflow's steps against the actions' own inputs (github_actions_inputs.json),
    its render step against a plain task definition, and its deploy step's wait against the hooks."""
    problems = []
    if not isinstance(workflow, dict):
        return [f"{where}: not a workflow"]
    for job_name, job in (workflow.get("jobs") or {}).items():
        for index, step in enumerate(job.get("steps") or []):
            uses = str(step.get("uses", ""))
            action = uses.split("@")[0]
            if action not in ACTIONS:
                continue
            spec, inputs = ACTIONS[action], step.get("with") or {}
            at = f"{where}: jobs.{job_name}.steps[{index}] ({action})"
            for name in inputs:
                if name not in spec["inputs"]:
                    problems.append(f"{at}: `{name}` is not one of its inputs")
            for name in spec["required"]:
                if name not in inputs:
                    problems.append(f"{at}: its required input `{name}` is missing")
            if action.endswith("render-task-definition"):
                path = ROOT / str(inputs.get("task-definition", ""))
                if not path.is_file():
                    problems.append(f"{at}: task-definition {path.relative_to(ROOT)} does not exist")
                elif "{{" in path.read_text():
                    problems.append(f"{at}: task-definition {path.relative_to(ROOT)} is a template; the action "
                                    "reads plain JSON and registration would fail")
            if action.endswith("deploy-task-definition") and "codedeploy-appspec" in inputs:
                wait = int(inputs.get("wait-for-minutes", spec["wait_for_minutes_default"]))
                wanted = min(60 * max(appspec_hooks, 1), spec["wait_for_minutes_max"])
                if wait < wanted:
                    problems.append(f"{at}: wait-for-minutes is {wait}; {appspec_hooks} greenlight hook(s) may "
                                    f"bake up to an hour each: wait at least {wanted}")
    return problems


def workflow_self_test() -> list[str]:
    """Broken copies of the workflow example that must each be rejected."""
    path = EXAMPLES / "codedeploy" / "github-actions-deploy.yml"
    good = yaml.safe_load(path.read_text())
    failures = []

    def steps(copy):
        return copy["jobs"]["deploy"]["steps"]

    for name, change in [
        ("the action's default wait", lambda copy: steps(copy)[-1]["with"].pop("wait-for-minutes")),
        ("an ecspresso template as the task definition",
         lambda copy: steps(copy)[2]["with"].update({"task-definition": "infra/examples/ecspresso/ecs-task-def.json"})),
        ("an input the action does not have", lambda copy: steps(copy)[-1]["with"].update({"wait-minutes": 360})),
    ]:
        copy = json.loads(json.dumps(good))
        change(copy)
        if not workflow_problems(copy, name, 5):
            failures.append(f"workflow self-test: {name} was not rejected")
    return failures


def main() -> int:
    if tuple(int(p) for p in botocore.__version__.split(".")[:3]) < MIN_BOTOCORE:
        print(f"FAIL botocore {botocore.__version__} predates the ECS blue/green fields; need >= 1.39.5")
        return 1
    model = ecs_model()
    results: list[tuple[str, Problems, str]] = []
    with tempfile.TemporaryDirectory(prefix="greenlight-examples-") as tmp:
        configs = Configs(Path(tmp))

        for path in sorted(EXAMPLES.glob("service-*.json")):
            where, problems = path.relative_to(ROOT).as_posix(), Problems()
            request = json.loads(path.read_text())
            validate_request(model, "CreateService", request, where, problems)
            if "serviceName" in request:
                validate_request(model, "UpdateService", update_request(model, request), where, problems)
            hooks = check_service(request, where, configs, problems, STRATEGY_BY_FILE.get(path.name))
            results.append((where, problems, f"CreateService + UpdateService, {hooks} hook(s)"))

        for config_path in sorted(EXAMPLES.rglob("ecspresso.y*ml")):
            where, problems = config_path.relative_to(ROOT).as_posix(), Problems()
            base = config_path.parent
            settings = yaml.safe_load(render(config_path.read_text(), where, problems))
            service_path = base / settings["service_definition"]
            service = json.loads(render(service_path.read_text(), where, problems))
            problems.extend(ecspresso_problems(settings, service, where))
            # ecspresso fills in the cluster, service name and task definition itself.
            request = {"cluster": settings["cluster"], "serviceName": settings["service"], **service}
            service_where = service_path.relative_to(ROOT).as_posix()
            EXTRA_CHECKED.append(service_where)
            validate_request(model, "CreateService", request, service_where, problems)
            controller = (service.get("deploymentController") or {}).get("type", "ECS")
            # A CODE_DEPLOY service's hooks are the AppSpec's, checked above.
            hooks = 0 if controller == "CODE_DEPLOY" else check_service(request, service_where, configs, problems)
            task_path = base / settings["task_definition"]
            task = json.loads(render(task_path.read_text(), where, problems))
            EXTRA_CHECKED.append(task_path.resolve().relative_to(ROOT).as_posix())
            validate_request(model, "RegisterTaskDefinition", task, task_path.relative_to(ROOT).as_posix(), problems)
            results.append((where, problems, f"ecspresso keys of {ECSPRESSO['source'].split(',')[0]}; "
                            f"{controller} service (CreateService, {hooks} lifecycle hook(s)) and task definition"))
        results.append(("ecspresso self-test", Problems(ecspresso_self_test()),
                        "5 broken copies rejected (misspelt key, missing or old required_version, "
                        "CODE_DEPLOY on a native service, unprefixed AppSpec hook)"))

        for path in sorted(EXAMPLES.rglob("appspec.y*ml")):
            where = path.relative_to(ROOT).as_posix()
            appspec = yaml.safe_load(path.read_text())
            problems = Problems(appspec_hook_problems(appspec, where))
            results.append((where, problems, f"{len(appspec.get('Hooks') or [])} hook(s), each greenlight's for its event"))

        for path in sorted(EXAMPLES.rglob("task-definition.json")):
            where, problems = path.relative_to(ROOT).as_posix(), Problems()
            validate_request(model, "RegisterTaskDefinition", json.loads(path.read_text()), where, problems)
            results.append((where, problems, "RegisterTaskDefinition"))

        for path in sorted(EXAMPLES.rglob("github-actions-*.yml")):
            where = path.relative_to(ROOT).as_posix()
            appspec = yaml.safe_load((path.parent / "appspec.yaml").read_text())
            hooks = len(appspec.get("Hooks") or [])
            problems = Problems(workflow_problems(yaml.safe_load(path.read_text()), where, hooks))
            results.append((where, problems, f"steps against the actions' inputs; plain task definition; "
                            f"waits for {hooks} hook(s)"))
        results.append(("workflow self-test", Problems(workflow_self_test()),
                        "3 broken copies rejected (default wait, templated task definition, unknown input)"))

        for path in sorted(EXAMPLES.rglob("*.tf")):
            where = path.relative_to(ROOT).as_posix()
            problems, summary = terraform_problems(path.read_text(), where, model, configs)
            results.append((where, problems, summary))
        results.append(("terraform self-test", Problems(terraform_self_test(model)),
                        f"{len(TERRAFORM_BREAKAGES)} broken copies rejected "
                        f"({', '.join(TERRAFORM_BREAKAGES)})"))

        for path in sorted(EXAMPLES.glob("cloudformation-*.yaml")):
            where, problems = path.relative_to(ROOT).as_posix(), Problems()
            summary = cloudformation_hooks(path, configs, problems)
            results.append((where, problems, summary))

        cli = shlex.split(os.environ.get("GREENLIGHT_CLI", "cargo run -q --locked -p greenlight-cli --"))
        run = subprocess.run(
            [*cli, "config", "validate", *map(str, configs.files)],
            cwd=ROOT, capture_output=True, text=True,
        )
        problems = Problems()
        if run.returncode != 0:
            for line in (run.stdout + run.stderr).splitlines():
                if ": valid (" in line:
                    continue
                for path, where in configs.files.items():
                    line = line.replace(str(path), f"{where} [inline config]")
                problems.append(line)
        results.append(("inline greenlight configs", problems,
                        f"{len(configs.files)} valid per `greenlight config validate`"))

    for path in sorted((EXAMPLES / "config").glob("*.*")):
        if path.suffix not in (".yaml", ".yml", ".json"):
            continue
        where, problems = path.relative_to(ROOT).as_posix(), Problems()
        count = check_iam_prefixes(path, problems)
        results.append((where, problems, f"{count} reference(s) within the template's IAM prefixes"))

    # Every file under infra/examples is checked by something above.
    checked = {where for where, _, _ in results} | set(EXTRA_CHECKED)
    unchecked = sorted(path.relative_to(ROOT).as_posix() for path in EXAMPLES.rglob("*")
                       if path.is_file() and path.relative_to(ROOT).as_posix() not in checked)
    results.append(("every example checked", Problems(f"{path}: no check reads it" for path in unchecked),
                    f"{len(checked)} files"))

    failed = False
    for where, problems, summary in results:
        if problems:
            failed = True
            print(f"FAIL {where}")
            for problem in problems:
                print(f"     {problem}")
        else:
            print(f"ok   {where}: {summary}")
    print(f"     (ECS API model from botocore {botocore.__version__})")
    if NOT_VALIDATED:
        print(f"     (this botocore does not know lifecycleHooks[].{', '.join(sorted(NOT_VALIDATED))}: not validated)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
