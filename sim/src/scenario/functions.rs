//! A scenario's `functions:`: the team's own Lambda functions its `lambda` checks invoke.
//!
//! Each is started behind a [`LambdaHost`] once the load balancer listens, with its environment's
//! placeholders filled in (`{test_listener_url}`, `{production_listener_url}`: where the function
//! reaches the service, as a team would configure its own URLs), and registered with the world so
//! that the functions' `Invoke` calls through the local endpoint run it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::lambda_host::LambdaHost;
use crate::team_functions::{Runtime, TeamFunction};
use crate::world::World;

/// A team's function, as the scenario writes it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionSpec {
    /// The function's name: what a `lambda` check's `function` names.
    pub name: String,
    /// `python` (a handler module) or `provided` (an executable `bootstrap`).
    pub runtime: RuntimeSpec,
    /// The code directory, relative to the scenario file.
    pub code: PathBuf,
    /// `module.function`, for `python`.
    #[serde(default)]
    pub handler: Option<String>,
    /// The function timeout (`10s`); Lambda's default is 3 seconds.
    #[serde(default = "default_timeout", with = "duration_text")]
    pub timeout: Duration,
    /// Environment variables; `{test_listener_url}` and `{production_listener_url}` are filled in.
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
}

/// The runtime, as Lambda names its families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeSpec {
    /// Python 3, the handler run by the rehearsal's Python runtime loop.
    Python,
    /// An executable `bootstrap` speaking the Runtime API.
    Provided,
}

fn default_timeout() -> Duration {
    Duration::from_secs(3)
}

/// `timeout: 10s` in the scenario, read with humantime.
mod duration_text {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        humantime::parse_duration(&text).map_err(|error| {
            serde::de::Error::custom(format!(
                "{text:?} is not a duration ({error}); write e.g. 10s or 1m"
            ))
        })
    }
}

/// Where the functions reach the service.
#[derive(Debug, Clone)]
pub struct ServiceUrls {
    /// The test listener, `http://127.0.0.1:<port>`.
    pub test_listener: String,
    /// The production listener.
    pub production_listener: String,
}

/// The checks serde cannot make: unique names, a handler where one is needed.
pub fn validate(functions: &[FunctionSpec], hook_functions: &[String]) -> Result<(), String> {
    let mut seen = Vec::new();
    for (index, function) in functions.iter().enumerate() {
        let at = format!("functions[{index}]");
        if function.name.is_empty() {
            return Err(format!("{at}.name: must not be empty"));
        }
        if seen.contains(&function.name) {
            return Err(format!(
                "{at}.name: {:?} is named twice; function names are unique",
                function.name
            ));
        }
        if hook_functions.contains(&function.name) {
            return Err(format!(
                "{at}.name: {:?} is a hook function of the deployment; a team function needs its own name",
                function.name
            ));
        }
        seen.push(function.name.clone());
        match (function.runtime, &function.handler) {
            (RuntimeSpec::Python, None) => {
                return Err(format!(
                    "{at}.handler: a python function needs module.function (e.g. contract.handler)"
                ));
            }
            (RuntimeSpec::Provided, Some(_)) => {
                return Err(format!(
                    "{at}.handler: a provided function runs its bootstrap; remove handler"
                ));
            }
            _ => {}
        }
        if function.timeout.is_zero() || function.timeout > Duration::from_secs(900) {
            return Err(format!(
                "{at}.timeout: must be between 1s and 15m, as Lambda allows"
            ));
        }
    }
    Ok(())
}

/// Starts each function behind its own host and registers it with `world`; the hosts live as long
/// as the returned handles.
pub async fn start(
    functions: &[FunctionSpec],
    scenario_dir: &Path,
    urls: &ServiceUrls,
    world: &World,
) -> Result<Vec<Arc<LambdaHost>>, String> {
    let mut hosts = Vec::new();
    for function in functions {
        let team_function = TeamFunction {
            name: function.name.clone(),
            runtime: match function.runtime {
                RuntimeSpec::Python => Runtime::Python,
                RuntimeSpec::Provided => Runtime::Provided,
            },
            code: scenario_dir.join(&function.code),
            handler: function.handler.clone().unwrap_or_default(),
            env: function
                .environment
                .iter()
                .map(|(key, value)| (key.clone(), fill_placeholders(value, urls)))
                .collect(),
            timeout: function.timeout,
        };
        let spec = team_function.function_spec()?;
        let host = LambdaHost::start(spec)
            .await
            .map_err(|error| format!("function {}: {error}", function.name))?;
        let host = Arc::new(host);
        world
            .lambda_functions()
            .add(&function.name, Arc::clone(&host));
        hosts.push(host);
    }
    Ok(hosts)
}

fn fill_placeholders(value: &str, urls: &ServiceUrls) -> String {
    value
        .replace("{test_listener_url}", &urls.test_listener)
        .replace("{production_listener_url}", &urls.production_listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn python(name: &str) -> FunctionSpec {
        FunctionSpec {
            name: name.into(),
            runtime: RuntimeSpec::Python,
            code: "functions/x".into(),
            handler: Some("x.handler".into()),
            timeout: Duration::from_secs(10),
            environment: BTreeMap::new(),
        }
    }

    #[test]
    fn names_handlers_and_timeouts_are_checked() {
        assert_eq!(validate(&[python("a"), python("b")], &[]), Ok(()));
        let twice = validate(&[python("a"), python("a")], &[]).unwrap_err();
        assert!(twice.starts_with("functions[1].name"), "{twice}");
        let hook = validate(&[python("test-traffic")], &["test-traffic".into()]).unwrap_err();
        assert!(hook.contains("hook function"), "{hook}");
        let no_handler = validate(
            &[FunctionSpec {
                handler: None,
                ..python("a")
            }],
            &[],
        )
        .unwrap_err();
        assert!(
            no_handler.starts_with("functions[0].handler"),
            "{no_handler}"
        );
        let too_long = validate(
            &[FunctionSpec {
                timeout: Duration::from_secs(901),
                ..python("a")
            }],
            &[],
        )
        .unwrap_err();
        assert!(too_long.starts_with("functions[0].timeout"), "{too_long}");
    }

    #[test]
    fn the_listener_placeholders_are_filled_in() {
        let urls = ServiceUrls {
            test_listener: "http://127.0.0.1:9001".into(),
            production_listener: "http://127.0.0.1:9000".into(),
        };
        assert_eq!(
            fill_placeholders("{test_listener_url}/orders", &urls),
            "http://127.0.0.1:9001/orders"
        );
        assert_eq!(
            fill_placeholders("{production_listener_url}", &urls),
            "http://127.0.0.1:9000"
        );
        assert_eq!(fill_placeholders("plain", &urls), "plain");
    }
}
