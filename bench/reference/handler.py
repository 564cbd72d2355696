"""The baseline: an ECS lifecycle hook written the way AWS's sample hooks are written.

Python 3 and boto3, clients created once at init, one check after another, each making its own
calls in sequence. It implements what greenlight's benchmark plans check, so the two can be timed
and counted side by side against the same local AWS:

- POST_SCALE_UP: every green task runs (100% of the requested count), and every target in green's
  target group is healthy;
- PRODUCTION_TRAFFIC_SHIFT (the six-check plan): green's image exists in ECR with the digest its
  revision resolved; green's tasks run on that digest; green's targets are healthy; the production
  and the test listener rules send green the weight the event names; no deployment alarm fires.

Any other stage succeeds at once. The answer is the ECS hook response: {"hookStatus": ...}.
"""

import boto3

# Clients at init, as the samples do: created once per execution environment.
ecs = boto3.client("ecs")
elbv2 = boto3.client("elbv2")
ecr = boto3.client("ecr")
cloudwatch = boto3.client("cloudwatch")


def handler(event, context):
    stage = event["lifecycleStage"]
    if stage == "POST_SCALE_UP":
        problems = post_scale_up(event)
    elif stage == "PRODUCTION_TRAFFIC_SHIFT":
        problems = production_traffic_shift(event)
    else:
        problems = []
    if problems:
        print("FAILED: " + "; ".join(problems))
        return {"hookStatus": "FAILED"}
    print("SUCCEEDED")
    return {"hookStatus": "SUCCEEDED"}


def describe_deployment(event):
    deployments = ecs.describe_service_deployments(
        serviceDeploymentArns=[event["resourceArn"]]
    )["serviceDeployments"]
    if not deployments:
        raise RuntimeError("service deployment {} not found".format(event["resourceArn"]))
    return deployments[0]


def describe_green_revision(event):
    green_arn = event["executionDetails"]["targetServiceRevisionArn"]
    revisions = ecs.describe_service_revisions(serviceRevisionArns=[green_arn])[
        "serviceRevisions"
    ]
    if not revisions:
        raise RuntimeError("service revision {} not found".format(green_arn))
    return revisions[0]


def green_target_group(revision):
    resolved = revision.get("resolvedConfiguration", {}).get("loadBalancers", [])
    if resolved:
        return resolved[0]["targetGroupArn"]
    return revision["loadBalancers"][0]["targetGroupArn"]


def service_name(event):
    return event["executionDetails"]["serviceArn"].split("/")[-1]


def green_tasks(cluster, event, revision):
    task_arns = ecs.list_tasks(
        cluster=cluster, serviceName=service_name(event), desiredStatus="RUNNING"
    )["taskArns"]
    if not task_arns:
        return []
    tasks = ecs.describe_tasks(cluster=cluster, tasks=task_arns)["tasks"]
    return [t for t in tasks if t["taskDefinitionArn"] == revision["taskDefinition"]]


def check_tasks(cluster, event, revision, deployment, digests=None):
    wanted = deployment["targetServiceRevision"]["requestedTaskCount"]
    tasks = green_tasks(cluster, event, revision)
    running = [t for t in tasks if t.get("lastStatus") == "RUNNING"]
    problems = []
    if len(running) < wanted:
        problems.append("{} of {} green tasks running".format(len(running), wanted))
    for task in running:
        for container in task.get("containers", []):
            want = (digests or {}).get(container["name"])
            if want and container.get("imageDigest") != want:
                problems.append(
                    "task {} runs {} instead of {}".format(
                        task["taskArn"], container.get("imageDigest"), want
                    )
                )
    return problems


def check_target_health(revision):
    target_group = green_target_group(revision)
    descriptions = elbv2.describe_target_health(TargetGroupArn=target_group)[
        "TargetHealthDescriptions"
    ]
    if not descriptions:
        return ["no targets registered in {}".format(target_group)]
    return [
        "target {} is {}".format(d["Target"]["Id"], d["TargetHealth"]["State"])
        for d in descriptions
        if d["TargetHealth"]["State"] != "healthy"
    ]


def check_image(revision):
    problems = []
    digests = {}
    for image in revision.get("containerImages", []):
        reference = image["image"]
        repository = reference.split("/", 1)[1].split("@")[0].rsplit(":", 1)[0]
        tag = reference.rsplit(":", 1)[1] if "@" not in reference else None
        image_id = {"imageDigest": image["imageDigest"]} if "imageDigest" in image else {"imageTag": tag}
        found = ecr.describe_images(repositoryName=repository, imageIds=[image_id])["imageDetails"]
        if not found:
            problems.append("image {} not found".format(reference))
            continue
        digests[image["containerName"]] = found[0]["imageDigest"]
    return problems, digests


def check_routing(rule_arn, weights, green_group):
    rules = elbv2.describe_rules(RuleArns=[rule_arn])["Rules"]
    if not rules:
        return ["rule {} not found".format(rule_arn)]
    groups = rules[0]["Actions"][0].get("ForwardConfig", {}).get("TargetGroups", [])
    seen = next((g.get("Weight", 0) for g in groups if g["TargetGroupArn"] == green_group), 0)
    total = sum(g.get("Weight", 0) for g in groups) or 1
    percent = seen * 100.0 / total
    if abs(percent - weights) > 0.5:
        return ["rule {} sends green {}%, expected {}%".format(rule_arn, percent, weights)]
    return []


def check_alarms(deployment):
    names = deployment.get("alarms", {}).get("alarmNames", [])
    if not names:
        return []
    alarms = cloudwatch.describe_alarms(AlarmNames=names)["MetricAlarms"]
    return [
        "alarm {} is {}".format(a["AlarmName"], a["StateValue"])
        for a in alarms
        if a["StateValue"] == "ALARM"
    ]


def post_scale_up(event):
    deployment = describe_deployment(event)
    revision = describe_green_revision(event)
    problems = check_tasks(revision["clusterArn"], event, revision, deployment)
    problems += check_target_health(revision)
    return problems


def production_traffic_shift(event):
    deployment = describe_deployment(event)
    revision = describe_green_revision(event)
    green_arn = revision["serviceRevisionArn"]
    details = event["executionDetails"]
    problems, digests = check_image(revision)
    problems += check_tasks(revision["clusterArn"], event, revision, deployment, digests)
    problems += check_target_health(revision)
    advanced = revision["loadBalancers"][0]["advancedConfiguration"]
    group = green_target_group(revision)
    problems += check_routing(
        advanced["productionListenerRule"],
        details.get("productionTrafficWeights", {}).get(green_arn, 0),
        group,
    )
    problems += check_routing(
        advanced["testListenerRule"],
        details.get("testTrafficWeights", {}).get(green_arn, 0),
        group,
    )
    problems += check_alarms(deployment)
    return problems
