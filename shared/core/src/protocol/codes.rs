//! Reason codes about the event a deployment engine sent, and about reporting back to it.

use crate::reason::ReasonCode;

/// The event could not be read.
pub static EVENT_MALFORMED: ReasonCode = ReasonCode {
    code: "EVENT_MALFORMED",
    summary: "The hook event is not the JSON the deployment engine documents.",
    what: "The function parsed the event against the ECS lifecycle hook (or CodeDeploy hook) contract and a field was missing or of the wrong type.",
    why: "Without the stage, the service and the revisions greenlight cannot know what to check; it refuses rather than guess.",
    fix: "Check that the function is wired as a lifecycle hook (lifecycleHooks[].hookTargetArn) or AppSpec hook and not invoked by something else; the message names the field and what was expected.",
};

/// ECS sent a stage this version of greenlight does not know.
pub static EVENT_STAGE_UNKNOWN: ReasonCode = ReasonCode {
    code: "EVENT_STAGE_UNKNOWN",
    summary: "The event names a lifecycle stage greenlight does not know.",
    what: "The event's lifecycleStage is not one of the stages this version of greenlight knows.",
    why: "ECS adds stages over time; judging an unknown stage with another stage's checks could pass a bad deployment.",
    fix: "Remove the stage from the hook's lifecycleStages, or upgrade greenlight to a version that knows it.",
};

/// A function was invoked for a stage it does not serve.
pub static EVENT_STAGE_NOT_SERVED: ReasonCode = ReasonCode {
    code: "EVENT_STAGE_NOT_SERVED",
    summary: "The function was invoked for a stage it does not serve: a wiring mistake.",
    what: "Each greenlight function serves a fixed set of stages; the event's stage is not among them.",
    why: "Running another phase's checks at this stage would judge the wrong things at the wrong time.",
    fix: "In the service's lifecycleHooks, point this stage at the greenlight function that serves it (the message lists which one).",
};

/// The event's weights look like a rollback, but the deployment's status could not be read.
pub static ROLLBACK_UNCONFIRMED: ReasonCode = ReasonCode {
    code: "ROLLBACK_UNCONFIRMED",
    summary: "The weights look like a rollback but the deployment's status could not be read to confirm it.",
    what: "At TEST_TRAFFIC_SHIFT or PRODUCTION_TRAFFIC_SHIFT the event showed green at 0% and blue at 100%, and DescribeServiceDeployments failed (throttled, denied, unreachable). A rollback and a first production step seen before its weights move look the same in the event.",
    why: "Answering SUCCEEDED would pass an unjudged stage when it is not a rollback; judging it would fight a real rollback. greenlight asks again every 30 seconds for up to 10 minutes, then fails the stage.",
    fix: "Usually transient: it clears on a later invocation. If it persists, the message carries the lookup's error: grant ecs:DescribeServiceDeployments on the service-deployment ARN, or check ECS's health in the region.",
};

/// The event does not belong to a hook the deployment engine is running.
pub static EVENT_NOT_A_RUNNING_HOOK: ReasonCode = ReasonCode {
    code: "EVENT_NOT_A_RUNNING_HOOK",
    summary: "The event names a deployment that has finished, so no hook of it runs: nobody but the deployment engine should invoke the function.",
    what: "Before any config is read or check runs, the function read the deployment the event names (DescribeServiceDeployments): it was SUCCESSFUL, STOPPED, ROLLBACK_SUCCESSFUL or ROLLBACK_FAILED.",
    why: "A config can arrive in the event, and a check reads what the function's role may read: an invocation that is not ECS running this hook is refused rather than judged.",
    fix: "Let only ECS (the hook's roleArn) invoke the function. If ECS did invoke it, the message carries the deployment's status.",
};

/// CodeDeploy ran a hook greenlight does not map onto a stage.
pub static EVENT_HOOK_UNKNOWN: ReasonCode = ReasonCode {
    code: "EVENT_HOOK_UNKNOWN",
    summary: "The CodeDeploy lifecycle event is not one of the five ECS AppSpec hooks.",
    what: "The hook name (from GREENLIGHT_HOOK or the deployment target's in-progress lifecycle event) is not BeforeInstall, AfterInstall, AfterAllowTestTraffic, BeforeAllowTraffic or AfterAllowTraffic.",
    why: "Only those five ECS hooks can run a Lambda; any other name is a wiring mistake.",
    fix: "Set GREENLIGHT_HOOK to one of the five hook names, or wire the function under one of them in the AppSpec Hooks section.",
};

/// The function's role may not report the hook's result to CodeDeploy.
pub static REPORT_DENIED: ReasonCode = ReasonCode {
    code: "REPORT_DENIED",
    summary: "CodeDeploy refused the hook's report: the function's role lacks codedeploy:PutLifecycleEventHookExecutionStatus.",
    what: "The function called PutLifecycleEventHookExecutionStatus with the deployment id and execution id from the event and got access denied.",
    why: "CodeDeploy hears nothing, waits an hour, then fails the deployment; whatever the checks concluded is lost.",
    fix: "Allow codedeploy:PutLifecycleEventHookExecutionStatus on Resource \"*\" in the hook function's role (the action supports no resource-level permissions: an ARN-scoped grant never matches), then redeploy.",
};

/// The hook's report did not reach CodeDeploy after retries.
pub static REPORT_FAILED: ReasonCode = ReasonCode {
    code: "REPORT_FAILED",
    summary: "The hook's report to CodeDeploy kept failing (throttled, 5xx, timeout) until retries or the deadline ran out.",
    what: "The function retried PutLifecycleEventHookExecutionStatus with exponential backoff within its own deadline; no attempt got through.",
    why: "Unless a later attempt reports, CodeDeploy waits an hour for the result and then fails the deployment.",
    fix: "Check CodeDeploy's service health and API throttling in the region; the message carries the last error. Redeploy if the deployment timed out.",
};

/// Every code of this family.
pub static ALL: &[&ReasonCode] = &[
    &EVENT_MALFORMED,
    &EVENT_STAGE_UNKNOWN,
    &EVENT_STAGE_NOT_SERVED,
    &ROLLBACK_UNCONFIRMED,
    &EVENT_NOT_A_RUNNING_HOOK,
    &EVENT_HOOK_UNKNOWN,
    &REPORT_DENIED,
    &REPORT_FAILED,
];
