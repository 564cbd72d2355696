//! The lifecycle stages of an ECS deployment, as an open-ended type.
//!
//! ECS has added stages over time (PRE_PRODUCTION_TRAFFIC_SHIFT arrived in 2026), so a stage we do not
//! know is preserved verbatim in [`LifecycleStage::Other`] and reported, never rejected by the parser.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The most characters kept of a step.
const MAX_ID_CHARS: usize = 64;
/// The most characters kept of a deployment or stage name.
const MAX_IDENTITY_CHARS: usize = 256;

/// Which stage (and step) of which deployment a state belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StageKey {
    /// The deployment: the ECS service-deployment ARN, or the CodeDeploy deployment id.
    #[serde(rename = "d")]
    pub deployment: String,
    /// The lifecycle stage.
    #[serde(rename = "s")]
    pub stage: String,
    /// The LINEAR/CANARY step (green's production weight), when the stage has steps.
    #[serde(rename = "p", default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
}

impl StageKey {
    /// A key, with over-long parts cut so that state stays small.
    pub fn new(deployment: &str, stage: &str, step: Option<&str>) -> Self {
        StageKey {
            deployment: truncate(deployment, MAX_IDENTITY_CHARS),
            stage: truncate(stage, MAX_IDENTITY_CHARS),
            step: step.map(|step| truncate(step, MAX_ID_CHARS)),
        }
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

/// A stage of an ECS service deployment at which a lifecycle hook may run.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LifecycleStage {
    /// A new deployment starts while more than one revision is ACTIVE.
    ReconcileService,
    /// Green has not started; blue serves all production traffic.
    PreScaleUp,
    /// Green tasks are running; no traffic reaches them yet.
    PostScaleUp,
    /// Test traffic is moving to green.
    TestTrafficShift,
    /// Green has all test traffic.
    PostTestTrafficShift,
    /// Before each production traffic shift step.
    PreProductionTrafficShift,
    /// Production traffic is moving to green (once per LINEAR/CANARY step).
    ProductionTrafficShift,
    /// Green has all production traffic; blue still runs.
    PostProductionTrafficShift,
    /// A stage this version of greenlight does not know, kept as ECS spelled it.
    Other(String),
}

impl LifecycleStage {
    /// Every stage greenlight knows, in deployment order.
    pub const KNOWN: [LifecycleStage; 8] = [
        LifecycleStage::ReconcileService,
        LifecycleStage::PreScaleUp,
        LifecycleStage::PostScaleUp,
        LifecycleStage::TestTrafficShift,
        LifecycleStage::PostTestTrafficShift,
        LifecycleStage::PreProductionTrafficShift,
        LifecycleStage::ProductionTrafficShift,
        LifecycleStage::PostProductionTrafficShift,
    ];

    /// The stage name as ECS spells it.
    pub fn as_str(&self) -> &str {
        match self {
            LifecycleStage::ReconcileService => "RECONCILE_SERVICE",
            LifecycleStage::PreScaleUp => "PRE_SCALE_UP",
            LifecycleStage::PostScaleUp => "POST_SCALE_UP",
            LifecycleStage::TestTrafficShift => "TEST_TRAFFIC_SHIFT",
            LifecycleStage::PostTestTrafficShift => "POST_TEST_TRAFFIC_SHIFT",
            LifecycleStage::PreProductionTrafficShift => "PRE_PRODUCTION_TRAFFIC_SHIFT",
            LifecycleStage::ProductionTrafficShift => "PRODUCTION_TRAFFIC_SHIFT",
            LifecycleStage::PostProductionTrafficShift => "POST_PRODUCTION_TRAFFIC_SHIFT",
            LifecycleStage::Other(name) => name,
        }
    }

    /// Whether this is one of the stages greenlight knows.
    pub fn is_known(&self) -> bool {
        !matches!(self, LifecycleStage::Other(_))
    }

    /// The names of the known stages, for error messages and schemas.
    pub fn known_names() -> impl Iterator<Item = &'static str> {
        const NAMES: [&str; 8] = [
            "RECONCILE_SERVICE",
            "PRE_SCALE_UP",
            "POST_SCALE_UP",
            "TEST_TRAFFIC_SHIFT",
            "POST_TEST_TRAFFIC_SHIFT",
            "PRE_PRODUCTION_TRAFFIC_SHIFT",
            "PRODUCTION_TRAFFIC_SHIFT",
            "POST_PRODUCTION_TRAFFIC_SHIFT",
        ];
        NAMES.into_iter()
    }

    /// Stages that ECS re-invokes, with reversed weights, while it rolls a deployment back.
    pub fn is_reinvoked_on_rollback(&self) -> bool {
        matches!(
            self,
            LifecycleStage::TestTrafficShift | LifecycleStage::ProductionTrafficShift
        )
    }
}

impl FromStr for LifecycleStage {
    type Err = std::convert::Infallible;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Ok(LifecycleStage::KNOWN
            .into_iter()
            .find(|stage| stage.as_str() == name)
            .unwrap_or_else(|| LifecycleStage::Other(name.to_owned())))
    }
}

impl fmt::Display for LifecycleStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for LifecycleStage {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for LifecycleStage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Ok(name.parse().unwrap_or_else(|never| match never {}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_stages_round_trip_through_their_names() {
        for (stage, name) in LifecycleStage::KNOWN
            .iter()
            .zip(LifecycleStage::known_names())
        {
            assert_eq!(stage.as_str(), name);
            assert_eq!(name.parse::<LifecycleStage>().unwrap(), *stage);
        }
    }

    #[test]
    fn unknown_stage_is_preserved_verbatim() {
        let stage: LifecycleStage = serde_json::from_str("\"POST_BAKE_TIME\"").unwrap();
        assert_eq!(stage, LifecycleStage::Other("POST_BAKE_TIME".into()));
        assert!(!stage.is_known());
        assert_eq!(serde_json::to_string(&stage).unwrap(), "\"POST_BAKE_TIME\"");
    }
}
