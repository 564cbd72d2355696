//! The release arm64 zips `make package` builds: their sizes, or why there are none.

use std::path::Path;
use std::time::SystemTime;

use serde::Serialize;

/// Every function `make package` zips.
pub const PACKAGED: &[&str] = &[
    "pre-scale-up",
    "post-scale-up",
    "test-traffic",
    "production-traffic",
    "codedeploy-hook",
];

/// One function's zip.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Zip {
    /// The function.
    pub function: String,
    /// Its size in bytes, when built.
    pub bytes: Option<u64>,
    /// How old the zip is, in minutes (a zip older than the code measures an older build).
    pub age_minutes: Option<u64>,
    /// Why there is no size.
    pub note: Option<String>,
}

/// The zips under `dir` (`target/lambda`), one per packaged function.
pub fn measure(dir: &Path) -> Vec<Zip> {
    PACKAGED
        .iter()
        .map(|function| {
            let path = dir.join(function).join("bootstrap.zip");
            match std::fs::metadata(&path) {
                Ok(metadata) => Zip {
                    function: (*function).to_owned(),
                    bytes: Some(metadata.len()),
                    age_minutes: metadata
                        .modified()
                        .ok()
                        .and_then(|modified| SystemTime::now().duration_since(modified).ok())
                        .map(|age| age.as_secs() / 60),
                    note: None,
                },
                Err(_) => Zip {
                    function: (*function).to_owned(),
                    bytes: None,
                    age_minutes: None,
                    note: Some(format!(
                        "not built (run make package, or make bench BENCH_PACKAGE=1): no {}",
                        path.display()
                    )),
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_zip_says_how_to_build_it() {
        let zips = measure(Path::new("/nonexistent/lambda"));
        assert_eq!(zips.len(), PACKAGED.len());
        for zip in zips {
            assert_eq!(zip.bytes, None);
            assert!(zip.note.expect("a note").contains("make package"));
        }
    }

    #[test]
    fn a_present_zip_is_measured() {
        let dir =
            std::env::temp_dir().join(format!("greenlight-bench-zips-{}", std::process::id()));
        let function_dir = dir.join("post-scale-up");
        std::fs::create_dir_all(&function_dir).expect("dir");
        std::fs::write(function_dir.join("bootstrap.zip"), vec![0u8; 1234]).expect("zip");
        let zips = measure(&dir);
        let zip = zips
            .iter()
            .find(|zip| zip.function == "post-scale-up")
            .expect("measured");
        assert_eq!(zip.bytes, Some(1234));
        assert_eq!(zip.age_minutes, Some(0));
        std::fs::remove_dir_all(&dir).expect("cleaned up");
    }
}
