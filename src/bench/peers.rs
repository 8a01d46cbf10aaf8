//! Runs a peer (another tool measured on the same posts in the same run) from the Python
//! scripts of `bench/peers/`: the script prints one JSON object on stdout, its progress on
//! stderr (passed through). A missing `python3` or module is a skip with its reason,
//! never an error of the benchmark: the reason is printed and lands in the JSON.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What a peer run gave.
pub(crate) enum PeerRun {
    Measured(serde_json::Value),
    Skipped(String),
}

impl PeerRun {
    /// The JSON for the report: the figures, or `{"skipped": reason}`.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        match self {
            PeerRun::Measured(value) => value.clone(),
            PeerRun::Skipped(reason) => serde_json::json!({ "skipped": reason }),
        }
    }

    pub(crate) fn figures(&self) -> Option<&serde_json::Value> {
        match self {
            PeerRun::Measured(value) => Some(value),
            PeerRun::Skipped(_) => None,
        }
    }
}

/// `bench/peers/` of the source tree this binary was built from, unless `--peers-dir`
/// says otherwise.
pub(crate) fn default_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/peers")
}

/// Checks that `python3` can import `modules`; the reason to skip otherwise.
fn check_modules(modules: &[&str]) -> Result<(), String> {
    let probe = format!("import {}", modules.join(", "));
    match Command::new("python3")
        .args(["-c", &probe])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
    {
        Err(error) => Err(format!("python3 cannot run: {error}")),
        Ok(output) if !output.status.success() => Err(format!(
            "python3 cannot import {} (install: python3 -m pip install scikit-learn): {}",
            modules.join(", "),
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .last()
                .unwrap_or("")
        )),
        Ok(_) => Ok(()),
    }
}

/// Runs `script` (in `dir`) with `args`, one thread for numeric libraries so its figures
/// are per core like ours.
pub(crate) fn run(dir: &Path, script: &str, modules: &[&str], args: &[String]) -> PeerRun {
    let path = dir.join(script);
    if !path.is_file() {
        return skipped(format!("{} is missing", path.display()));
    }
    if let Err(reason) = check_modules(modules) {
        return skipped(reason);
    }
    let output = Command::new("python3")
        .arg(&path)
        .args(args)
        .env("OMP_NUM_THREADS", "1")
        .env("OPENBLAS_NUM_THREADS", "1")
        .env("MKL_NUM_THREADS", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output();
    let output = match output {
        Ok(output) => output,
        Err(error) => return skipped(format!("python3 {script} cannot run: {error}")),
    };
    if !output.status.success() {
        return skipped(format!("python3 {script} failed ({})", output.status));
    }
    match serde_json::from_slice(&output.stdout) {
        Ok(value) => PeerRun::Measured(value),
        Err(error) => skipped(format!("python3 {script} printed no JSON object: {error}")),
    }
}

fn skipped(reason: String) -> PeerRun {
    eprintln!("peer skipped: {reason}");
    PeerRun::Skipped(reason)
}

/// `ours / theirs`, when both are there and theirs is not zero.
pub(crate) fn ratio(ours: f64, theirs: Option<f64>) -> Option<f64> {
    theirs
        .filter(|theirs| *theirs > 0.0)
        .map(|theirs| ours / theirs)
}

/// A number at a JSON path of a peer's figures.
pub(crate) fn number(peer: &PeerRun, path: &[&str]) -> Option<f64> {
    let mut value = peer.figures()?;
    for key in path {
        value = value.get(key)?;
    }
    value.as_f64()
}

/// A ratio for a table cell.
pub(crate) fn show_ratio(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| "-".to_owned(), |ratio| format!("{ratio:.2}x"))
}
