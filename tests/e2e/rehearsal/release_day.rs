//! Release day in every `make test`: services deploying at once in one account whose API limits
//! are partly spent, so the buckets throttle; every good release still succeeds, and every bad one
//! is still stopped (`make release-day` runs 10, 50 and 100 at once at the documented limits).

use greenlight_sim::release_day::{run_wave, table};
use greenlight_sim::scenario::{RunOptions, Scenario};
use greenlight_sim::world::{AccountRateLimits, Undocumented};

fn scenario(name: &str) -> Scenario {
    Scenario::load(&greenlight_test_support::repository(&format!(
        "tests/scenarios/{name}.yaml"
    )))
    .expect("the scenario parses")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn good_releases_deploying_at_once_under_tight_limits_are_throttled_never_rolled_back() {
    crate::parts::require();
    let good = scenario("release-day-blue-green");
    // Half of every documented bucket (an account whose other tools spend the rest), ten services
    // starting together: their first judgements alone ask ELB for more than its burst.
    let limits = AccountRateLimits::scaled(Undocumented::Strict, 0.5);
    let wave = run_wave(&good, 10, limits, &RunOptions::default())
        .await
        .expect("the wave runs");
    let report = table(&good, &wave, &[]);
    assert_eq!(wave.runs.len(), 10);
    assert_eq!(wave.not_run(), 0, "every deployment was set up: {report}");
    assert_eq!(wave.wrong_outcomes("SUCCESSFUL"), 0, "{report}");
    assert!(wave.throttles() > 0, "the buckets throttled: {report}");
    // Each deployment's functions really called AWS, and no two copies shared a service.
    assert!(wave.runs.iter().all(|run| run.calls > 0), "{report}");
    let names: std::collections::BTreeSet<&str> =
        wave.runs.iter().map(|run| run.name.as_str()).collect();
    assert_eq!(names.len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_releases_deploying_at_once_are_each_stopped() {
    crate::parts::require();
    let bad = scenario("green-5xx-on-test-traffic");
    let wave = run_wave(
        &bad,
        3,
        AccountRateLimits::scaled(Undocumented::Strict, 0.05),
        &RunOptions::default(),
    )
    .await
    .expect("the wave runs");
    assert_eq!(wave.not_run(), 0, "{:#?}", wave.runs);
    assert_eq!(
        wave.wrong_outcomes(&bad.expect.status),
        0,
        "{:#?}",
        wave.runs
    );
}
