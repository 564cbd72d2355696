//! A short campaign in every `make test`: a good, a bad, a CodeDeploy and a secret-header scenario,
//! each under two seeds of random faults, and greenlight's promises hold on every run (no secret
//! value in any log line among them); `make campaign` runs the whole library with more seeds.

use greenlight_sim::campaign::{run_campaign, table};
use greenlight_sim::scenario::{RunOptions, Scenario};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_campaign_under_seeded_faults_breaks_no_invariant() {
    crate::parts::require();
    let scenarios: Vec<Scenario> = [
        "good-blue-green",
        "green-5xx-on-test-traffic",
        "codedeploy-good",
        "secret-headers",
    ]
    .iter()
    .map(|name| {
        Scenario::load(&greenlight_test_support::repository(&format!(
            "tests/scenarios/{name}.yaml"
        )))
        .expect("the scenario parses")
    })
    .collect();
    let runs = run_campaign(&scenarios, 1, 2, 2, &RunOptions::default(), |_| {}).await;
    assert_eq!(runs.len(), 8);
    // Faults were layered on every run.
    assert!(runs.iter().all(|run| !run.faults.is_empty()));
    let broken: Vec<_> = runs.iter().filter(|run| !run.breaks.is_empty()).collect();
    assert!(broken.is_empty(), "{}", table(&runs));
    // The bad green never passed.
    assert!(
        runs.iter()
            .filter(|run| run.scenario == "green-5xx-on-test-traffic")
            .all(|run| run.final_status == "ROLLBACK_SUCCESSFUL"),
        "{}",
        table(&runs)
    );
}
