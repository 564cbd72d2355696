//! CodeDeploy AppSpec hook events and the reporting contract.
//!
//! CodeDeploy invokes a hook Lambda with only a deployment id and an opaque execution id, ignores
//! what the function returns, and waits up to an hour for exactly one
//! `PutLifecycleEventHookExecutionStatus` call. So the event names neither the hook nor the service
//! ([`CodeDeployHook`] comes from configuration or from GetDeploymentTarget), and the result travels
//! through a [`LifecycleReporter`], which the CodeDeploy function implements with the SDK. A
//! [`PendingReport`] is the one obligation to report: it can be sent once and only once.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

pub use crate::protocol::ecs::EventError;

use crate::protocol::ecs::ROOT_FIELD;
pub use aws_lambda_events::codedeploy::CodeDeployLifecycleEvent;

use crate::protocol::codes;
use crate::reason::ReasonCode;
use crate::stage::LifecycleStage;

const EXPECT_DEPLOYMENT_ID: &str = "a CodeDeploy deployment id such as d-ABCDEF123";
const EXPECT_EXECUTION_ID: &str = "the lifecycle event hook execution id CodeDeploy sent";

// ---------------------------------------------------------------------------------------------------
// The event
// ---------------------------------------------------------------------------------------------------

/// Parses a CodeDeploy hook event, requiring a non-empty `DeploymentId` and
/// `LifecycleEventHookExecutionId`. The execution id is kept verbatim: it is an opaque token that
/// must be handed back exactly. Never panics; the error names the field and what was expected.
pub fn parse_codedeploy_event(value: &Value) -> Result<CodeDeployLifecycleEvent, EventError> {
    // serde would accept a JSON array positionally as a struct; the contract says object.
    if !value.is_object() {
        return Err(EventError::not_an_object(
            ROOT_FIELD,
            "a CodeDeploy lifecycle hook event (a JSON object)",
            value,
        ));
    }
    let event: CodeDeployLifecycleEvent =
        serde_path_to_error::deserialize(value).map_err(|error| {
            EventError::from_serde(error, |field| match field {
                "DeploymentId" => EXPECT_DEPLOYMENT_ID,
                "LifecycleEventHookExecutionId" => EXPECT_EXECUTION_ID,
                _ => "a value",
            })
        })?;
    for (field, id, expected) in [
        ("DeploymentId", &event.deployment_id, EXPECT_DEPLOYMENT_ID),
        (
            "LifecycleEventHookExecutionId",
            &event.lifecycle_event_hook_execution_id,
            EXPECT_EXECUTION_ID,
        ),
    ] {
        if id.trim().is_empty() {
            return Err(EventError::new(field, expected, format!("{id:?}")));
        }
    }
    Ok(event)
}

/// Parses a CodeDeploy hook event from raw bytes, like [`parse_codedeploy_event`].
pub fn parse_codedeploy_slice(bytes: &[u8]) -> Result<CodeDeployLifecycleEvent, EventError> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|error| EventError::not_json(&error))?;
    parse_codedeploy_event(&value)
}

// ---------------------------------------------------------------------------------------------------
// Hooks
// ---------------------------------------------------------------------------------------------------

/// The five CodeDeploy lifecycle events of an ECS deployment that can run a Lambda hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CodeDeployHook {
    /// Before the green task set is created.
    BeforeInstall,
    /// The green task set exists; the test listener still serves blue.
    AfterInstall,
    /// The test listener serves green.
    AfterAllowTestTraffic,
    /// Production is still on blue.
    BeforeAllowTraffic,
    /// Green serves production; blue is kept until the termination wait ends.
    AfterAllowTraffic,
}

/// The lifecycle events of an ECS deployment that run no hooks.
const NON_HOOKABLE: [&str; 3] = ["Install", "AllowTestTraffic", "AllowTraffic"];

impl CodeDeployHook {
    /// Every hook, in deployment order.
    pub const ALL: [CodeDeployHook; 5] = [
        CodeDeployHook::BeforeInstall,
        CodeDeployHook::AfterInstall,
        CodeDeployHook::AfterAllowTestTraffic,
        CodeDeployHook::BeforeAllowTraffic,
        CodeDeployHook::AfterAllowTraffic,
    ];

    /// The name as the AppSpec and the CodeDeploy API spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            CodeDeployHook::BeforeInstall => "BeforeInstall",
            CodeDeployHook::AfterInstall => "AfterInstall",
            CodeDeployHook::AfterAllowTestTraffic => "AfterAllowTestTraffic",
            CodeDeployHook::BeforeAllowTraffic => "BeforeAllowTraffic",
            CodeDeployHook::AfterAllowTraffic => "AfterAllowTraffic",
        }
    }

    /// The ECS native stage at which the same things hold, so both engines share one config.
    pub fn stage(self) -> LifecycleStage {
        match self {
            CodeDeployHook::BeforeInstall => LifecycleStage::PreScaleUp,
            CodeDeployHook::AfterInstall => LifecycleStage::PostScaleUp,
            CodeDeployHook::AfterAllowTestTraffic => LifecycleStage::PostTestTrafficShift,
            CodeDeployHook::BeforeAllowTraffic => LifecycleStage::PreProductionTrafficShift,
            CodeDeployHook::AfterAllowTraffic => LifecycleStage::PostProductionTrafficShift,
        }
    }

    /// Whether reporting Failed rolls the deployment back. At BeforeInstall nothing has been
    /// created yet, so a failure stops the deployment but there is nothing to roll back.
    pub fn can_roll_back(self) -> bool {
        self != CodeDeployHook::BeforeInstall
    }

    /// The function name to deploy this hook under: `CodeDeployHook_greenlight_<Event>`. The managed
    /// `AWSCodeDeployRoleForECSLimited` policy only lets CodeDeploy invoke `CodeDeployHook_*` functions.
    pub fn function_name(self) -> String {
        format!("CodeDeployHook_greenlight_{}", self.as_str())
    }
}

impl fmt::Display for CodeDeployHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CodeDeployHook {
    type Err = UnknownHookError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        CodeDeployHook::ALL
            .into_iter()
            .find(|hook| hook.as_str() == name)
            .ok_or_else(|| UnknownHookError {
                name: name.to_owned(),
            })
    }
}

/// A name that is not one of the five ECS hooks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct UnknownHookError {
    name: String,
}

impl UnknownHookError {
    /// The name that was given.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the name is a lifecycle event that exists but runs no hooks (Install, AllowTestTraffic,
    /// AllowTraffic).
    pub fn is_non_hookable_event(&self) -> bool {
        NON_HOOKABLE.contains(&self.name.as_str())
    }

    /// The reason code an answer built from this error carries.
    pub fn reason(&self) -> &'static ReasonCode {
        &codes::EVENT_HOOK_UNKNOWN
    }

    fn describe(&self) -> String {
        let names: Vec<&str> = CodeDeployHook::ALL.iter().map(|h| h.as_str()).collect();
        let expected = format!("expected one of {}", names.join(", "));
        if self.is_non_hookable_event() {
            return format!(
                "{:?} is a CodeDeploy lifecycle event that cannot run a hook; {expected}",
                self.name
            );
        }
        let hint = CodeDeployHook::ALL
            .iter()
            .find(|hook| hook.as_str().eq_ignore_ascii_case(self.name.trim()))
            .map(|hook| format!(" (names are case-sensitive: did you mean {hook}?)"))
            .unwrap_or_default();
        format!(
            "{:?} is not a CodeDeploy ECS hook; {expected}{hint}",
            self.name
        )
    }
}

// ---------------------------------------------------------------------------------------------------
// Reporting
// ---------------------------------------------------------------------------------------------------

/// The two statuses `PutLifecycleEventHookExecutionStatus` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportStatus {
    /// The deployment may go on.
    Succeeded,
    /// The deployment fails (and rolls back, where the hook allows it).
    Failed,
}

impl ReportStatus {
    /// The status as the CodeDeploy API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportStatus::Succeeded => "Succeeded",
            ReportStatus::Failed => "Failed",
        }
    }
}

impl serde::Serialize for ReportStatus {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl fmt::Display for ReportStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How CodeDeploy took a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportAck {
    /// CodeDeploy recorded the status.
    Recorded,
    /// CodeDeploy had already recorded a status for this execution
    /// (`LifecycleEventAlreadyCompletedException`), for instance from an earlier attempt whose
    /// answer was lost. The obligation is met.
    AlreadyCompleted,
}

/// Why a report did not get through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// CodeDeploy throttled the call; retrying later may work.
    #[error("CodeDeploy throttled PutLifecycleEventHookExecutionStatus: {0}")]
    Throttled(String),
    /// The function's role may not report. Retrying cannot help.
    #[error(
        "access denied: the function's role needs codedeploy:PutLifecycleEventHookExecutionStatus \
         ({message}); without it CodeDeploy waits an hour and then fails the deployment"
    )]
    Denied {
        /// What the API said.
        message: String,
    },
    /// Anything else: a 5xx, a timeout, a dropped connection, a rejected id.
    #[error("PutLifecycleEventHookExecutionStatus failed: {0}")]
    Other(String),
}

impl ReportError {
    /// Whether asking again may get the report through.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, ReportError::Denied { .. })
    }

    /// The reason code to log with this error.
    pub fn reason(&self) -> &'static ReasonCode {
        match self {
            ReportError::Denied { .. } => &codes::REPORT_DENIED,
            ReportError::Throttled(_) | ReportError::Other(_) => &codes::REPORT_FAILED,
        }
    }
}

/// The future a [`LifecycleReporter`] returns.
pub type ReportFuture<'a> =
    Pin<Box<dyn Future<Output = Result<ReportAck, ReportError>> + Send + 'a>>;

/// Sends one `PutLifecycleEventHookExecutionStatus` call. The CodeDeploy function implements it with
/// the SDK client, mapping `LifecycleEventAlreadyCompletedException` to
/// [`ReportAck::AlreadyCompleted`], throttling to [`ReportError::Throttled`] and access denied to
/// [`ReportError::Denied`]; tests implement it with a fake.
///
/// It returns a boxed future rather than being an `async fn` so that `&dyn LifecycleReporter` works.
/// Retrying is not its job: [`PendingReport::send`] does that.
pub trait LifecycleReporter: Send + Sync {
    /// Reports `status` for one hook execution, once.
    fn put_lifecycle_event_hook_execution_status<'a>(
        &'a self,
        deployment_id: &'a str,
        execution_id: &'a str,
        status: ReportStatus,
    ) -> ReportFuture<'a>;
}

/// First wait between attempts; doubled after each.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// Longest wait between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Most attempts, so an error that will not heal (a rejected id reported as `Other`) stops early.
const MAX_ATTEMPTS: u32 = 8;

/// The obligation to report the result of one hook execution to CodeDeploy.
///
/// CodeDeploy waits an hour for a report that never comes, so every code path must end in exactly
/// one. [`PendingReport::send`] takes `self`: once sent, the value is gone, so a second report — a
/// Failed after a Succeeded — cannot be written, by construction. It is not `Clone` for the same
/// reason, and `#[must_use]` so that dropping it unsent is a warning.
///
/// ```compile_fail
/// # use greenlight_core::protocol::codedeploy::{LifecycleReporter, PendingReport, ReportStatus};
/// async fn report_twice(pending: PendingReport, reporter: &dyn LifecycleReporter) {
///     let deadline = tokio::time::Instant::now();
///     let _ = pending.send(reporter, ReportStatus::Succeeded, "checks passed", deadline).await;
///     // error[E0382]: use of moved value: `pending`
///     let _ = pending.send(reporter, ReportStatus::Failed, "second thoughts", deadline).await;
/// }
/// ```
#[derive(Debug, PartialEq, Eq)]
#[must_use = "CodeDeploy waits an hour, then fails the deployment, unless the report is sent"]
pub struct PendingReport {
    deployment_id: String,
    execution_id: String,
}

impl PendingReport {
    /// The report owed for this event.
    pub fn new(event: &CodeDeployLifecycleEvent) -> Self {
        PendingReport::for_execution(
            event.deployment_id.clone(),
            event.lifecycle_event_hook_execution_id.clone(),
        )
    }

    /// The report owed for a hook execution known by its ids, as when a long bake was handed off to
    /// a later invocation with its state.
    pub fn for_execution(
        deployment_id: impl Into<String>,
        execution_id: impl Into<String>,
    ) -> Self {
        PendingReport {
            deployment_id: deployment_id.into(),
            execution_id: execution_id.into(),
        }
    }

    /// Passes the obligation on to a later invocation that carries these ids (a long bake handed
    /// to an asynchronous invocation of the same function), returning them. The caller must only do
    /// so once that invocation has been started: from then on, it owes the report.
    pub fn hand_over(self) -> (String, String) {
        (self.deployment_id, self.execution_id)
    }

    /// The deployment id.
    pub fn deployment_id(&self) -> &str {
        &self.deployment_id
    }

    /// The execution id, verbatim.
    pub fn execution_id(&self) -> &str {
        &self.execution_id
    }

    /// Reports `status` and consumes the obligation.
    ///
    /// Throttling and other errors are retried with exponential backoff (200 ms doubling up to 5 s, at
    /// most 8 attempts), never past `deadline`: each attempt is cut off there, and no wait is started
    /// that would end after it. Denied is returned at once, since waiting cannot grant a permission.
    /// `reason` says why, for the log: the API has no field for it.
    pub async fn send<R: LifecycleReporter + ?Sized>(
        self,
        reporter: &R,
        status: ReportStatus,
        reason: &str,
        deadline: Instant,
    ) -> Result<ReportAck, ReportError> {
        tracing::info!(
            deployment_id = %self.deployment_id,
            status = status.as_str(),
            reason,
            "reporting the hook result to CodeDeploy"
        );
        let mut backoff = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            let call = reporter.put_lifecycle_event_hook_execution_status(
                &self.deployment_id,
                &self.execution_id,
                status,
            );
            let error = match tokio::time::timeout_at(deadline, call).await {
                Ok(Ok(ack)) => return Ok(ack),
                Ok(Err(error)) if !error.is_retryable() => return Err(error),
                Ok(Err(error)) => error,
                Err(_elapsed) => {
                    return Err(ReportError::Other(
                        "CodeDeploy did not answer before the function's deadline".to_owned(),
                    ));
                }
            };
            // No jitter: a hook reports once per deployment, there is no herd to spread.
            if attempt >= MAX_ATTEMPTS || Instant::now() + backoff >= deadline {
                tracing::error!(
                    deployment_id = %self.deployment_id,
                    attempts = attempt,
                    code = error.reason().code,
                    %error,
                    "giving up reporting to CodeDeploy"
                );
                return Err(error);
            }
            tracing::warn!(
                deployment_id = %self.deployment_id,
                attempt,
                retry_in_ms = backoff.as_millis() as u64,
                %error,
                "report to CodeDeploy failed; retrying"
            );
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
            attempt += 1;
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::Mutex;

    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    const TOKEN: &str = "eyJlbmNyeXB0ZWREYXRhIjoiY3VHU2NjdkJXUTJQUENVd2dkYUNGRVg0dWlpME9UWVdHTVhZcDRXVW5LYUVKc21EaUFPMkNLNXMwMWFrNDlYVStlbXdRb29xS3NJTUNVQ3RYRGFZSXc1VTFwUllvMDhmMzdlbDZFeDVVdjZrNFc0eU5waGh6YTRvdkNWcmVveVR6OWdERlM2SmlIYW1TZz09IiwiaXZQYXJhbWV0ZXJTcGVjIjoiTm1ZNFR6RzZxQVhHamhhLyIsIm1hdGVyaWFsU2V0U2VyaWFsIjoxfQ==";

    fn valid() -> Value {
        json!({ "DeploymentId": "d-ABCDEF123", "LifecycleEventHookExecutionId": TOKEN })
    }

    #[test]
    fn parses_the_documented_event_and_keeps_the_token_verbatim() {
        let event = parse_codedeploy_event(&valid()).unwrap();
        assert_eq!(event.deployment_id, "d-ABCDEF123");
        assert_eq!(event.lifecycle_event_hook_execution_id, TOKEN);
        let padded = json!({ "DeploymentId": "d-1", "LifecycleEventHookExecutionId": " a==\n", "Extra": [1] });
        assert_eq!(
            parse_codedeploy_event(&padded)
                .unwrap()
                .lifecycle_event_hook_execution_id,
            " a==\n"
        );
        let pending = PendingReport::new(&event);
        assert_eq!(
            (pending.deployment_id(), pending.execution_id()),
            ("d-ABCDEF123", TOKEN)
        );
    }

    #[test]
    fn malformed_events_name_the_field() {
        let cases = [
            (
                json!({ "LifecycleEventHookExecutionId": TOKEN }),
                "DeploymentId",
                "nothing",
            ),
            (
                json!({ "DeploymentId": "d-1" }),
                "LifecycleEventHookExecutionId",
                "nothing",
            ),
            (
                json!({ "DeploymentId": "", "LifecycleEventHookExecutionId": TOKEN }),
                "DeploymentId",
                "\"\"",
            ),
            (
                json!({ "DeploymentId": "d-1", "LifecycleEventHookExecutionId": "  " }),
                "LifecycleEventHookExecutionId",
                "\"  \"",
            ),
            (
                json!({ "DeploymentId": 5, "LifecycleEventHookExecutionId": TOKEN }),
                "DeploymentId",
                "integer `5`",
            ),
            (
                json!({ "DeploymentId": "d-1", "LifecycleEventHookExecutionId": null }),
                "LifecycleEventHookExecutionId",
                "null",
            ),
            // camelCase is the API's spelling, not the event's.
            (
                json!({ "deploymentId": "d-1", "lifecycleEventHookExecutionId": TOKEN }),
                "DeploymentId",
                "nothing",
            ),
            (json!(["d-1", TOKEN]), "(event)", "an array"),
        ];
        for (event, field, got) in cases {
            let error = parse_codedeploy_event(&event).unwrap_err();
            assert_eq!((error.field(), error.got()), (field, got), "{error}");
            assert!(!error.expected().is_empty());
            assert_eq!(error.reason().code, "EVENT_MALFORMED");
        }
        let error = parse_codedeploy_slice(b"DeploymentId=d-1").unwrap_err();
        assert_eq!(error.field(), "(event)");
        assert_eq!(
            parse_codedeploy_slice(valid().to_string().as_bytes()).unwrap(),
            parse_codedeploy_event(&valid()).unwrap()
        );
    }

    #[test]
    fn hooks_map_onto_stages_and_function_names() {
        let expected = [
            ("BeforeInstall", LifecycleStage::PreScaleUp, false),
            ("AfterInstall", LifecycleStage::PostScaleUp, true),
            (
                "AfterAllowTestTraffic",
                LifecycleStage::PostTestTrafficShift,
                true,
            ),
            (
                "BeforeAllowTraffic",
                LifecycleStage::PreProductionTrafficShift,
                true,
            ),
            (
                "AfterAllowTraffic",
                LifecycleStage::PostProductionTrafficShift,
                true,
            ),
        ];
        for (hook, (name, stage, rolls_back)) in CodeDeployHook::ALL.into_iter().zip(expected) {
            assert_eq!(name.parse::<CodeDeployHook>().unwrap(), hook);
            assert_eq!(hook.as_str(), name);
            assert_eq!(hook.to_string(), name);
            assert_eq!(hook.stage(), stage);
            assert_eq!(hook.can_roll_back(), rolls_back);
            assert_eq!(
                hook.function_name(),
                format!("CodeDeployHook_greenlight_{name}")
            );
        }
    }

    #[test]
    fn unknown_hook_names_say_what_is_accepted() {
        let all = "BeforeInstall, AfterInstall, AfterAllowTestTraffic, BeforeAllowTraffic, AfterAllowTraffic";
        for name in NON_HOOKABLE {
            let error = name.parse::<CodeDeployHook>().unwrap_err();
            assert!(error.is_non_hookable_event());
            assert!(error.to_string().contains("cannot run a hook"), "{error}");
            assert!(error.to_string().contains(all), "{error}");
        }
        let error = "ValidateService".parse::<CodeDeployHook>().unwrap_err();
        assert!(!error.is_non_hookable_event());
        assert_eq!(error.name(), "ValidateService");
        assert!(error.to_string().contains(all));
        assert_eq!(error.reason().code, "EVENT_HOOK_UNKNOWN");
        let error = "afterinstall".parse::<CodeDeployHook>().unwrap_err();
        assert!(
            error.to_string().contains("did you mean AfterInstall?"),
            "{error}"
        );
    }

    #[test]
    fn denied_names_the_missing_permission() {
        let error = ReportError::Denied {
            message: "User is not authorized".into(),
        };
        assert!(
            error
                .to_string()
                .contains("codedeploy:PutLifecycleEventHookExecutionStatus")
        );
        assert!(!error.is_retryable());
        assert_eq!(error.reason().code, "REPORT_DENIED");
        assert!(ReportError::Throttled("slow down".into()).is_retryable());
        assert_eq!(
            ReportError::Other("503".into()).reason().code,
            "REPORT_FAILED"
        );
    }

    /// A reporter that plays back scripted answers (then `Recorded`) and remembers every call.
    #[derive(Default)]
    struct FakeReporter {
        script: Mutex<VecDeque<Option<Result<ReportAck, ReportError>>>>,
        calls: Mutex<Vec<(String, String, ReportStatus, Instant)>>,
    }

    impl FakeReporter {
        /// `None` in the script is a call that never answers.
        fn scripted(
            script: impl IntoIterator<Item = Option<Result<ReportAck, ReportError>>>,
        ) -> Self {
            FakeReporter {
                script: Mutex::new(script.into_iter().collect()),
                ..FakeReporter::default()
            }
        }

        fn always(answer: Result<ReportAck, ReportError>) -> Self {
            FakeReporter::scripted(std::iter::repeat_n(Some(answer), 1000))
        }

        fn call_count(&self) -> usize {
            self.calls.lock().unwrap().len()
        }

        fn call_times(&self) -> Vec<Instant> {
            self.calls
                .lock()
                .unwrap()
                .iter()
                .map(|call| call.3)
                .collect()
        }
    }

    impl LifecycleReporter for FakeReporter {
        fn put_lifecycle_event_hook_execution_status<'a>(
            &'a self,
            deployment_id: &'a str,
            execution_id: &'a str,
            status: ReportStatus,
        ) -> ReportFuture<'a> {
            self.calls.lock().unwrap().push((
                deployment_id.to_owned(),
                execution_id.to_owned(),
                status,
                Instant::now(),
            ));
            match self.script.lock().unwrap().pop_front() {
                Some(Some(answer)) => Box::pin(async move { answer }),
                Some(None) => Box::pin(std::future::pending()),
                None => Box::pin(async { Ok(ReportAck::Recorded) }),
            }
        }
    }

    fn pending() -> PendingReport {
        PendingReport::for_execution("d-ABCDEF123", TOKEN)
    }

    fn in_secs(secs: u64) -> Instant {
        Instant::now() + Duration::from_secs(secs)
    }

    #[tokio::test(start_paused = true)]
    async fn reports_once_with_the_ids_verbatim() {
        let reporter = FakeReporter::default();
        let ack = pending()
            .send(
                &reporter,
                ReportStatus::Failed,
                "alarm web-5xx firing",
                in_secs(60),
            )
            .await;
        assert_eq!(ack, Ok(ReportAck::Recorded));
        let calls = reporter.calls.lock().unwrap();
        assert_eq!(calls.len(), 1);
        assert_eq!(
            (calls[0].0.as_str(), calls[0].1.as_str(), calls[0].2),
            ("d-ABCDEF123", TOKEN, ReportStatus::Failed)
        );
    }

    #[test]
    fn the_send_future_can_cross_threads() {
        fn assert_send<T: Send>(_: &T) {}
        let reporter = FakeReporter::default();
        let dyn_reporter: &dyn LifecycleReporter = &reporter;
        let future = pending().send(
            dyn_reporter,
            ReportStatus::Succeeded,
            "checks passed",
            Instant::now(),
        );
        assert_send(&future);
    }

    #[tokio::test(start_paused = true)]
    async fn already_completed_counts_as_done() {
        let reporter = FakeReporter::scripted([Some(Ok(ReportAck::AlreadyCompleted))]);
        let dyn_reporter: &dyn LifecycleReporter = &reporter;
        let ack = pending()
            .send(
                dyn_reporter,
                ReportStatus::Succeeded,
                "checks passed",
                in_secs(60),
            )
            .await;
        assert_eq!(ack, Ok(ReportAck::AlreadyCompleted));
        assert_eq!(reporter.call_count(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_and_other_errors_are_retried_with_growing_waits() {
        let reporter = FakeReporter::scripted([
            Some(Err(ReportError::Throttled("Rate exceeded".into()))),
            Some(Err(ReportError::Other("503".into()))),
            Some(Err(ReportError::Throttled("Rate exceeded".into()))),
        ]);
        let start = Instant::now();
        let ack = pending()
            .send(
                &reporter,
                ReportStatus::Succeeded,
                "checks passed",
                in_secs(60),
            )
            .await;
        assert_eq!(ack, Ok(ReportAck::Recorded));
        let offsets: Vec<u128> = reporter
            .call_times()
            .iter()
            .map(|t| (*t - start).as_millis())
            .collect();
        assert_eq!(offsets, vec![0, 200, 600, 1400]);
    }

    #[tokio::test(start_paused = true)]
    async fn denied_is_never_retried() {
        let reporter = FakeReporter::always(Err(ReportError::Denied {
            message: "not authorized".into(),
        }));
        let result = pending()
            .send(
                &reporter,
                ReportStatus::Failed,
                "checks failed",
                in_secs(60),
            )
            .await;
        assert!(matches!(result, Err(ReportError::Denied { .. })));
        assert_eq!(reporter.call_count(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_are_bounded() {
        let reporter = FakeReporter::always(Err(ReportError::Throttled("Rate exceeded".into())));
        let start = Instant::now();
        let result = pending()
            .send(
                &reporter,
                ReportStatus::Succeeded,
                "checks passed",
                in_secs(600),
            )
            .await;
        assert!(matches!(result, Err(ReportError::Throttled(_))));
        assert_eq!(reporter.call_count(), MAX_ATTEMPTS as usize);
        // 0.2 + 0.4 + 0.8 + 1.6 + 3.2 + 5 + 5 seconds of waiting, the cap holding the last two.
        assert_eq!(start.elapsed(), Duration::from_millis(16_200));
    }

    #[tokio::test(start_paused = true)]
    async fn no_wait_runs_past_the_deadline() {
        let reporter = FakeReporter::always(Err(ReportError::Other("503".into())));
        let start = Instant::now();
        let deadline = start + Duration::from_secs(1);
        let result = pending()
            .send(
                &reporter,
                ReportStatus::Succeeded,
                "checks passed",
                deadline,
            )
            .await;
        assert!(matches!(result, Err(ReportError::Other(_))));
        // Calls at 0, 0.2 and 0.6 s; the next wait (0.8 s) would end after the deadline.
        assert_eq!(reporter.call_count(), 3);
        assert!(Instant::now() <= deadline);
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_that_hangs_is_cut_off_at_the_deadline() {
        let reporter = FakeReporter::scripted([None]);
        let deadline = in_secs(5);
        let result = pending()
            .send(
                &reporter,
                ReportStatus::Succeeded,
                "checks passed",
                deadline,
            )
            .await;
        assert!(
            matches!(&result, Err(ReportError::Other(message)) if message.contains("deadline")),
            "{result:?}"
        );
        assert_eq!(Instant::now(), deadline);
        assert_eq!(reporter.call_count(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_already_past_still_gets_one_attempt() {
        let reporter = FakeReporter::default();
        let deadline = Instant::now();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let ack = pending()
            .send(
                &reporter,
                ReportStatus::Succeeded,
                "checks passed",
                deadline,
            )
            .await;
        assert_eq!(ack, Ok(ReportAck::Recorded));
    }

    fn arbitrary_json() -> impl Strategy<Value = Value> {
        let key = prop_oneof![
            Just("DeploymentId".to_owned()),
            Just("LifecycleEventHookExecutionId".to_owned()),
            any::<String>(),
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            any::<String>().prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 32, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map(key.clone(), inner, 0..4)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn parse_never_panics_on_arbitrary_json(value in arbitrary_json()) {
            if let Ok(event) = parse_codedeploy_event(&value) {
                prop_assert!(!event.deployment_id.trim().is_empty());
                let _ = PendingReport::new(&event);
            }
        }

        #[test]
        fn parse_never_panics_on_mutated_events(
            field in prop::sample::select(vec!["DeploymentId", "LifecycleEventHookExecutionId"]),
            replacement in prop::option::of(arbitrary_json()),
        ) {
            let mut event = valid();
            match replacement {
                Some(value) => event[field] = value,
                None => { event.as_object_mut().unwrap().remove(field); }
            }
            if let Err(error) = parse_codedeploy_event(&event) {
                prop_assert_eq!(error.field(), field);
            }
        }

        #[test]
        fn parse_slice_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_codedeploy_slice(&bytes);
        }

        #[test]
        fn hook_names_never_panic(name in any::<String>()) {
            if let Err(error) = name.parse::<CodeDeployHook>() {
                prop_assert!(!error.to_string().is_empty());
            }
        }
    }
}
