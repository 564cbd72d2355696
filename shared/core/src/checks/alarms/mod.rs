//! The `alarms` check's judge: no watched CloudWatch alarm is firing, with the alarm semantics
//! ECS and CodeDeploy get wrong.
//!
//! # Which alarms
//! The alarms named in `names`, every alarm whose name starts with `prefix`, and (by default) the
//! deployment alarms of the service's deployment configuration. Metric, composite and log alarms
//! alike. A name asked for that CloudWatch does not know is [`ALARM_NOT_FOUND`]: a safety net
//! that does not exist must not read as a quiet one.
//!
//! # The rule, in order
//! 1. An alarm in ALARM fails the check. It is [`ALARM_FIRING`] when it went into ALARM after the
//!    deployment started (or when greenlight cannot tell), and [`ALARM_FIRING_BEFORE_DEPLOYMENT`]
//!    when it was already in ALARM before: ECS does not monitor an alarm that is in ALARM when the
//!    deployment starts, so without this check such an alarm would never stop the deployment.
//!    "Went into ALARM" is the alarm's `StateTransitionedTimestamp` (its `StateUpdatedTimestamp`
//!    when CloudWatch gives no transition time).
//! 2. A deployment alarm that ECS reports as triggered during this deployment fails it too
//!    ([`ALARM_TRIGGERED_DURING_DEPLOYMENT`]), even if it is OK again now: it fired on green.
//! 3. INSUFFICIENT_DATA is what `insufficient_data` says: inconclusive (the default) or a failure,
//!    both [`ALARM_INSUFFICIENT_DATA`], or OK.
//! 4. Named alarms that do not exist: [`ALARM_NOT_FOUND`], a permanent error.
//! 5. An alarm whose evaluation is failing (`EvaluationState` `EVALUATION_ERROR`,
//!    `EVALUATION_FAILURE` or `PARTIAL_DATA`) watches nothing, so its OK means nothing:
//!    [`ALARM_EVALUATION_FAILING`] (inconclusive).
//! 6. With `require_evaluated_after_shift`, an OK alarm counts only once it has evaluated data
//!    from after the stage (or step) started: [`ALARM_NOT_EVALUATED_SINCE_SHIFT`] until then.
//!    CloudWatch does not say when an alarm last evaluated, only when its state last changed, and
//!    a steady alarm's state does not change. So an alarm with a known period `P` (metric alarms,
//!    metric math included) counts once its state changed at least `P` after the shift (that
//!    evaluation included post-shift data), or once `P` plus two minutes (for metric delivery and
//!    the evaluation cadence) have passed since the shift: it evaluates every period, and has by
//!    then looked at a whole period of green's traffic. A composite alarm's state is a function of
//!    the alarms its rule names, re-evaluated whenever one of them changes: it counts once its
//!    own state changed after the shift, or once every alarm its rule names counts (the gather
//!    half describes them for this; [`composite_children`] reads the rule). A log alarm, which
//!    has no period, counts only once its state changed after the shift.
//! 7. No alarm to watch at all:
//!    - when the check watches only the service's deployment alarms and the service has none,
//!      [`ALARM_NONE_CONFIGURED`]: a check that cannot judge, and waiting cannot change the
//!      service's configuration, so a permanent error that fails the stage at once naming the
//!      fix — unless the config says `allow_no_alarms: true`, when it passes saying plainly that
//!      nothing was watched.
//!    - when the config named a prefix and nothing matched, [`ALARM_NONE_WATCHED`], inconclusive:
//!      the team expected alarms and there are none, which is no evidence.
//! 8. Otherwise [`ALARM_OK`].

pub mod params;

use std::time::{Duration, SystemTime};

use serde_json::json;

use super::CheckDoc;
use crate::checks::IamNeed;
use crate::checks::{AlarmsParams, InsufficientData};
use crate::facts::Fact;
use crate::outcome::{Evidence, Outcome};
use crate::reason::ReasonCode;
use crate::stage::LifecycleStage;

/// Every watched alarm is OK.
pub static ALARM_OK: ReasonCode = ReasonCode {
    code: "ALARM_OK",
    summary: "Every watched CloudWatch alarm is OK.",
    what: "Every alarm named, matching the prefix, or configured as a deployment alarm of the service was in state OK (and, with `require_evaluated_after_shift`, had evaluated data from after the stage started).",
    why: "The alarms the team trusts to say the service is unhealthy are quiet while green takes traffic.",
    fix: "Nothing to fix.",
};

/// An alarm went into ALARM during the deployment.
pub static ALARM_FIRING: ReasonCode = ReasonCode {
    code: "ALARM_FIRING",
    summary: "A watched CloudWatch alarm is in ALARM.",
    what: "An alarm watched by the check was in state ALARM, having gone into it after the deployment started (or at a time greenlight could not compare). The evidence shows its state reason, when it changed and its threshold.",
    why: "The team's own signal says the service is unhealthy while green is being deployed.",
    fix: "Read the alarm's state reason and the metric behind it for green's target group and tasks. If the alarm fired for a reason unrelated to green, resolve that first and deploy again.",
};

/// An alarm was already in ALARM before the deployment started.
pub static ALARM_FIRING_BEFORE_DEPLOYMENT: ReasonCode = ReasonCode {
    code: "ALARM_FIRING_BEFORE_DEPLOYMENT",
    summary: "A watched alarm was already in ALARM when the deployment started.",
    what: "An alarm watched by the check was in state ALARM and had gone into it before the deployment started.",
    why: "ECS does not monitor a deployment alarm that is in ALARM when the deployment starts, so it could never stop this deployment. Deploying into a firing alarm also hides whether green makes things worse.",
    fix: "Resolve what the alarm reports, or confirm it is stale and reset it, then deploy again. To ship a fix for the very incident the alarm reports, run the check with `mode: advisory` for that deployment.",
};

/// ECS saw a deployment alarm trigger during this deployment.
pub static ALARM_TRIGGERED_DURING_DEPLOYMENT: ReasonCode = ReasonCode {
    code: "ALARM_TRIGGERED_DURING_DEPLOYMENT",
    summary: "ECS recorded a deployment alarm as triggered during this deployment.",
    what: "The service deployment lists the alarm among its triggered alarms, though it is not in ALARM now.",
    why: "The alarm fired while green was being deployed; recovering since does not make that evidence go away.",
    fix: "Read the alarm's history for the time of the deployment and the metric behind it for green.",
};

/// An alarm is in INSUFFICIENT_DATA.
pub static ALARM_INSUFFICIENT_DATA: ReasonCode = ReasonCode {
    code: "ALARM_INSUFFICIENT_DATA",
    summary: "A watched alarm is in INSUFFICIENT_DATA.",
    what: "An alarm watched by the check had too little data to evaluate. With `insufficient_data: inconclusive` (the default) the check waits; with `fail` it fails.",
    why: "An alarm without data cannot say green is healthy; CloudWatch and CodeDeploy treat it as OK, which passes deployments on no evidence.",
    fix: "Check that the metric behind the alarm is published for green (dimensions, namespace). If the alarm is expected to lack data at low traffic, set its `TreatMissingData`, or the check's `insufficient_data: pass`.",
};

/// A named alarm does not exist.
pub static ALARM_NOT_FOUND: ReasonCode = ReasonCode {
    code: "ALARM_NOT_FOUND",
    summary: "An alarm the check was told to watch does not exist.",
    what: "An alarm named in `names`, or in the service's deployment alarms, was not returned by CloudWatch DescribeAlarms.",
    why: "A deployment alarm that does not exist watches nothing; believing it is quiet would pass a deployment on no evidence.",
    fix: "Correct the alarm name in the greenlight config or the service's deployment configuration, or create the alarm.",
};

/// An alarm's evaluation is failing.
pub static ALARM_EVALUATION_FAILING: ReasonCode = ReasonCode {
    code: "ALARM_EVALUATION_FAILING",
    summary: "A watched alarm cannot evaluate its metric, so its OK means nothing.",
    what: "An alarm watched by the check reported an `EvaluationState` of `EVALUATION_ERROR`, `EVALUATION_FAILURE` or `PARTIAL_DATA`.",
    why: "An alarm that cannot read its data cannot go into ALARM; the check waits within its `max_wait`.",
    fix: "Open the alarm in the CloudWatch console: its state reason says what fails (a Metrics Insights query over too many series, a math error, a missing permission for a cross-account metric).",
};

/// An OK alarm has not looked at post-shift data yet.
pub static ALARM_NOT_EVALUATED_SINCE_SHIFT: ReasonCode = ReasonCode {
    code: "ALARM_NOT_EVALUATED_SINCE_SHIFT",
    summary: "A watched alarm is OK but has not yet evaluated data from after the traffic shift.",
    what: "With `require_evaluated_after_shift`, an OK alarm counts once its state changed at least one period after the stage started, or once one period plus two minutes have passed; a composite alarm once its state changed after the stage started or every alarm its rule names counts; a log alarm, which has no period, once its state changed after the stage started.",
    why: "An OK from before green took traffic says nothing about green; the check waits within its `max_wait`.",
    fix: "Usually nothing: alarms catch up within a period or two. For alarms with long periods, lengthen the bake or `max_wait`. A composite alarm whose rule names alarms that do not exist (or cannot be read) never counts: correct its rule.",
};

/// There were no alarms to watch, though the config asked for some.
pub static ALARM_NONE_WATCHED: ReasonCode = ReasonCode {
    code: "ALARM_NONE_WATCHED",
    summary: "The check found no alarm to watch, though the config named a prefix.",
    what: "No alarm's name starts with the configured `prefix`, and no named or deployment alarm was there to watch instead.",
    why: "The team expected alarms to guard this stage and there are none: no evidence is not success. The check waits within its `max_wait` in case the alarms are being created.",
    fix: "Correct the `prefix` (it is case-sensitive), or create the alarms before deploying.",
};

/// The service has no deployment alarms and the config names none.
pub static ALARM_NONE_CONFIGURED: ReasonCode = ReasonCode {
    code: "ALARM_NONE_CONFIGURED",
    summary: "Nothing to watch: the service has no deployment alarms and the config names none.",
    what: "The check watches only the service's deployment alarms, and its deployment configuration lists none.",
    why: "No alarm watched is no evidence, and a stage guarded by nothing must not pass by default. Waiting cannot change the service's configuration, so the stage fails at once rather than after `max_wait`. With `allow_no_alarms: true` the check passes instead, saying that no alarm guarded the stage.",
    fix: "Add deployment alarms to the service (`deploymentConfiguration.alarms`), name alarms in the check (`names`, `prefix`), or, for a service that deliberately has none, set `allow_no_alarms: true` on the check.",
};

/// The `alarms` check.
pub static DOC: CheckDoc = CheckDoc {
    kind: "alarms",
    summary: "No watched CloudWatch alarm is firing, and the OKs are recent enough to mean something.",
    why: "Alarms are the team's own judgement of health. ECS ignores an alarm already in ALARM when a deployment starts, and CloudWatch treats INSUFFICIENT_DATA and stale OKs as fine; this check fails on the first, waits on the second and, with `require_evaluated_after_shift`, counts an OK only once the alarm has looked at traffic from after the shift.",
    example: "alarms:\n  names: [web-5xx, web-latency-p99]\n  prefix: web-\n  include_deployment_alarms: true\n  insufficient_data: inconclusive\n  require_evaluated_after_shift: true\n  allow_no_alarms: false",
    iam: &[IamNeed {
        when: "",
        example: "alarms: { names: [web-5xx] }",
        from: LifecycleStage::ReconcileService,
        facts: &[Fact::Deployment],
        calls: &["cloudwatch:DescribeAlarms"],
    }],
    codes: &[
        &ALARM_OK,
        &ALARM_FIRING,
        &ALARM_FIRING_BEFORE_DEPLOYMENT,
        &ALARM_TRIGGERED_DURING_DEPLOYMENT,
        &ALARM_INSUFFICIENT_DATA,
        &ALARM_NOT_FOUND,
        &ALARM_EVALUATION_FAILING,
        &ALARM_NOT_EVALUATED_SINCE_SHIFT,
        &ALARM_NONE_WATCHED,
        &ALARM_NONE_CONFIGURED,
    ],
};

/// An alarm's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlarmState {
    /// `OK`.
    Ok,
    /// `ALARM`.
    Alarm,
    /// `INSUFFICIENT_DATA`.
    InsufficientData,
}

impl AlarmState {
    /// As CloudWatch spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            AlarmState::Ok => "OK",
            AlarmState::Alarm => "ALARM",
            AlarmState::InsufficientData => "INSUFFICIENT_DATA",
        }
    }
}

/// What kind of alarm it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlarmKind {
    /// A metric alarm (one metric or metric math).
    Metric,
    /// A composite alarm (a rule over other alarms).
    Composite,
    /// A log alarm (a scheduled query over logs).
    Log,
}

impl AlarmKind {
    fn as_str(self) -> &'static str {
        match self {
            AlarmKind::Metric => "metric",
            AlarmKind::Composite => "composite",
            AlarmKind::Log => "log",
        }
    }
}

/// Why the check watches an alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlarmSource {
    /// Named in `names`.
    Named,
    /// Its name starts with `prefix`.
    Prefix,
    /// A deployment alarm of the service.
    Deployment,
}

impl AlarmSource {
    fn as_str(self) -> &'static str {
        match self {
            AlarmSource::Named => "named",
            AlarmSource::Prefix => "prefix",
            AlarmSource::Deployment => "deployment alarm",
        }
    }
}

/// One alarm as CloudWatch describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmObservation {
    /// The alarm name.
    pub name: String,
    /// The alarm ARN.
    pub arn: Option<String>,
    /// Metric, composite or log.
    pub kind: AlarmKind,
    /// Its state.
    pub state: AlarmState,
    /// CloudWatch's explanation of the state.
    pub state_reason: Option<String>,
    /// The last change of its state or evaluation state (`StateUpdatedTimestamp`).
    pub state_updated_at: Option<SystemTime>,
    /// The last change of its state (`StateTransitionedTimestamp`).
    pub state_transitioned_at: Option<SystemTime>,
    /// `EvaluationState`, when CloudWatch reports one (`PARTIAL_DATA`, `EVALUATION_ERROR`, …).
    pub evaluation_state: Option<String>,
    /// The condition it alarms on, in words (`HTTPCode_Target_5XX_Count Sum > 5 for 2 of 3
    /// periods of 1m`, or a composite rule).
    pub condition: Option<String>,
    /// The period of its datapoints, for metric alarms.
    pub period: Option<Duration>,
    /// For a composite alarm, the alarms its rule names as CloudWatch described them (those that
    /// exist); looked up only when needed to tell whether it has evaluated since the shift.
    pub children: Vec<AlarmObservation>,
    /// Why the check watches it.
    pub sources: Vec<AlarmSource>,
}

/// An alarm the check was told to watch that CloudWatch does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingAlarm {
    /// The name asked for.
    pub name: String,
    /// Where the name came from.
    pub sources: Vec<AlarmSource>,
}

/// Everything the judge needs.
#[derive(Debug, Clone, PartialEq)]
pub struct AlarmsObservation {
    /// The alarms found, in the order asked for (names, deployment alarms, then prefix matches).
    pub alarms: Vec<AlarmObservation>,
    /// The names asked for and not found.
    pub missing: Vec<MissingAlarm>,
    /// When the deployment started, when known.
    pub deployment_started_at: Option<SystemTime>,
    /// Deployment alarms ECS recorded as triggered during this deployment.
    pub triggered_by_ecs: Vec<String>,
    /// When the stage (or step) started: the traffic shift OKs must postdate.
    pub stage_started_at: SystemTime,
    /// The time of judgement.
    pub now: SystemTime,
}

/// Time for a datapoint to be delivered to CloudWatch and for the alarm's next evaluation.
const EVALUATION_SETTLE: Duration = Duration::from_secs(120);

/// How many alarms the evidence describes one by one.
const LISTED_ALARMS: usize = 10;

/// `EvaluationState` values that mean the alarm could not read its data.
const FAILING_EVALUATIONS: &[&str] = &["EVALUATION_ERROR", "EVALUATION_FAILURE", "PARTIAL_DATA"];

fn timestamp(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

impl AlarmObservation {
    /// When it went into its current state, as well as CloudWatch says.
    fn state_since(&self) -> Option<SystemTime> {
        self.state_transitioned_at.or(self.state_updated_at)
    }

    fn resource(&self) -> &str {
        self.arn.as_deref().unwrap_or(&self.name)
    }

    fn evidence(&self) -> Evidence {
        let mut evidence = Evidence::new(
            format!("state of alarm {}", self.name),
            json!({
                "state": self.state.as_str(),
                "reason": self.state_reason,
                "state_since": self.state_since().map(timestamp),
                "state_updated_at": self.state_updated_at.map(timestamp),
                "evaluation_state": self.evaluation_state,
                "kind": self.kind.as_str(),
                "watched_because": self.sources.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            }),
        )
        .threshold(
            self.condition
                .clone()
                .unwrap_or_else(|| "the alarm's own condition".to_owned()),
        )
        .resource(self.resource());
        if let Some(since) = self.state_since() {
            evidence = evidence.window(format!(
                "{} since {}",
                self.state.as_str(),
                timestamp(since)
            ));
        }
        evidence
    }

    fn evaluation_failing(&self) -> bool {
        self.evaluation_state
            .as_deref()
            .is_some_and(|state| FAILING_EVALUATIONS.contains(&state))
    }

    /// Whether the alarm has evaluated data from after `shift`, at `now` (see the module docs),
    /// and if not, since when it will count (when that is known).
    fn evaluated_since(
        &self,
        shift: SystemTime,
        now: SystemTime,
    ) -> Result<(), Option<SystemTime>> {
        match self.period {
            Some(period) => {
                let changed_late = self
                    .state_updated_at
                    .is_some_and(|updated| updated >= shift + period);
                let counts_at = shift + period + EVALUATION_SETTLE;
                if changed_late || now >= counts_at {
                    Ok(())
                } else {
                    Err(Some(counts_at))
                }
            }
            None if self
                .state_updated_at
                .is_some_and(|updated| updated >= shift) =>
            {
                Ok(())
            }
            None if self.kind == AlarmKind::Composite => self.children_evaluated_since(shift, now),
            None => Err(None),
        }
    }

    /// Whether every alarm a composite's rule names has evaluated data from after `shift`: its
    /// state is a function of theirs, re-evaluated whenever one changes.
    fn children_evaluated_since(
        &self,
        shift: SystemTime,
        now: SystemTime,
    ) -> Result<(), Option<SystemTime>> {
        let names = self
            .condition
            .as_deref()
            .map(composite_children)
            .unwrap_or_default();
        if names.is_empty() {
            return Err(None);
        }
        let mut counts_at: Option<SystemTime> = None;
        for name in names {
            let child = self.children.iter().find(|child| child.name == name);
            match child.map(|child| child.evaluated_since(shift, now)) {
                Some(Ok(())) => {}
                Some(Err(Some(at))) => counts_at = counts_at.max(Some(at)),
                Some(Err(None)) | None => return Err(None),
            }
        }
        match counts_at {
            Some(at) => Err(Some(at)),
            None => Ok(()),
        }
    }
}

/// The alarms a composite alarm's rule names, in order, without repeats: the arguments of
/// `ALARM(…)`, `OK(…)` and `INSUFFICIENT_DATA(…)` and the list of `AT_LEAST(…, …, (…))`, quoted
/// or not, with ARNs cut to the alarm name.
pub fn composite_children(rule: &str) -> Vec<String> {
    #[derive(PartialEq)]
    enum Token {
        Open,
        Close,
        Comma,
        Word(String),
    }
    let mut tokens = Vec::new();
    let mut chars = rule.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '(' => tokens.push(Token::Open),
            ')' => tokens.push(Token::Close),
            ',' => tokens.push(Token::Comma),
            '"' => {
                let mut word = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => word.extend(chars.next()),
                        '"' => break,
                        c => word.push(c),
                    }
                }
                tokens.push(Token::Word(word));
            }
            c if c.is_whitespace() => {}
            c => {
                let mut word = String::from(c);
                while let Some(&next) = chars.peek() {
                    if next.is_whitespace() || matches!(next, '(' | ')' | ',' | '"') {
                        break;
                    }
                    word.push(next);
                    chars.next();
                }
                tokens.push(Token::Word(word));
            }
        }
    }
    let alarm_name = |reference: &str| {
        reference
            .split_once(":alarm:")
            .map_or(reference, |(_, name)| name)
            .to_owned()
    };
    let mut names: Vec<String> = Vec::new();
    let mut add = |name: String| {
        if !name.is_empty() && !names.contains(&name) {
            names.push(name);
        }
    };
    let word = |token: Option<&Token>| match token {
        Some(Token::Word(word)) => Some(word.clone()),
        _ => None,
    };
    let mut i = 0;
    while i < tokens.len() {
        let function = word(tokens.get(i));
        let opens = tokens.get(i + 1) == Some(&Token::Open);
        match function.as_deref() {
            Some("ALARM" | "OK" | "INSUFFICIENT_DATA") if opens => {
                if let Some(name) = word(tokens.get(i + 2)) {
                    add(alarm_name(&name));
                }
                i += 3;
            }
            Some("AT_LEAST") if opens => {
                // AT_LEAST(threshold, STATE, (a, b, …)): the names are in the inner list.
                let mut j = i + 2;
                while j < tokens.len() && tokens[j] != Token::Open && tokens[j] != Token::Close {
                    j += 1;
                }
                if tokens.get(j) == Some(&Token::Open) {
                    j += 1;
                    while let Some(token) = tokens.get(j) {
                        match token {
                            Token::Word(name) => add(alarm_name(name)),
                            Token::Close => break,
                            _ => {}
                        }
                        j += 1;
                    }
                }
                i = j + 1;
            }
            _ => i += 1,
        }
    }
    names
}

/// The first three alarms' names and how many more: `a, b, c and 3 more`.
fn names(alarms: &[&AlarmObservation]) -> String {
    let shown: Vec<&str> = alarms.iter().take(3).map(|a| a.name.as_str()).collect();
    match alarms.len().saturating_sub(shown.len()) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

/// Judges the watched alarms.
pub fn judge(params: &AlarmsParams, observed: &AlarmsObservation) -> Outcome {
    let alarms = &observed.alarms;
    let summary = summary_evidence(observed);
    let finish = |outcome: Outcome, deciding: &[&AlarmObservation]| {
        deciding
            .iter()
            .take(LISTED_ALARMS)
            .fold(outcome, |outcome, alarm| {
                outcome.with_evidence(alarm.evidence())
            })
            .with_evidence(summary.clone())
    };
    let firing_before = |alarm: &AlarmObservation| {
        matches!(
            (alarm.state_since(), observed.deployment_started_at),
            (Some(since), Some(started)) if since < started
        )
    };

    let firing: Vec<&AlarmObservation> = alarms
        .iter()
        .filter(|a| a.state == AlarmState::Alarm && !firing_before(a))
        .collect();
    if let Some(first) = firing.first() {
        return finish(
            Outcome::fail(
                &ALARM_FIRING,
                format!(
                    "alarm {} is in ALARM{}{}{}",
                    names(&firing),
                    first
                        .state_since()
                        .map(|t| format!(" since {}", timestamp(t)))
                        .unwrap_or_default(),
                    first
                        .state_reason
                        .as_deref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default(),
                    if firing.len() > 1 {
                        " (first shown)"
                    } else {
                        ""
                    }
                ),
            ),
            &firing,
        );
    }

    let triggered: Vec<&AlarmObservation> = alarms
        .iter()
        .filter(|a| {
            a.sources.contains(&AlarmSource::Deployment)
                && observed.triggered_by_ecs.iter().any(|name| name == &a.name)
        })
        .collect();
    if !triggered.is_empty() {
        return finish(
            Outcome::fail(
                &ALARM_TRIGGERED_DURING_DEPLOYMENT,
                format!(
                    "ECS recorded deployment alarm {} as triggered during this deployment; it fired while green was deployed",
                    names(&triggered)
                ),
            ),
            &triggered,
        );
    }

    let before: Vec<&AlarmObservation> = alarms
        .iter()
        .filter(|a| a.state == AlarmState::Alarm && firing_before(a))
        .collect();
    if let Some(first) = before.first() {
        return finish(
            Outcome::fail(
                &ALARM_FIRING_BEFORE_DEPLOYMENT,
                format!(
                    "alarm {} has been in ALARM since {}, before the deployment started at {}; ECS does not monitor an alarm already firing, so greenlight stops here",
                    names(&before),
                    first.state_since().map(timestamp).unwrap_or_default(),
                    observed
                        .deployment_started_at
                        .map(timestamp)
                        .unwrap_or_default()
                ),
            ),
            &before,
        );
    }

    let insufficient: Vec<&AlarmObservation> = alarms
        .iter()
        .filter(|a| a.state == AlarmState::InsufficientData)
        .collect();
    if !insufficient.is_empty() && params.insufficient_data == InsufficientData::Fail {
        return finish(
            Outcome::fail(
                &ALARM_INSUFFICIENT_DATA,
                format!(
                    "alarm {} is in INSUFFICIENT_DATA, which this check treats as failing (insufficient_data: fail)",
                    names(&insufficient)
                ),
            ),
            &insufficient,
        );
    }

    if !observed.missing.is_empty() {
        let listed: Vec<String> = observed
            .missing
            .iter()
            .map(|missing| {
                let from: Vec<&str> = missing.sources.iter().map(|s| s.as_str()).collect();
                format!("{} ({})", missing.name, from.join(", "))
            })
            .collect();
        let outcome = Outcome::permanent_error(
            &ALARM_NOT_FOUND,
            format!("alarm {} does not exist", listed.join(", ")),
        );
        let outcome =
            observed
                .missing
                .iter()
                .take(LISTED_ALARMS)
                .fold(outcome, |outcome, missing| {
                    outcome.with_evidence(
                        Evidence::new(format!("alarm {}", missing.name), "not found")
                            .resource(missing.name.as_str()),
                    )
                });
        return outcome.with_evidence(summary);
    }

    if !insufficient.is_empty() && params.insufficient_data == InsufficientData::Inconclusive {
        return finish(
            Outcome::inconclusive(
                &ALARM_INSUFFICIENT_DATA,
                format!(
                    "alarm {} is in INSUFFICIENT_DATA: it cannot say green is healthy yet",
                    names(&insufficient)
                ),
            ),
            &insufficient,
        );
    }

    let failing: Vec<&AlarmObservation> =
        alarms.iter().filter(|a| a.evaluation_failing()).collect();
    if !failing.is_empty() {
        return finish(
            Outcome::inconclusive(
                &ALARM_EVALUATION_FAILING,
                format!(
                    "alarm {} cannot evaluate its data ({}), so its state means nothing",
                    names(&failing),
                    failing[0].evaluation_state.as_deref().unwrap_or_default()
                ),
            ),
            &failing,
        );
    }

    if params.require_evaluated_after_shift {
        let shift = observed.stage_started_at;
        let pending: Vec<(&AlarmObservation, Option<SystemTime>)> = alarms
            .iter()
            .filter_map(|a| {
                a.evaluated_since(shift, observed.now)
                    .err()
                    .map(|at| (a, at))
            })
            .collect();
        if let Some((first, counts_at)) = pending.first() {
            let deciding: Vec<&AlarmObservation> = pending.iter().map(|(a, _)| *a).collect();
            let when = match (counts_at, first.kind) {
                (Some(at), _) => format!("it counts from {}", timestamp(*at)),
                (None, AlarmKind::Composite) => "a composite alarm counts once its state changes, or once every alarm its rule names has evaluated data from after the shift, and not all of them could be read".to_owned(),
                (None, kind) => format!(
                    "a {} alarm has no period, so it counts only once its state changes",
                    kind.as_str()
                ),
            };
            let outcome = Outcome::inconclusive(
                &ALARM_NOT_EVALUATED_SINCE_SHIFT,
                format!(
                    "alarm {} has not evaluated data from after the shift at {} yet; {when}",
                    names(&deciding),
                    timestamp(shift)
                ),
            );
            let shift_evidence = Evidence::new("traffic shift", timestamp(shift))
                .threshold("an OK counts once the alarm has evaluated data from after the shift");
            let mut outcome = finish(outcome, &deciding);
            let before_summary = outcome.evidence.len().saturating_sub(1);
            outcome.evidence.insert(before_summary, shift_evidence);
            return outcome;
        }
    }

    if alarms.is_empty() {
        let only_deployment_alarms = params.names.is_empty() && params.prefix.is_none();
        return if only_deployment_alarms && params.allow_no_alarms {
            Outcome::pass(
                &ALARM_NONE_CONFIGURED,
                "no alarm guarded this stage, as the config allows (allow_no_alarms): the service has no deployment alarms and the config names none",
            )
            .with_evidence(summary)
        } else if only_deployment_alarms {
            Outcome::permanent_error(
                &ALARM_NONE_CONFIGURED,
                "no alarm guards this stage: the service has no deployment alarms (deploymentConfiguration.alarms) and the config names none; add alarms, or set allow_no_alarms: true on the alarms check if the service deliberately has none",
            )
            .with_evidence(summary)
        } else {
            Outcome::inconclusive(
                &ALARM_NONE_WATCHED,
                format!(
                    "no alarm matches the prefix {:?}, and there are no other alarms to watch",
                    params.prefix.as_deref().unwrap_or_default()
                ),
            )
            .with_evidence(summary)
        };
    }

    let counted = if params.insufficient_data == InsufficientData::Pass && !insufficient.is_empty()
    {
        format!(
            " ({} in INSUFFICIENT_DATA, counted as OK by insufficient_data: pass)",
            insufficient.len()
        )
    } else {
        String::new()
    };
    let all: Vec<&AlarmObservation> = alarms.iter().collect();
    finish(
        Outcome::pass(
            &ALARM_OK,
            format!("all {} watched alarm(s) are OK{counted}", alarms.len()),
        ),
        &all,
    )
}

/// How many alarms were watched, by state, with their names.
fn summary_evidence(observed: &AlarmsObservation) -> Evidence {
    let count = |state: AlarmState| observed.alarms.iter().filter(|a| a.state == state).count();
    let watched: Vec<&str> = observed
        .alarms
        .iter()
        .take(50)
        .map(|a| a.name.as_str())
        .collect();
    Evidence::new(
        "watched alarms by state",
        json!({
            "OK": count(AlarmState::Ok),
            "ALARM": count(AlarmState::Alarm),
            "INSUFFICIENT_DATA": count(AlarmState::InsufficientData),
            "missing": observed.missing.len(),
            "names": watched,
        }),
    )
    .threshold("no alarm in ALARM")
    .samples(observed.alarms.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::CheckKind;
    use crate::checks::registry::test_support::check;
    use crate::outcome::{ErrorClass, Status};

    const DEPLOYED: u64 = 1_800_000_000;
    const SHIFT: u64 = DEPLOYED + 600;

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    fn params(yaml: &str) -> AlarmsParams {
        match check(yaml).expect("valid alarms check").kind {
            CheckKind::Alarms(params) => params,
            other => panic!("{other:?}"),
        }
    }

    fn alarm(name: &str, state: AlarmState, since: u64) -> AlarmObservation {
        AlarmObservation {
            name: name.into(),
            arn: Some(format!(
                "arn:aws:cloudwatch:us-east-1:111122223333:alarm:{name}"
            )),
            kind: AlarmKind::Metric,
            state,
            state_reason: Some(format!("{name} reason")),
            state_updated_at: Some(at(since)),
            state_transitioned_at: Some(at(since)),
            evaluation_state: None,
            condition: Some("HTTPCode_Target_5XX_Count Sum > 5 for 1 of 1 periods of 1m".into()),
            period: Some(Duration::from_secs(60)),
            children: Vec::new(),
            sources: vec![AlarmSource::Deployment],
        }
    }

    fn observed(alarms: Vec<AlarmObservation>, now: u64) -> AlarmsObservation {
        AlarmsObservation {
            alarms,
            missing: Vec::new(),
            deployment_started_at: Some(at(DEPLOYED)),
            triggered_by_ecs: Vec::new(),
            stage_started_at: at(SHIFT),
            now: at(now),
        }
    }

    #[test]
    fn judges_alarm_states_by_table() {
        let default = params("alarms");
        let fail_insufficient = params("alarms: { insufficient_data: fail }");
        let pass_insufficient = params("alarms: { insufficient_data: pass }");
        let fresh = params("alarms: { require_evaluated_after_shift: true }");
        let ok_long_ago = || alarm("web-ok", AlarmState::Ok, DEPLOYED - 86_400);
        // (what, params, alarms, judged at, expected code, expected status)
        type Case<'a> = (
            &'a str,
            &'a AlarmsParams,
            Vec<AlarmObservation>,
            u64,
            &'static ReasonCode,
            Status,
        );
        let cases: Vec<Case<'_>> = vec![
            (
                "all ok",
                &default,
                vec![ok_long_ago()],
                SHIFT + 60,
                &ALARM_OK,
                Status::Pass,
            ),
            (
                "firing during the deployment",
                &default,
                vec![
                    ok_long_ago(),
                    alarm("web-5xx", AlarmState::Alarm, SHIFT + 120),
                ],
                SHIFT + 180,
                &ALARM_FIRING,
                Status::Fail,
            ),
            (
                "firing since before the deployment",
                &default,
                vec![alarm("web-5xx", AlarmState::Alarm, DEPLOYED - 60)],
                SHIFT + 60,
                &ALARM_FIRING_BEFORE_DEPLOYMENT,
                Status::Fail,
            ),
            (
                "insufficient data waits by default",
                &default,
                vec![
                    ok_long_ago(),
                    alarm("web-latency", AlarmState::InsufficientData, SHIFT),
                ],
                SHIFT + 60,
                &ALARM_INSUFFICIENT_DATA,
                Status::Inconclusive,
            ),
            (
                "insufficient data fails when told",
                &fail_insufficient,
                vec![alarm("web-latency", AlarmState::InsufficientData, SHIFT)],
                SHIFT + 60,
                &ALARM_INSUFFICIENT_DATA,
                Status::Fail,
            ),
            (
                "insufficient data passes when told",
                &pass_insufficient,
                vec![alarm("web-latency", AlarmState::InsufficientData, SHIFT)],
                SHIFT + 60,
                &ALARM_OK,
                Status::Pass,
            ),
            (
                "an old OK has not looked at green yet",
                &fresh,
                vec![ok_long_ago()],
                SHIFT + 90,
                &ALARM_NOT_EVALUATED_SINCE_SHIFT,
                Status::Inconclusive,
            ),
            (
                "an old OK counts once a period and the settle time passed",
                &fresh,
                vec![ok_long_ago()],
                SHIFT + 180,
                &ALARM_OK,
                Status::Pass,
            ),
            (
                "an OK that changed a period after the shift counts at once",
                &fresh,
                vec![alarm("web-ok", AlarmState::Ok, SHIFT + 60)],
                SHIFT + 61,
                &ALARM_OK,
                Status::Pass,
            ),
            (
                "an OK that changed right at the shift rested on blue's data",
                &fresh,
                vec![alarm("web-ok", AlarmState::Ok, SHIFT + 10)],
                SHIFT + 30,
                &ALARM_NOT_EVALUATED_SINCE_SHIFT,
                Status::Inconclusive,
            ),
            (
                "no deployment alarms at all",
                &default,
                vec![],
                SHIFT + 60,
                &ALARM_NONE_CONFIGURED,
                Status::Error,
            ),
        ];
        for (name, params, alarms, now, code, status) in cases {
            let outcome = judge(params, &observed(alarms, now));
            assert_eq!(outcome.code, code, "{name}: {}", outcome.message);
            assert_eq!(outcome.status, status, "{name}");
            let summary = outcome.evidence.last().expect("summary evidence");
            assert_eq!(summary.measured, "watched alarms by state", "{name}");
        }
    }

    #[test]
    fn firing_evidence_names_the_alarm_its_reason_and_threshold() {
        let outcome = judge(
            &params("alarms"),
            &observed(
                vec![alarm("web-5xx", AlarmState::Alarm, SHIFT + 120)],
                SHIFT + 180,
            ),
        );
        assert_eq!(outcome.code, &ALARM_FIRING);
        assert!(
            outcome.message.starts_with(
                "alarm web-5xx is in ALARM since 2027-01-15T08:12:00Z: web-5xx reason"
            ),
            "{}",
            outcome.message
        );
        let evidence = &outcome.evidence[0];
        assert_eq!(evidence.value["state"], json!("ALARM"));
        assert_eq!(evidence.value["reason"], json!("web-5xx reason"));
        assert_eq!(
            evidence.value["watched_because"],
            json!(["deployment alarm"])
        );
        assert_eq!(
            evidence.threshold.as_deref(),
            Some("HTTPCode_Target_5XX_Count Sum > 5 for 1 of 1 periods of 1m")
        );
        assert_eq!(
            evidence.window.as_deref(),
            Some("ALARM since 2027-01-15T08:12:00Z")
        );
        assert_eq!(
            evidence.resource.as_deref(),
            Some("arn:aws:cloudwatch:us-east-1:111122223333:alarm:web-5xx")
        );
        assert_eq!(outcome.evidence[1].value["ALARM"], json!(1));
    }

    #[test]
    fn alarm_since_before_the_deployment_uses_the_transition_time() {
        // Its evaluation state changed after the deployment started, but it has been in ALARM
        // since before.
        let mut old = alarm("web-5xx", AlarmState::Alarm, DEPLOYED - 60);
        old.state_updated_at = Some(at(DEPLOYED + 60));
        let outcome = judge(&params("alarms"), &observed(vec![old.clone()], SHIFT));
        assert_eq!(outcome.code, &ALARM_FIRING_BEFORE_DEPLOYMENT);
        assert!(
            outcome.message.contains("ECS does not monitor"),
            "{}",
            outcome.message
        );
        // When the deployment's start is unknown, firing is firing.
        let mut unknown = observed(vec![old], SHIFT);
        unknown.deployment_started_at = None;
        assert_eq!(judge(&params("alarms"), &unknown).code, &ALARM_FIRING);
    }

    #[test]
    fn ecs_triggered_alarms_fail_even_when_ok_again() {
        let mut seen = observed(
            vec![alarm("web-5xx", AlarmState::Ok, SHIFT + 200)],
            SHIFT + 300,
        );
        seen.triggered_by_ecs = vec!["web-5xx".into()];
        let outcome = judge(&params("alarms"), &seen);
        assert_eq!(outcome.code, &ALARM_TRIGGERED_DURING_DEPLOYMENT);
        assert_eq!(outcome.status, Status::Fail);
        // Only deployment alarms are ECS's to report.
        seen.alarms[0].sources = vec![AlarmSource::Named];
        assert_eq!(judge(&params("alarms"), &seen).code, &ALARM_OK);
    }

    #[test]
    fn missing_alarms_are_a_permanent_error_naming_them() {
        let mut seen = observed(
            vec![alarm("web-ok", AlarmState::Ok, DEPLOYED - 60)],
            SHIFT + 60,
        );
        seen.missing = vec![MissingAlarm {
            name: "web-typo".into(),
            sources: vec![AlarmSource::Named],
        }];
        let outcome = judge(&params("alarms: { names: [web-typo] }"), &seen);
        assert_eq!(outcome.code, &ALARM_NOT_FOUND);
        assert_eq!(outcome.error_class, Some(ErrorClass::Permanent));
        assert_eq!(outcome.message, "alarm web-typo (named) does not exist");
        assert_eq!(outcome.evidence[0].resource.as_deref(), Some("web-typo"));
        // A firing alarm is still the headline.
        seen.alarms.push(alarm("web-5xx", AlarmState::Alarm, SHIFT));
        assert_eq!(judge(&params("alarms"), &seen).code, &ALARM_FIRING);
    }

    #[test]
    fn failing_evaluations_make_an_ok_meaningless() {
        let mut broken = alarm("web-insights", AlarmState::Ok, DEPLOYED - 60);
        broken.evaluation_state = Some("PARTIAL_DATA".into());
        let outcome = judge(&params("alarms"), &observed(vec![broken], SHIFT + 600));
        assert_eq!(outcome.code, &ALARM_EVALUATION_FAILING);
        assert_eq!(outcome.status, Status::Inconclusive);
        assert!(
            outcome.message.contains("PARTIAL_DATA"),
            "{}",
            outcome.message
        );
    }

    #[test]
    fn composite_alarms_count_by_their_own_change_or_their_children() {
        let fresh = params("alarms: { require_evaluated_after_shift: true }");
        let mut composite = alarm("web-any", AlarmState::Ok, DEPLOYED - 60);
        composite.kind = AlarmKind::Composite;
        composite.period = None;
        composite.condition = Some("ALARM(web-5xx) OR ALARM(\"web-latency\")".into());
        // Children unknown: it cannot count until its own state changes.
        let outcome = judge(&fresh, &observed(vec![composite.clone()], SHIFT + 3600));
        assert_eq!(outcome.code, &ALARM_NOT_EVALUATED_SINCE_SHIFT);
        assert!(
            outcome.message.contains("every alarm its rule names"),
            "{}",
            outcome.message
        );
        // Children known: it counts once both have evaluated post-shift data.
        composite.children = vec![
            alarm("web-5xx", AlarmState::Ok, DEPLOYED - 60),
            alarm("web-latency", AlarmState::Ok, DEPLOYED - 60),
        ];
        let early = judge(&fresh, &observed(vec![composite.clone()], SHIFT + 90));
        assert_eq!(early.code, &ALARM_NOT_EVALUATED_SINCE_SHIFT);
        assert!(
            early
                .message
                .contains("it counts from 2027-01-15T08:13:00Z"),
            "{}",
            early.message
        );
        let settled = judge(&fresh, &observed(vec![composite.clone()], SHIFT + 180));
        assert_eq!(settled.code, &ALARM_OK, "{}", settled.message);
        // A child that does not exist never lets it count.
        composite.children.pop();
        let outcome = judge(&fresh, &observed(vec![composite.clone()], SHIFT + 3600));
        assert_eq!(outcome.code, &ALARM_NOT_EVALUATED_SINCE_SHIFT);
        // Its own change after the shift is enough.
        composite.state_updated_at = Some(at(SHIFT + 5));
        assert_eq!(
            judge(&fresh, &observed(vec![composite], SHIFT + 60)).code,
            &ALARM_OK
        );
    }

    #[test]
    fn composite_rules_name_their_children() {
        let cases: &[(&str, &[&str])] = &[
            (
                "ALARM(web-5xx) OR ALARM(web-latency)",
                &["web-5xx", "web-latency"],
            ),
            (
                "ALARM(\"web (5xx), main\") AND NOT OK(arn:aws:cloudwatch:us-east-1:1:alarm:db-cpu)",
                &["web (5xx), main", "db-cpu"],
            ),
            (
                "AT_LEAST(2, ALARM, (a, \"b\", c)) OR INSUFFICIENT_DATA(d) OR ALARM(a)",
                &["a", "b", "c", "d"],
            ),
            ("(ALARM(x) OR TRUE) AND FALSE", &["x"]),
            ("TRUE", &[]),
            ("ALARM(", &[]),
        ];
        for (rule, children) in cases {
            assert_eq!(composite_children(rule), *children, "{rule}");
        }
    }

    #[test]
    fn no_alarms_passes_only_when_the_config_allows_it() {
        let outcome = judge(&params("alarms"), &observed(vec![], SHIFT));
        assert_eq!(outcome.code, &ALARM_NONE_CONFIGURED);
        assert!(outcome.is_permanent_error(), "{outcome:?}");
        assert!(
            outcome.message.contains("allow_no_alarms: true"),
            "{}",
            outcome.message
        );
        let outcome = judge(
            &params("alarms: { allow_no_alarms: true }"),
            &observed(vec![], SHIFT),
        );
        assert_eq!(outcome.code, &ALARM_NONE_CONFIGURED);
        assert_eq!(outcome.status, Status::Pass);
        assert!(outcome.message.contains("no alarm guarded this stage"));
        assert_eq!(outcome.evidence[0].samples, Some(0));
        let outcome = judge(
            &params("alarms: { prefix: web- }"),
            &observed(vec![], SHIFT),
        );
        assert_eq!(outcome.code, &ALARM_NONE_WATCHED);
        assert_eq!(outcome.status, Status::Inconclusive);
        assert!(outcome.message.contains("\"web-\""), "{}", outcome.message);
    }

    #[test]
    fn many_alarms_are_summarised() {
        let firing: Vec<AlarmObservation> = (0..15)
            .map(|i| alarm(&format!("web-{i}"), AlarmState::Alarm, SHIFT + 60))
            .collect();
        let outcome = judge(&params("alarms"), &observed(firing, SHIFT + 120));
        assert!(
            outcome
                .message
                .starts_with("alarm web-0, web-1, web-2 and 12 more is in ALARM"),
            "{}",
            outcome.message
        );
        assert_eq!(outcome.evidence.len(), LISTED_ALARMS + 1);
        assert_eq!(outcome.evidence[LISTED_ALARMS].value["ALARM"], json!(15));
    }

    #[test]
    fn doc_lists_every_code_and_a_valid_example() {
        assert_eq!(DOC.kind, "alarms");
        assert!(DOC.codes.iter().all(|code| code.family() == "ALARM"));
        assert!(DOC.iam_actions().contains("cloudwatch:DescribeAlarms"));
        let example = check(DOC.example).expect("the documented example is a valid check");
        assert!(matches!(example.kind, CheckKind::Alarms(_)));
    }
}
