//! A team's own Lambda function, run in a rehearsal as Lambda runs it.
//!
//! greenlight's `lambda` check invokes a function the team wrote (a contract suite, a business
//! probe). A rehearsal runs that function's real code behind a [`LambdaHost`](crate::lambda_host::LambdaHost) and answers its
//! `Invoke` through [`crate::world::LambdaFunctions`], so the check, the function and the green
//! revision it probes all really meet. Two runtimes, as Lambda names them:
//! - `python`: a directory with the handler module and a `_HANDLER` of `module.function`, run by the
//!   rehearsal's own Runtime API loop for Python (standard library only, like a function that
//!   ships no dependencies), with the interpreter in `GREENLIGHT_PYTHON` or else `python3`;
//! - `provided`: a directory with an executable `bootstrap` speaking the Runtime API (a compiled
//!   function, as `provided.al2023` runs it).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use crate::lambda_host::FunctionSpec;

/// The Runtime API loop for Python functions, written out once per process.
const PYTHON_BOOTSTRAP: &str = include_str!("team_functions/python_bootstrap.py");

/// How Lambda runs the function's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// A Python handler module, `module.function`.
    Python,
    /// An executable `bootstrap` in the code directory.
    Provided,
}

/// A team's function: its name, code and configuration.
#[derive(Debug, Clone)]
pub struct TeamFunction {
    /// The function's name (what a check's `function` names).
    pub name: String,
    /// How its code runs.
    pub runtime: Runtime,
    /// The code directory (Lambda's `LAMBDA_TASK_ROOT`).
    pub code: PathBuf,
    /// `module.function` for Python; unused by `provided`, passed as `_HANDLER` anyway.
    pub handler: String,
    /// The function's environment variables.
    pub env: Vec<(String, String)>,
    /// The function timeout.
    pub timeout: Duration,
}

impl TeamFunction {
    /// How the Lambda host starts it, or why it cannot be started.
    pub fn function_spec(&self) -> Result<FunctionSpec, String> {
        let code = std::path::absolute(&self.code).map_err(|error| {
            format!(
                "function {}: code directory {}: {error}",
                self.name,
                self.code.display()
            )
        })?;
        if !code.is_dir() {
            return Err(format!(
                "function {}: the code directory {} does not exist",
                self.name,
                code.display()
            ));
        }
        let binary = match self.runtime {
            Runtime::Python => {
                check_python_handler(&self.name, &code, &self.handler)?;
                python_bootstrap()?
            }
            Runtime::Provided => {
                let bootstrap = code.join("bootstrap");
                if !is_executable(&bootstrap) {
                    return Err(format!(
                        "function {}: runtime provided needs an executable {}",
                        self.name,
                        bootstrap.display()
                    ));
                }
                bootstrap
            }
        };
        let mut spec = FunctionSpec::new(binary, self.name.clone());
        spec.timeout = self.timeout;
        spec.env = vec![
            ("_HANDLER".to_owned(), self.handler.clone()),
            ("LAMBDA_TASK_ROOT".to_owned(), code.display().to_string()),
            // Logs reach the host line by line, and no __pycache__ lands in the team's code.
            ("PYTHONUNBUFFERED".to_owned(), "1".to_owned()),
            ("PYTHONDONTWRITEBYTECODE".to_owned(), "1".to_owned()),
        ];
        spec.env.extend(self.env.iter().cloned());
        Ok(spec)
    }
}

/// A Python handler must be `module.function` with `module.py` in the code directory.
fn check_python_handler(name: &str, code: &Path, handler: &str) -> Result<(), String> {
    let Some((module, function)) = handler.rsplit_once('.') else {
        return Err(format!(
            "function {name}: handler {handler:?} must be module.function (e.g. contract.handler)"
        ));
    };
    if function.is_empty() {
        return Err(format!(
            "function {name}: handler {handler:?} names no function"
        ));
    }
    let file = code.join(format!("{}.py", module.replace('.', "/")));
    if !file.is_file() {
        return Err(format!(
            "function {name}: handler {handler:?} needs {}",
            file.display()
        ));
    }
    Ok(())
}

/// The Python bootstrap as an executable script whose first line names the interpreter.
fn python_bootstrap() -> Result<PathBuf, String> {
    static BOOTSTRAP: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BOOTSTRAP
        .get_or_init(|| {
            let interpreter = python_interpreter()?;
            let dir = std::env::temp_dir().join(format!(
                "greenlight-sim-python-runtime-{}",
                std::process::id()
            ));
            std::fs::create_dir_all(&dir)
                .map_err(|error| format!("cannot create {}: {error}", dir.display()))?;
            let path = dir.join("bootstrap");
            let script = format!("#!{}\n{PYTHON_BOOTSTRAP}", interpreter.display());
            std::fs::write(&path, script)
                .map_err(|error| format!("cannot write {}: {error}", path.display()))?;
            make_executable(&path)?;
            Ok(path)
        })
        .clone()
}

/// `GREENLIGHT_PYTHON` when it names a file, else `python3` on the `PATH`.
fn python_interpreter() -> Result<PathBuf, String> {
    if let Some(named) = std::env::var_os("GREENLIGHT_PYTHON").map(PathBuf::from)
        && named.is_file()
    {
        return Ok(named);
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("python3"))
        .find(|candidate| is_executable(candidate))
        .ok_or_else(|| {
            "a Python function needs python3 on the PATH (or GREENLIGHT_PYTHON)".to_owned()
        })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

fn make_executable(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|error| format!("cannot make {} executable: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn python(code: &Path, handler: &str) -> TeamFunction {
        TeamFunction {
            name: "contract".into(),
            runtime: Runtime::Python,
            code: code.to_path_buf(),
            handler: handler.into(),
            env: vec![("BASE_URL".into(), "http://127.0.0.1:1".into())],
            timeout: Duration::from_secs(3),
        }
    }

    #[test]
    fn a_python_function_runs_the_bundled_loop_with_its_handler() {
        let code = std::env::temp_dir().join(format!("greenlight-team-fn-{}", std::process::id()));
        std::fs::create_dir_all(&code).unwrap();
        std::fs::write(
            code.join("contract.py"),
            "def handler(e, c):\n    return {}\n",
        )
        .unwrap();
        let spec = python(&code, "contract.handler").function_spec().unwrap();
        let script = std::fs::read_to_string(&spec.binary).unwrap();
        assert!(script.starts_with("#!/"), "{script:.40}");
        assert!(script.contains("/invocation/next"));
        assert!(is_executable(&spec.binary));
        let env: std::collections::BTreeMap<_, _> = spec.env.into_iter().collect();
        assert_eq!(env["_HANDLER"], "contract.handler");
        assert_eq!(env["BASE_URL"], "http://127.0.0.1:1");
        assert_eq!(spec.timeout, Duration::from_secs(3));
    }

    #[test]
    fn a_missing_module_or_a_bad_handler_is_named() {
        let code =
            std::env::temp_dir().join(format!("greenlight-team-fn-e-{}", std::process::id()));
        std::fs::create_dir_all(&code).unwrap();
        let missing = python(&code, "contract.handler")
            .function_spec()
            .unwrap_err();
        assert!(missing.contains("contract.py"), "{missing}");
        let bad = python(&code, "contract").function_spec().unwrap_err();
        assert!(bad.contains("module.function"), "{bad}");
        let provided = TeamFunction {
            runtime: Runtime::Provided,
            ..python(&code, "x.y")
        }
        .function_spec()
        .unwrap_err();
        assert!(provided.contains("bootstrap"), "{provided}");
    }
}
