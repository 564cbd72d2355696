#!/usr/bin/env python3
"""What the linters do not check in infra/template.yaml: that each function is the right binary,
runs the right way and logs where it should.

cfn-lint and `sam validate --lint` accept any runtime, architecture or memory size, and the
serverless rule for log retention cannot see LoggingConfig.LogGroup. This checks, on the template as
CloudFormation will receive it (after the SAM transform, Globals merged):

* exactly the four ECS functions, each named <prefix><binary>, with CodeUri
  ../target/lambda/<binary>/bootstrap.zip for a binary this workspace builds;
* provided.al2023, arm64, handler `bootstrap`, active tracing, memory and timeout from the
  parameters (test-traffic from TestTrafficTimeout);
* JSON logs at the LogLevel parameter into the function's own log group, named
  /aws/lambda/<function name> and kept LogRetentionInDays;
* GREENLIGHT_CONFIG from the ConfigReference parameter, and on every function (the CodeDeploy
  hooks too) GREENLIGHT_SECRET_PATH from SecretParameterPrefix with the literal {cluster}/{service}
  placeholders and GREENLIGHT_SECRET_HOSTS from SecretHeaderHosts;
* the parameter defaults the README documents (SecretNamePrefix = SecretParameterPrefix without
  its leading slash, and the rule SecretPrefixesAgree that guards the pairing), LogLevel without
  TRACE (the runtime would log raw events), and an exported output per function ARN and for the
  invoke role;
* the five CodeDeploy hook functions: CodeDeployHook_greenlight_<Event><suffix>, all from the
  `codedeploy-hook` binary, GREENLIGHT_HOOK=<Event>, the CodeDeployHookTimeout, their own log
  groups, and a role that may report to CodeDeploy and invoke only the hook functions;
* the optional operations resources, off by default: the stopped-deployment alarm watches the
  metric the functions' summary lines carry (namespace and name read from
  shared/core/src/telemetry.rs) for Verdict=FAILED, and the dashboard's body is JSON whose log
  query reads every function's log group.

Usage: test_template.py   (needs the SAM translator, which comes with the SAM CLI)
"""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

sys.dont_write_bytecode = True  # importing test_iam must not leave __pycache__ in the tree
sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_iam import FUNCTION_STAGES, ROOT, SAM_TEMPLATE, expand, function_name, yaml_parse  # noqa: E402

DEFAULTS = {
    "FunctionNamePrefix": "greenlight-",
    "ConfigReference": "",
    "LogLevel": "INFO",
    "LogRetentionInDays": 30,
    "MemorySize": 256,
    "Timeout": 60,
    "TestTrafficTimeout": 300,
    "ConfigParameterPrefix": "/greenlight/config/",
    "SecretParameterPrefix": "/greenlight/secrets/",
    "SecretNamePrefix": "greenlight/secrets/",
    "SecretHeaderHosts": "",
    "ConfigBucket": "",
    "TeamCheckFunctionPrefix": "greenlight-check-",
}
CODEDEPLOY_EVENTS = ["BeforeInstall", "AfterInstall", "AfterAllowTestTraffic", "BeforeAllowTraffic",
                     "AfterAllowTraffic"]
CODEDEPLOY_PREFIX = "CodeDeployHook_greenlight_"
# What the platform sets on every function and no config or event can change (shared/core/src/platform.rs).
PLATFORM_VARIABLES = {
    "GREENLIGHT_SECRET_PATH": {"Fn::Sub": "${SecretParameterPrefix}{cluster}/{service}/"},
    "GREENLIGHT_SECRET_HOSTS": {"Ref": "SecretHeaderHosts"},
}
LOG_LEVELS = ["DEBUG", "INFO", "WARN", "ERROR", "FATAL"]  # no TRACE: the runtime would log raw events
OUTPUTS = {
    "pre-scale-up": "PreScaleUpFunctionArn",
    "post-scale-up": "PostScaleUpFunctionArn",
    "test-traffic": "TestTrafficFunctionArn",
    "production-traffic": "ProductionTrafficFunctionArn",
}


def workspace_binaries() -> set[str]:
    manifest = tomllib.loads((ROOT / "Cargo.toml").read_text())
    names = set()
    for member in manifest["workspace"]["members"]:
        crate = tomllib.loads((ROOT / member / "Cargo.toml").read_text())
        names |= {b["name"] for b in crate.get("bin", [])}
        if (ROOT / member / "src" / "main.rs").exists():
            names.add(crate["package"]["name"])
    return names


def ref(name):
    return {"Ref": name}


TELEMETRY = ROOT / "shared" / "core" / "src" / "telemetry.rs"
NEEDS = ROOT / "infra" / "iam" / "needs.json"


def emitted_metric() -> tuple[str, str]:
    """The namespace and metric name the summary line's EMF directive carries, from the code."""
    import re
    source = TELEMETRY.read_text()
    namespace = re.search(r'pub const METRICS_NAMESPACE: &str = "([^"]+)"', source)
    metric = re.search(r'pub const VERDICTS_METRIC: &str = "([^"]+)"', source)
    if not namespace or not metric:
        raise SystemExit(f"{TELEMETRY.relative_to(ROOT)}: METRICS_NAMESPACE or VERDICTS_METRIC not found")
    return namespace.group(1), metric.group(1)


def check_operations(raw: dict, errors: list[str]) -> None:
    resources = raw.get("Resources", {})
    parameters = raw.get("Parameters", {})
    for name in ("StoppedDeploymentAlarm", "Dashboard"):
        if parameters.get(name, {}).get("Default") != "false":
            errors.append(f"parameter {name}: must default to \"false\" (operations resources are opt-in)")
    namespace, metric = emitted_metric()
    alarm = resources.get("StoppedDeploymentsAlarm", {})
    props = alarm.get("Properties", {})
    if alarm.get("Condition") != "CreateStoppedDeploymentAlarm":
        errors.append("StoppedDeploymentsAlarm: missing, or not under the CreateStoppedDeploymentAlarm condition")
    if (props.get("Namespace"), props.get("MetricName")) != (namespace, metric):
        errors.append(f"StoppedDeploymentsAlarm: watches {props.get('Namespace')}/{props.get('MetricName')}, "
                      f"the functions emit {namespace}/{metric}")
    if props.get("Dimensions") != [{"Name": "Verdict", "Value": "FAILED"}] or props.get("Statistic") != "Sum":
        errors.append("StoppedDeploymentsAlarm: must be the Sum of Verdict=FAILED")
    if props.get("TreatMissingData") != "notBreaching":
        errors.append("StoppedDeploymentsAlarm: no deployment is not a stopped one (TreatMissingData notBreaching)")

    dashboard = resources.get("OperationsDashboard", {})
    if dashboard.get("Condition") != "CreateDashboard":
        errors.append("OperationsDashboard: missing, or not under the CreateDashboard condition")
        return
    body, variables = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    separator, refs = variables["Groups"]["Fn::Join"]
    wanted = sorted(logical for logical, resource in resources.items()
                    if resource.get("Type") == "AWS::Logs::LogGroup")
    named = sorted(item.get("Ref") for item in refs)
    if named != wanted:
        errors.append(f"OperationsDashboard: its log query reads {named}, the functions log to {wanted}")
    groups = separator.join(f"/aws/lambda/{logical}" for logical in named)
    text = body.replace("${AWS::Region}", "us-east-1").replace("${Groups}", groups)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        errors.append(f"OperationsDashboard: DashboardBody is not JSON once substituted: {error}")
        return
    widgets = document.get("widgets", [])
    metrics = [line for widget in widgets for line in widget.get("properties", {}).get("metrics", [])]
    plain = [line for line in metrics if line and isinstance(line[0], str)]
    if not plain or any(line[:2] != [namespace, metric] for line in plain):
        errors.append(f"OperationsDashboard: its metric widget does not graph {namespace}/{metric}")
    # The per-check-kind widgets search the summary line's Check.<kind>.<measure> metrics
    # (shared/core/src/telemetry.rs) of every kind a config can name.
    expressions = [line[0]["expression"] for line in metrics if line and isinstance(line[0], dict)]
    kinds = sorted({need["check"] for need in json.loads(NEEDS.read_text())["checks"]})
    for measure in ("Failed", "DurationMs"):
        found = [e for e in expressions if f".{measure}" in e]
        wanted = " OR ".join(f'MetricName="Check.{kind}.{measure}"' for kind in kinds)
        if len(found) != 1 or not found[0].startswith(f"SEARCH('{{{namespace},Service}} {wanted}'"):
            errors.append(f"OperationsDashboard: no widget searches Check.<kind>.{measure} for every check kind {kinds}")
    queries = [widget["properties"]["query"] for widget in widgets if widget.get("type") == "log"]
    if not queries or not all(q.startswith("SOURCE '") and "greenlight summary" in q for q in queries):
        errors.append("OperationsDashboard: its log widget does not query the summary lines of the log groups")


def check_function(name, logical, function, raw, template, binaries, errors):
    props = function["Properties"]
    where = f"function {name} ({logical})"

    def expect(key, wanted, actual):
        if actual != wanted:
            errors.append(f"{where}: {key} is {actual!r}, expected {wanted!r}")

    code = raw["Resources"][logical]["Properties"].get("CodeUri")
    expect("CodeUri", f"../target/lambda/{name}/bootstrap.zip", code)
    if name not in binaries:
        errors.append(f"{where}: no binary named {name} in the workspace")
    expect("FunctionName", {"Fn::Sub": "${FunctionNamePrefix}" + name}, props.get("FunctionName"))
    expect("Runtime", "provided.al2023", props.get("Runtime"))
    expect("Architectures", ["arm64"], props.get("Architectures"))
    expect("Handler", "bootstrap", props.get("Handler"))
    expect("TracingConfig", {"Mode": "Active"}, props.get("TracingConfig"))
    expect("MemorySize", ref("MemorySize"), props.get("MemorySize"))
    timeout = "TestTrafficTimeout" if name == "test-traffic" else "Timeout"
    expect("Timeout", ref(timeout), props.get("Timeout"))
    variables = props.get("Environment", {}).get("Variables", {})
    expect(
        "Environment GREENLIGHT_CONFIG",
        {"Fn::If": ["HasConfigReference", ref("ConfigReference"), ref("AWS::NoValue")]},
        variables.get("GREENLIGHT_CONFIG"),
    )
    for name_, wanted in PLATFORM_VARIABLES.items():
        expect(f"Environment {name_}", wanted, variables.get(name_))
    # greenlight doctor recognises the function behind a hook by this variable.
    expect("Environment GREENLIGHT_FUNCTION", name, variables.get("GREENLIGHT_FUNCTION"))
    logging = props.get("LoggingConfig", {})
    expect("LoggingConfig.LogFormat", "JSON", logging.get("LogFormat"))
    expect("LoggingConfig.ApplicationLogLevel", ref("LogLevel"), logging.get("ApplicationLogLevel"))
    group_ref = logging.get("LogGroup")
    group = template["Resources"].get(group_ref.get("Ref")) if isinstance(group_ref, dict) else None
    if not group or group.get("Type") != "AWS::Logs::LogGroup":
        errors.append(f"{where}: LoggingConfig.LogGroup is {group_ref!r}, not a log group of this template")
        return
    group_props = group["Properties"]
    expect("log group name", {"Fn::Sub": "/aws/lambda/${FunctionNamePrefix}" + name}, group_props.get("LogGroupName"))
    expect("log group retention", ref("LogRetentionInDays"), group_props.get("RetentionInDays"))


def check_saved_queries(template: dict, errors: list[str]) -> None:
    """The saved Logs Insights queries: "why did deployment X stop" and "verdicts by reason code",
    each over every function's log group and reading the summary lines by their raw text (Logs
    Insights discovers at most 200 fields of a JSON event; docs/operations.md)."""
    resources = template["Resources"]
    groups = sorted(logical for logical, resource in resources.items()
                    if resource.get("Type") == "AWS::Logs::LogGroup")
    queries = {logical: resource["Properties"] for logical, resource in resources.items()
               if resource.get("Type") == "AWS::Logs::QueryDefinition"}
    wanted = {
        "WhyDeploymentStoppedQuery": ["greenlight.reason", "DEPLOYMENT_ID", "sort @timestamp asc"],
        "VerdictsByReasonQuery": ["stats count(*)", "greenlight.reason", "greenlight.verdict"],
    }
    for logical, needles in wanted.items():
        props = queries.get(logical)
        if props is None:
            errors.append(f"{logical}: missing")
            continue
        text = props.get("QueryString", "")
        if '@message like "greenlight summary"' not in text:
            errors.append(f"{logical}: does not select the summary lines by their raw text")
        for needle in needles:
            if needle not in text:
                errors.append(f"{logical}: its query lacks {needle!r}")
        named = sorted(item.get("Ref") for item in props.get("LogGroupNames", []) if isinstance(item, dict))
        if named != groups:
            errors.append(f"{logical}: reads {named}, the functions log to {groups}")


def codedeploy_event(resource) -> str | None:
    name = resource["Properties"].get("FunctionName")
    if isinstance(name, dict):
        name = name.get("Fn::Sub")
    if isinstance(name, str) and name.startswith(CODEDEPLOY_PREFIX):
        return name[len(CODEDEPLOY_PREFIX):].replace("${CodeDeployHookNameSuffix}", "")
    return None


def check_codedeploy(logical, function, raw, template, binaries, errors):
    props = function["Properties"]
    event = codedeploy_event(function)
    where = f"CodeDeploy hook {event} ({logical})"

    def expect(key, wanted, actual):
        if actual != wanted:
            errors.append(f"{where}: {key} is {actual!r}, expected {wanted!r}")

    expect("CodeUri", "../target/lambda/codedeploy-hook/bootstrap.zip",
           raw["Resources"][logical]["Properties"].get("CodeUri"))
    if "codedeploy-hook" not in binaries:
        errors.append(f"{where}: no binary named codedeploy-hook in the workspace")
    expect("Runtime", "provided.al2023", props.get("Runtime"))
    expect("Architectures", ["arm64"], props.get("Architectures"))
    expect("Timeout", ref("CodeDeployHookTimeout"), props.get("Timeout"))
    variables = props.get("Environment", {}).get("Variables", {})
    expect("Environment GREENLIGHT_HOOK", event, variables.get("GREENLIGHT_HOOK"))
    expect("Environment GREENLIGHT_FUNCTION", "codedeploy-hook", variables.get("GREENLIGHT_FUNCTION"))
    expect(
        "Environment GREENLIGHT_CONFIG",
        {"Fn::If": ["HasConfigReference", ref("ConfigReference"), ref("AWS::NoValue")]},
        variables.get("GREENLIGHT_CONFIG"),
    )
    for name, wanted in PLATFORM_VARIABLES.items():
        expect(f"Environment {name}", wanted, variables.get(name))
    group_ref = props.get("LoggingConfig", {}).get("LogGroup")
    group = template["Resources"].get(group_ref.get("Ref")) if isinstance(group_ref, dict) else None
    if not group:
        errors.append(f"{where}: no log group of its own")
    else:
        expect("log group name",
               {"Fn::Sub": f"/aws/lambda/{CODEDEPLOY_PREFIX}{event}" + "${CodeDeployHookNameSuffix}"},
               group["Properties"].get("LogGroupName"))
    role_ref = props.get("Role", {}).get("Fn::GetAtt", [None])[0]
    role = template["Resources"].get(role_ref, {})
    statements = [statement for policy in role.get("Properties", {}).get("Policies", [])
                  for statement in policy["PolicyDocument"]["Statement"]]
    actions = {action for statement in statements
               for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])}
    for needed in ["codedeploy:PutLifecycleEventHookExecutionStatus", "codedeploy:GetDeployment",
                   "codedeploy:GetDeploymentGroup", "codedeploy:ListDeploymentTargets",
                   "codedeploy:GetDeploymentTarget", "lambda:InvokeFunction"]:
        if needed not in actions:
            errors.append(f"{where}: role {role_ref} lacks {needed}")
    if any("*" in action for action in actions):
        errors.append(f"{where}: role {role_ref} allows a wildcard action")
    for statement in statements:
        if statement["Action"] == "lambda:InvokeFunction":
            resource = statement["Resource"]
            text = resource.get("Fn::Sub", "") if isinstance(resource, dict) else str(resource)
            if not text.endswith(f":function:{CODEDEPLOY_PREFIX}*" + "${CodeDeployHookNameSuffix}"):
                errors.append(f"{where}: lambda:InvokeFunction on {resource!r}, not only the hook functions")


def main() -> int:
    errors: list[str] = []
    raw = yaml_parse(SAM_TEMPLATE.read_text())
    template = expand(raw)
    binaries = workspace_binaries()

    functions = {}
    for logical, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Lambda::Function":
            if codedeploy_event(resource) is not None:
                continue
            name = function_name(resource)
            if name is None or name in functions:
                errors.append(f"function {logical}: name {resource['Properties'].get('FunctionName')!r} "
                              "is not one of the four, or is used twice")
                continue
            functions[name] = (logical, resource)
    for name in (name for name in FUNCTION_STAGES if name != "codedeploy-hook"):
        if name not in functions:
            errors.append(f"function {name}: missing")
            continue
        logical, resource = functions[name]
        check_function(name, logical, resource, raw, template, binaries, errors)

    hooks = {codedeploy_event(resource): (logical, resource)
             for logical, resource in template["Resources"].items()
             if resource["Type"] == "AWS::Lambda::Function" and codedeploy_event(resource) is not None}
    if sorted(hooks) != sorted(CODEDEPLOY_EVENTS):
        errors.append(f"CodeDeploy hooks: {sorted(hooks)}, expected {sorted(CODEDEPLOY_EVENTS)}")
    for event, (logical, resource) in hooks.items():
        check_codedeploy(logical, resource, raw, template, binaries, errors)
        output = f"CodeDeployHook{event}FunctionArn"
        if raw.get("Outputs", {}).get(output, {}).get("Value") != {"Fn::GetAtt": [logical, "Arn"]}:
            errors.append(f"output {output}: missing or not the ARN of {logical}")

    parameters = raw.get("Parameters", {})
    for key, wanted in DEFAULTS.items():
        actual = parameters.get(key, {}).get("Default")
        if actual != wanted:
            errors.append(f"parameter {key}: default is {actual!r}, expected {wanted!r}")

    if parameters.get("LogLevel", {}).get("AllowedValues") != LOG_LEVELS:
        errors.append(f"parameter LogLevel: AllowedValues {parameters.get('LogLevel', {}).get('AllowedValues')!r}, "
                      f"expected {LOG_LEVELS!r} (TRACE would log raw events: hookDetails, CodeDeploy execution ids)")
    secret_path = str(parameters.get("SecretParameterPrefix", {}).get("Default", ""))
    secret_names = str(parameters.get("SecretNamePrefix", {}).get("Default", ""))
    if secret_names != secret_path.lstrip("/"):
        errors.append(f"parameter SecretNamePrefix: default {secret_names!r} is not SecretParameterPrefix's "
                      f"{secret_path!r} without its leading slash")
    rule = json.dumps(raw.get("Rules", {}).get("SecretPrefixesAgree", {}))
    if not all(f'"{name}"' in rule and f'"{value}"' in rule
               for name, value in (("SecretParameterPrefix", secret_path), ("SecretNamePrefix", secret_names))):
        errors.append("rule SecretPrefixesAgree: missing, or not about both secret prefixes at their defaults")

    outputs = raw.get("Outputs", {})
    for name, output in {**OUTPUTS, "invoke role": "HookInvokeRoleArn"}.items():
        if output not in outputs:
            errors.append(f"output {output} ({name}): missing")
        elif "Export" not in outputs[output]:
            errors.append(f"output {output} ({name}): not exported")
    for name, output in OUTPUTS.items():
        value = outputs.get(output, {}).get("Value")
        if name in functions and value != {"Fn::GetAtt": [functions[name][0], "Arn"]}:
            errors.append(f"output {output}: {value!r} is not the ARN of the {name} function")

    # Versions: every function publishes one per deploy and keeps a `live` alias, which the
    # alias outputs name (hooks may target the alias or a version).
    if raw.get("Globals", {}).get("Function", {}).get("AutoPublishAlias") != "live":
        errors.append("Globals.Function: no AutoPublishAlias live")
    for logical, resource in raw.get("Resources", {}).items():
        if resource.get("Type") == "AWS::Serverless::Function" and \
                resource.get("Properties", {}).get("AutoPublishAliasAllProperties") is not True:
            errors.append(f"{logical}: AutoPublishAliasAllProperties is not true: a change of only its "
                          "environment would not publish a version, and `live` would keep the old one")
    for name, output in OUTPUTS.items():
        if name not in functions:
            continue
        alias = output.replace("FunctionArn", "FunctionAliasArn")
        value = outputs.get(alias, {}).get("Value")
        if value != {"Ref": f"{functions[name][0]}.Alias"}:
            errors.append(f"output {alias}: {value!r} is not the `live` alias of the {name} function")
        elif "Export" not in outputs[alias]:
            errors.append(f"output {alias}: not exported")

    check_operations(raw, errors)
    check_saved_queries(template, errors)

    rel = SAM_TEMPLATE.relative_to(ROOT)
    if errors:
        print(f"FAIL {rel}")
        for error in errors:
            print(f"     {error}")
        return 1
    print(f"ok   {rel}: {len(functions)} functions and {len(hooks)} CodeDeploy hooks (provided.al2023, arm64, JSON logs with retention, "
          "active tracing, a `live` alias), binaries in the workspace, outputs exported; opt-in alarm and dashboard on the emitted metric")
    return 0


if __name__ == "__main__":
    sys.exit(main())
