//! Turns a config's stage plan into runnable checks.
//!
//! The config says which checks run at a stage and with what policy ([`StagePlanSpec`]); each check
//! kind's module builds its runnable [`Check`](greenlight_core::engine::Check) from its params and the invocation's [`CheckDeps`].
//! Building makes no call: checks gather their evidence when the engine runs them. Metric checks
//! register their queries with [`CheckDeps::metric_data`] as they are built, so that one
//! `GetMetricData` serves the whole stage; that is why a plan is built from fresh deps
//! ([`CheckDeps::new`]) for every invocation.

use greenlight_core::platform::Platform;
use std::sync::Arc;

use greenlight_core::config::StagePlanSpec;
use greenlight_core::engine::{Plan, PlannedCheck};
use greenlight_core::facts::Facts;

use crate::checks::{self, CheckDeps, metric_data::MetricData};
use crate::clients::AwsClients;

impl CheckDeps {
    /// The deps of one invocation: its facts, the shared clients and HTTP client, and an empty set
    /// of metric queries for the stage's checks to register with.
    /// The platform's rules are read from the function's environment ([`Platform::from_env`]).
    pub fn new(facts: Arc<dyn Facts>, clients: AwsClients, http: reqwest::Client) -> Self {
        let metric_data = Arc::new(MetricData::new(clients.cloudwatch.clone()));
        CheckDeps {
            facts,
            clients,
            http,
            metric_data,
            platform: Arc::new(Platform::from_env()),
        }
    }

    /// The same deps under other platform rules.
    pub fn with_platform(mut self, platform: Platform) -> Self {
        self.platform = Arc::new(platform);
        self
    }
}

/// The runnable plan of a stage: one check per entry of `spec`, in config order, with its id and
/// policy.
pub fn build_plan(spec: &StagePlanSpec, deps: &CheckDeps) -> Plan {
    Plan {
        bake: spec.bake,
        interval: spec.interval,
        checks: spec
            .checks
            .iter()
            .map(|check| PlannedCheck {
                id: check.id.clone(),
                policy: check.policy,
                check: checks::build_check(&check.kind, deps),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use aws_config::{BehaviorVersion, Region, SdkConfig};
    use greenlight_core::LifecycleStage;
    use greenlight_core::config::{Config, ConfigFormat, ConfigSource};
    use greenlight_core::facts::{ServiceIdentity, StaticFacts};
    use greenlight_core::policy::Mode;

    use super::*;

    /// Deps whose clients would fail if called; building a plan must not call them.
    fn deps() -> CheckDeps {
        let config = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-west-2"))
            .build();
        let facts = StaticFacts::new(ServiceIdentity {
            partition: "aws".into(),
            region: "us-west-2".into(),
            account: "123456789012".into(),
            cluster: "web-cluster".into(),
            service: "web".into(),
            service_arn: "arn:aws:ecs:us-west-2:123456789012:service/web-cluster/web".into(),
        });
        CheckDeps::new(
            Arc::new(facts),
            AwsClients::from_conf(&config),
            reqwest::Client::new(),
        )
    }

    const CONFIG: &str = r#"
version: 1
stages:
  PRODUCTION_TRAFFIC_SHIFT:
    bake: 5m
    interval: 20s
    checks:
      - alarms: { prefix: web-, mode: advisory }
      - alarms: { names: [web-latency] }
      - compare: { metric: error_rate, max_increase: 0.5pp, min_requests: 200, timeout: 20s }
      - metric:
          namespace: AWS/ApplicationELB
          name: HTTPCode_Target_5XX_Count
          stat: Sum
          dimensions: { TargetGroup: "{green.target_group}", LoadBalancer: "{load_balancer}" }
          max: 5
      - lambda: { function: "arn:aws:lambda:us-west-2:123456789012:function:team-contract-tests", name: contract }
      - tasks
      - target_health: { group: green }
      - routing: { listener: production }
      - http: { target: url, url: "https://green.example.com/health" }
"#;

    /// Every kind of the core's registry has a builder here, and it builds that kind: each
    /// documented example, in a config of its own, becomes a check whose `kind()` is the example's.
    #[test]
    fn every_registered_kind_builds_a_check_of_its_own_kind() {
        let deps = deps();
        let mut built = Vec::new();
        for doc in greenlight_core::checks::DOCS {
            let mut lines = doc.example.trim().lines();
            let mut entry = format!("      - {}\n", lines.next().unwrap_or_default());
            for line in lines {
                entry.push_str(&format!("        {line}\n"));
            }
            let text =
                format!("version: 1\nstages:\n  PRODUCTION_TRAFFIC_SHIFT:\n    checks:\n{entry}");
            let config = Config::parse(&text, ConfigFormat::Yaml, ConfigSource::Inline)
                .unwrap_or_else(|errors| panic!("{}'s example:\n{text}\n{errors}", doc.kind));
            let spec = config
                .stage_plan(&LifecycleStage::ProductionTrafficShift)
                .expect("a plan");
            let plan = build_plan(&spec, &deps);
            assert_eq!(plan.checks.len(), 1, "{}", doc.kind);
            assert_eq!(plan.checks[0].check.kind(), doc.kind);
            built.push(doc.kind);
        }
        let registered: Vec<&str> = greenlight_core::checks::CheckKind::names().collect();
        assert_eq!(built, registered);
    }

    #[test]
    fn a_plan_has_one_check_per_spec_with_its_id_policy_and_kind() {
        let config = Config::parse(CONFIG, ConfigFormat::Yaml, ConfigSource::Inline)
            .expect("a valid config");
        let spec = config
            .stage_plan(&LifecycleStage::ProductionTrafficShift)
            .expect("a plan");
        let plan = build_plan(&spec, &deps());

        assert_eq!(plan.bake, Some(Duration::from_secs(300)));
        assert_eq!(plan.interval, Duration::from_secs(20));
        let built: Vec<(&str, &str)> = plan
            .checks
            .iter()
            .map(|planned| (planned.id.as_str(), planned.check.kind()))
            .collect();
        assert_eq!(
            built,
            vec![
                ("alarms", "alarms"),
                ("alarms#2", "alarms"),
                ("compare", "compare"),
                ("metric", "metric"),
                ("contract", "lambda"),
                ("tasks", "tasks"),
                ("target_health", "target_health"),
                ("routing", "routing"),
                ("http", "http"),
            ]
        );
        for (planned, spec) in plan.checks.iter().zip(&spec.checks) {
            assert_eq!(planned.policy, spec.policy, "{}", planned.id);
        }
        assert_eq!(plan.checks[0].policy.mode, Mode::Advisory);
        assert_eq!(plan.checks[1].policy.mode, Mode::Enforce);
        assert_eq!(plan.checks[2].policy.timeout, Duration::from_secs(20));
    }

    #[test]
    fn every_kind_of_the_builtin_plans_builds() {
        let config = Config::builtin().expect("the built-in plans");
        for stage in LifecycleStage::KNOWN {
            let Some(spec) = config.stage_plan(&stage) else {
                continue;
            };
            let plan = build_plan(&spec, &deps());
            let kinds: Vec<&str> = plan.checks.iter().map(|c| c.check.kind()).collect();
            let expected: Vec<&str> = spec.checks.iter().map(|c| c.kind.name()).collect();
            assert_eq!(kinds, expected, "{}", stage.as_str());
        }
    }
}
