//! The fixtures under `tests/support/fixtures/`: `events/` (ECS lifecycle hook and CodeDeploy hook
//! payloads as the services send them), `config/` (configs with one or many mistakes), `logs/` (lines
//! the function binaries printed) and `functions/` (a team function's code).

use std::path::PathBuf;

use serde_json::Value;

/// A fixture's path, from the fixtures folder (`events/ecs-post-scale-up.json`).
pub fn path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(relative)
}

/// The fixtures of one folder (`events`, `config`), sorted by name.
pub fn files(folder: &str) -> Vec<PathBuf> {
    let dir = path(folder);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

/// A recorded event, parsed (`ecs-post-scale-up.json`, `codedeploy-hook.json`).
pub fn event(name: &str) -> Value {
    let path = path(&format!("events/{name}"));
    serde_json::from_str(&crate::read(&path))
        .unwrap_or_else(|error| panic!("{}: not JSON: {error}", path.display()))
}

/// A recorded event's raw text, for tests of the parser itself.
pub fn event_text(name: &str) -> String {
    crate::read(&path(&format!("events/{name}")))
}

/// A config fixture's path (`broken.yaml`).
pub fn config(name: &str) -> PathBuf {
    path(&format!("config/{name}"))
}

/// The lines a function printed, kept as a fixture (`test-traffic-rollback.jsonl`).
pub fn log_lines(name: &str) -> Vec<String> {
    crate::read(&path(&format!("logs/{name}")))
        .lines()
        .map(str::to_owned)
        .collect()
}

/// A team function's code folder (`probe`).
pub fn team_function(name: &str) -> PathBuf {
    path(&format!("functions/{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_folder_has_fixtures_and_every_event_parses() {
        for folder in ["events", "config", "logs"] {
            assert!(!files(folder).is_empty(), "no fixtures in {folder}");
        }
        for file in files("events") {
            let name = file
                .file_name()
                .and_then(|name| name.to_str())
                .expect("a name");
            assert!(event(name).is_object(), "{name} is not a JSON object");
        }
        assert!(team_function("probe").is_dir());
    }

    #[test]
    #[should_panic(expected = "no-such-event.json")]
    fn a_missing_fixture_is_named() {
        event("no-such-event.json");
    }
}
