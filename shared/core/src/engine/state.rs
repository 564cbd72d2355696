//! State carried between IN_PROGRESS invocations of one hook, inside `hookDetails`.
//!
//! ECS hands back whatever `hookDetails` a hook returned with IN_PROGRESS, merged with the hook's static
//! `hookDetails`; how deep that merge goes, and how large it may be, is undocumented. So greenlight
//! keeps all its state under one key (`greenlight.state`), small and bounded whatever else arrives, and
//! when it returns the `greenlight` object it carries the inline config keys forward too: a shallow
//! merge that replaces the whole `greenlight` object then still leaves both config and state.
//!
//! State is keyed by deployment, stage and step, never by `executionId` (whose stability across
//! re-invocations is undocumented). State for another key is stale and ignored.

use crate::stage::StageKey;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::protocol::{GREENLIGHT_DETAILS_KEY, STATE_KEY};
/// Serialized state stays under this many bytes; older detail is dropped to fit.
pub const MAX_STATE_BYTES: usize = 4 * 1024;

const STATE_VERSION: u8 = 1;
/// The most characters kept of a check id.
const MAX_ID_CHARS: usize = 64;
const MAX_CHECKS: usize = 50;

/// What greenlight remembers about one check across invocations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckMemory {
    /// Passing observations in a row.
    #[serde(rename = "n", default)]
    pub passes_in_a_row: u32,
    /// When (Unix seconds) the current run of inconclusive or erroring outcomes began.
    #[serde(rename = "u", default, skip_serializing_if = "Option::is_none")]
    pub unsettled_since: Option<u64>,
    /// The reason code of the last outcome.
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    pub last_code: Option<String>,
}

/// The state of one stage (or step) across its invocations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageState {
    /// Format version, so a future greenlight can read or discard old state.
    pub v: u8,
    /// The deployment, stage and step this state belongs to.
    pub key: StageKey,
    /// When (Unix seconds) greenlight first judged this stage or step.
    pub started_at: u64,
    /// How many times this stage or step has been judged, this invocation included.
    pub attempts: u32,
    /// Per-check memory, by check id.
    #[serde(default)]
    pub checks: BTreeMap<String, CheckMemory>,
    /// The earliest `unsettled_since` among memories trimmed away to keep the state small: a
    /// check whose memory was dropped still has its wait budget counted from no later than this,
    /// so trimming can never reset a `max_wait`.
    #[serde(rename = "t", default, skip_serializing_if = "Option::is_none")]
    pub trimmed_unsettled_since: Option<u64>,
    /// Since when (Unix seconds) something the stage needs before its checks (the deployment's
    /// status, the config) has been unreadable without a break; cleared once the checks run.
    #[serde(rename = "u", default, skip_serializing_if = "Option::is_none")]
    pub unreadable_since: Option<u64>,
}

impl StageState {
    /// Fresh state for a stage first judged at `now` (Unix seconds).
    pub fn fresh(key: StageKey, now: u64) -> Self {
        StageState {
            v: STATE_VERSION,
            key,
            started_at: now,
            attempts: 0,
            checks: BTreeMap::new(),
            trimmed_unsettled_since: None,
            unreadable_since: None,
        }
    }

    /// The state for `key` carried in an incoming `hookDetails.greenlight` object, or fresh state when
    /// there is none, it is unreadable, or it belongs to another deployment, stage or step.
    pub fn carried_or_fresh(greenlight: Option<&Value>, key: StageKey, now: u64) -> Self {
        let carried = greenlight
            .and_then(|object| object.get(STATE_KEY))
            .and_then(|state| serde_json::from_value::<StageState>(state.clone()).ok());
        match carried {
            // A start in the future is not one greenlight wrote: judging from it would stretch
            // every wait budget, so it starts afresh.
            Some(state) if state.started_at > now => {
                tracing::warn!(
                    started_at = state.started_at,
                    now,
                    "carried state starts in the future; starting afresh"
                );
                StageState::fresh(key, now)
            }
            Some(state) if state.v == STATE_VERSION && state.key == key => state,
            Some(_) => {
                tracing::debug!("carried state belongs to another stage or step; starting afresh");
                StageState::fresh(key, now)
            }
            None => StageState::fresh(key, now),
        }
    }

    /// Ends a run of invocations that could not judge the checks (the deployment's status or the
    /// config unreadable) at `now`: every check's wait is moved on by that run's length, since
    /// greenlight did not look at the checks meanwhile. The run's own retries are spaced for the
    /// read that failed, not for the checks, and can outlast a short `max_wait`: counted, they
    /// would fail a check on its very next look. The run itself is bounded on its own.
    pub fn end_unreadable_run(&mut self, now: u64) {
        let Some(since) = self.unreadable_since.take() else {
            return;
        };
        let paused = now.saturating_sub(since);
        let shift = |at: u64| at.saturating_add(paused).min(now);
        for memory in self.checks.values_mut() {
            memory.unsettled_since = memory.unsettled_since.map(shift);
        }
        self.trimmed_unsettled_since = self.trimmed_unsettled_since.map(shift);
    }

    /// The memory of check `id`, as a default when the check has none yet.
    pub fn memory(&self, id: &str) -> CheckMemory {
        self.checks
            .get(&truncate(id, MAX_ID_CHARS))
            .cloned()
            .unwrap_or_else(|| CheckMemory {
                unsettled_since: self.trimmed_unsettled_since,
                ..CheckMemory::default()
            })
    }

    /// Records the memory of check `id`.
    pub fn remember(&mut self, id: &str, memory: CheckMemory) {
        let id = truncate(id, MAX_ID_CHARS);
        if self.checks.len() < MAX_CHECKS || self.checks.contains_key(&id) {
            self.checks.insert(id, memory);
        }
    }

    /// The state as JSON, trimmed to [`MAX_STATE_BYTES`]: last reason codes go first, then the memory of
    /// checks that are settled (nothing to carry), so what a wait budget depends on stays longest.
    pub fn to_bounded_json(&self) -> Value {
        let mut state = self.clone();
        let fits = |state: &StageState| {
            serde_json::to_vec(state).map_or(0, |bytes| bytes.len()) <= MAX_STATE_BYTES
        };
        if !fits(&state) {
            for memory in state.checks.values_mut() {
                memory.last_code = None;
            }
        }
        if !fits(&state) {
            state
                .checks
                .retain(|_, memory| memory.unsettled_since.is_some() || memory.passes_in_a_row > 0);
        }
        if !fits(&state) {
            // Streaks of passes go before wait budgets: a lost streak only asks for more passes.
            state
                .checks
                .retain(|_, memory| memory.unsettled_since.is_some());
        }
        while !fits(&state) {
            // Many checks with long ids, all waiting: drop memories, keeping the earliest wait
            // start so no dropped check's budget restarts.
            let Some((_, dropped)) = state.checks.pop_last() else {
                break;
            };
            state.trimmed_unsettled_since =
                match (state.trimmed_unsettled_since, dropped.unsettled_since) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
        }
        serde_json::to_value(&state).unwrap_or(Value::Null)
    }

    /// The `hookDetails` to return: only the `greenlight` key, holding the inline config fields that
    /// arrived in the incoming `greenlight` object and this state. Foreign keys, and anything else
    /// under `greenlight`, are not echoed: ECS keeps its static `hookDetails` itself.
    pub fn into_hook_details(self, incoming_greenlight: Option<&Value>) -> Map<String, Value> {
        let mut greenlight = Map::new();
        if let Some(Value::Object(incoming)) = incoming_greenlight {
            for key in crate::config::CONFIG_FIELDS {
                if let Some(value) = incoming.get(*key) {
                    greenlight.insert((*key).to_owned(), value.clone());
                }
            }
        }
        greenlight.insert(STATE_KEY.to_owned(), self.to_bounded_json());
        let mut details = Map::new();
        details.insert(GREENLIGHT_DETAILS_KEY.to_owned(), Value::Object(greenlight));
        details
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn key(step: Option<&str>) -> StageKey {
        StageKey::new(
            "arn:aws:ecs:us-west-2:123456789012:service-deployment/c/s/abc",
            "PRODUCTION_TRAFFIC_SHIFT",
            step,
        )
    }

    #[test]
    fn carried_state_for_the_same_key_is_kept() {
        let mut state = StageState::fresh(key(Some("10.0")), 1_000);
        state.attempts = 3;
        state.remember(
            "alarms",
            CheckMemory {
                passes_in_a_row: 2,
                ..CheckMemory::default()
            },
        );
        let details = state.clone().into_hook_details(None);
        let carried = StageState::carried_or_fresh(
            details.get(GREENLIGHT_DETAILS_KEY),
            key(Some("10.0")),
            2_000,
        );
        assert_eq!(carried, state);
    }

    #[test]
    fn state_of_another_step_is_stale() {
        let state = StageState::fresh(key(Some("10.0")), 1_000);
        let details = state.into_hook_details(None);
        let carried = StageState::carried_or_fresh(
            details.get(GREENLIGHT_DETAILS_KEY),
            key(Some("20.0")),
            2_000,
        );
        assert_eq!(carried.started_at, 2_000);
        assert_eq!(carried.attempts, 0);
    }

    #[test]
    fn unreadable_state_starts_afresh() {
        let greenlight = json!({ "state": { "v": "nonsense" } });
        let carried = StageState::carried_or_fresh(Some(&greenlight), key(None), 5);
        assert_eq!(carried, StageState::fresh(key(None), 5));
    }

    #[test]
    fn inline_config_keys_are_carried_and_foreign_ones_are_not() {
        let incoming = json!({ "version": 1, "stages": {}, "junk": "x".repeat(10_000) });
        let details = StageState::fresh(key(None), 1).into_hook_details(Some(&incoming));
        let greenlight = &details[GREENLIGHT_DETAILS_KEY];
        assert_eq!(greenlight["version"], 1);
        assert!(greenlight.get("junk").is_none());
        assert!(greenlight.get(STATE_KEY).is_some());
        assert_eq!(details.len(), 1);
    }

    #[test]
    fn state_stays_bounded_with_many_long_check_ids() {
        let mut state = StageState::fresh(key(Some("50.0")), 1);
        for index in 0..500 {
            state.remember(
                &format!("{index}-{}", "x".repeat(500)),
                CheckMemory {
                    passes_in_a_row: 1,
                    unsettled_since: Some(1),
                    last_code: Some("SOME_VERY_LONG_REASON_CODE_NAME".into()),
                },
            );
        }
        let bytes = serde_json::to_vec(&state.to_bounded_json()).unwrap();
        assert!(bytes.len() <= MAX_STATE_BYTES, "{} bytes", bytes.len());
    }

    #[test]
    fn trimming_never_restarts_a_wait_budget() {
        // Fifty checks with long ids, all waiting since different times: the state must shrink,
        // and a check whose memory was dropped still waits from no later than its real start.
        let mut state = StageState::fresh(key(Some("50.0")), 1);
        for index in 0..MAX_CHECKS {
            state.remember(
                &format!("{index:02}-{}", "x".repeat(60)),
                CheckMemory {
                    passes_in_a_row: 0,
                    unsettled_since: Some(1_000 + index as u64),
                    last_code: None,
                },
            );
        }
        let trimmed: StageState = serde_json::from_value(state.to_bounded_json()).unwrap();
        assert!(trimmed.checks.len() < MAX_CHECKS, "nothing was trimmed");
        for index in 0..MAX_CHECKS {
            let id = format!("{index:02}-{}", "x".repeat(60));
            let since = trimmed.memory(&id).unsettled_since.expect("a wait start");
            assert!(since <= 1_000 + index as u64, "{id}: {since}");
        }
    }

    #[test]
    fn a_carried_start_in_the_future_starts_afresh() {
        let mut forged = StageState::fresh(key(None), u64::MAX);
        forged.attempts = 7;
        let details = forged.into_hook_details(None);
        let carried =
            StageState::carried_or_fresh(details.get(GREENLIGHT_DETAILS_KEY), key(None), 1_000);
        assert_eq!(carried, StageState::fresh(key(None), 1_000));
    }
}
