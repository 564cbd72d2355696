//! The gate in front of the suites that run real parts: moto (from the project's `.venv`) and the
//! function binaries. `make test` builds and installs both; a plain `cargo test` on a fresh clone has
//! neither. Without the gate every such test would fail on its own with the same message; with it
//! the suite stops at the first one with one line saying what is missing and to run `make test`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, PoisonError};

/// Something a suite runs that the build does not make by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// A Python interpreter that can `import moto`.
    Moto {
        /// The interpreter (`GREENLIGHT_PYTHON`, else the project's `.venv/bin/python`).
        python: PathBuf,
    },
    /// A function binary cargo builds (`make functions` builds the release ones).
    Binary {
        /// Where the tests look for it.
        path: PathBuf,
    },
}

impl Part {
    fn missing(&self) -> Option<String> {
        match self {
            Part::Moto { python } if !python.exists() => {
                Some(format!("moto (no interpreter at {})", python.display()))
            }
            Part::Moto { python } if !imports_moto(python) => {
                Some(format!("moto (not importable by {})", python.display()))
            }
            Part::Binary { path } if !path.is_file() => Some(path.display().to_string()),
            _ => None,
        }
    }
}

fn imports_moto(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", "import moto"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// The one line that says what is missing, or `None` when every part is there.
pub fn missing_line(parts: &[Part]) -> Option<String> {
    let missing: Vec<String> = parts.iter().filter_map(Part::missing).collect();
    (!missing.is_empty()).then(|| {
        format!(
            "these tests need what `make test` builds and installs; missing: {}. Run `make test` \
             (or `make functions moto`, then `GREENLIGHT_FUNCTION_PROFILE=release cargo test`)",
            missing.join(", ")
        )
    })
}

/// Checks each of `parts` once per test binary; when one is missing, prints the line and ends the
/// process with exit code 1 (every other test needing it would fail the same way). A part found
/// present is not looked at again.
pub fn require(parts: &[Part]) {
    static PRESENT: Mutex<Vec<Part>> = Mutex::new(Vec::new());
    // Held while checking, so that tests starting together check once and the rest wait.
    let mut present = PRESENT.lock().unwrap_or_else(PoisonError::into_inner);
    let unchecked: Vec<Part> = parts
        .iter()
        .filter(|part| !present.contains(part))
        .cloned()
        .collect();
    if let Some(line) = missing_line(&unchecked) {
        // Straight to the process's stderr: `eprintln!` inside a test is captured, and the capture
        // is lost when the process exits.
        let _ = writeln!(std::io::stderr(), "\n{line}\n");
        std::process::exit(1);
    }
    present.extend(unchecked);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_that_are_there_pass() {
        let here = std::env::current_exe().expect("the test binary");
        assert_eq!(missing_line(&[Part::Binary { path: here }]), None);
    }

    #[test]
    fn the_line_names_every_missing_part_and_make_test() {
        let line = missing_line(&[
            Part::Binary {
                path: PathBuf::from("/nowhere/pre-scale-up"),
            },
            Part::Moto {
                python: PathBuf::from("/nowhere/python"),
            },
        ])
        .expect("both are missing");
        assert!(line.contains("/nowhere/pre-scale-up"), "{line}");
        assert!(
            line.contains("moto (no interpreter at /nowhere/python)"),
            "{line}"
        );
        assert!(line.contains("`make test`"), "{line}");
        assert!(!line.contains('\n'), "one line: {line}");
    }

    #[test]
    fn an_interpreter_without_moto_is_missing_moto() {
        // `sh -c "import moto"` fails: an interpreter that runs but has no moto.
        let line = missing_line(&[Part::Moto {
            python: PathBuf::from("/bin/sh"),
        }])
        .expect("missing");
        assert!(line.contains("moto (not importable by /bin/sh)"), "{line}");
    }
}
