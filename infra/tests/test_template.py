#!/usr/bin/env python3
"""What the linters do not check in infra/template.yaml: that each function is the right binary,
runs the right way and logs where it should.

cfn-lint and `sam validate --lint` accept any runtime, architecture or memory size, and the
serverless rule for log retention cannot see LoggingConfig.LogGroup. This checks, on the template as
CloudFormation will receive it (after the SAM transform, Globals merged):

* exactly the four functions, each named <prefix><binary>, with CodeUri
  ../target/lambda/<binary>/bootstrap.zip for a binary this workspace builds;
* provided.al2023, arm64, handler `bootstrap`, active tracing, memory and timeout from the
  parameters (test-traffic from TestTrafficTimeout);
* JSON logs at the LogLevel parameter into the function's own log group, named
  /aws/lambda/<function name> and kept LogRetentionInDays;
* GREENLIGHT_CONFIG from the ConfigReference parameter;
* the parameter defaults the README documents, and an exported output per function ARN and for
  the invoke role.

Usage: test_template.py   (needs the SAM translator, which comes with the SAM CLI)
"""

from __future__ import annotations

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
    "SsmParameterPrefix": "/greenlight/",
    "SecretNamePrefix": "greenlight/",
    "ConfigBucket": "",
    "TeamCheckFunctionPrefix": "greenlight-check-",
}
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


def main() -> int:
    errors: list[str] = []
    raw = yaml_parse(SAM_TEMPLATE.read_text())
    template = expand(raw)
    binaries = workspace_binaries()

    functions = {}
    for logical, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Lambda::Function":
            name = function_name(resource)
            if name is None or name in functions:
                errors.append(f"function {logical}: name {resource['Properties'].get('FunctionName')!r} "
                              "is not one of the four, or is used twice")
                continue
            functions[name] = (logical, resource)
    for name in FUNCTION_STAGES:
        if name not in functions:
            errors.append(f"function {name}: missing")
            continue
        logical, resource = functions[name]
        check_function(name, logical, resource, raw, template, binaries, errors)

    parameters = raw.get("Parameters", {})
    for key, wanted in DEFAULTS.items():
        actual = parameters.get(key, {}).get("Default")
        if actual != wanted:
            errors.append(f"parameter {key}: default is {actual!r}, expected {wanted!r}")

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

    rel = SAM_TEMPLATE.relative_to(ROOT)
    if errors:
        print(f"FAIL {rel}")
        for error in errors:
            print(f"     {error}")
        return 1
    print(f"ok   {rel}: {len(functions)} functions (provided.al2023, arm64, JSON logs with retention, "
          "active tracing), binaries in the workspace, outputs exported")
    return 0


if __name__ == "__main__":
    sys.exit(main())
