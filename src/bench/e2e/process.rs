//! The pipeline under test in `veille bench e2e`: `veille run` in a child process (the same
//! binary), on a temporary data directory and a configuration whose only source is the X
//! collector pointed at the load generator; its dashboard accounts and API tokens are
//! created in the data directory before it starts, as `veille user add/token` would.
//!
//! Running the pipeline in its own process keeps its memory apart from the generator's and
//! the clients': `RssAnon` and `RssFile` are read from `/proc/<pid>/status`.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use dashboard::auth::{UserStore, generate_password};
use index::Store;

use crate::config::{self, Origin};

/// The environment variable the child reads the generator's bearer token from.
const TOKEN_VAR: &str = "VEILLE_BENCH_X_TOKEN";
/// How long the child may take to print its dashboard address.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The benchmark's configuration: one brand, the sample's topic axis, two teams, one rule
/// for the care team and the X source on the generator.
const CONFIG: &str = r##"
data-dir = "{DATA_DIR}"

[dashboard]
listen = "127.0.0.1:0"
secure-cookies = false

[[brands]]
name = "Lumio"
aliases = ["lumio"]
handles = ["@lumio"]
hashtags = ["#lumio"]

[sentiment]
model = "builtin"

[[axes]]
name = "topic"

[[axes.categories]]
name = "outage"
keywords = ["outage", "down", "no signal", "no service", "not working"]

[[axes.categories]]
name = "billing"
keywords = ["bill", "billing", "invoice", "charge", "refund"]

[[teams]]
name = "care"
role = "member"
members = ["bench-care"]

[[teams]]
name = "managers"
role = "manager"
members = ["bench-manager"]

[[rules]]
name = "unhappy-outage"
when = "sentiment = negative and topic = outage"
team = "care"
severity = "high"

[[sources]]
name = "x"
kind = "x"
base-url = "{BASE_URL}"
bearer-token-env = "VEILLE_BENCH_X_TOKEN"
"##;

/// API tokens of the benchmark's accounts.
pub(super) struct Tokens {
    /// A member of `care` (receives that team's alerts and routed posts).
    pub(super) care: String,
    /// A manager (search, health).
    pub(super) manager: String,
}

/// Writes the config in `dir` and creates the accounts; the config path and tokens.
pub(super) fn prepare(dir: &Path, generator: SocketAddr) -> anyhow::Result<(PathBuf, Tokens)> {
    let data_dir = dir.join("data");
    let text = CONFIG
        .replace("{DATA_DIR}", &data_dir.display().to_string())
        .replace("{BASE_URL}", &format!("http://{generator}"));
    let path = dir.join("bench.toml");
    std::fs::write(&path, &text).with_context(|| format!("cannot write {}", path.display()))?;
    let config = config::load_str(&text, &Origin::File(path.clone()))
        .map_err(|errors| anyhow::anyhow!("the bench config is invalid: {errors}"))?;
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create {}", config.data_dir.display()))?;
    let store =
        Store::open(&config.data_dir.join("state.redb")).context("cannot open the store")?;
    let users = UserStore::new(store);
    let mut tokens = Vec::new();
    for name in ["bench-care", "bench-manager"] {
        users.add(name, &generate_password()?, &[])?;
        tokens.push(users.issue_token(name)?);
    }
    let manager = tokens.pop().context("no manager token")?;
    let care = tokens.pop().context("no care token")?;
    Ok((path, Tokens { care, manager }))
}

/// The running `veille run`.
pub(super) struct Pipeline {
    child: Child,
    pub(super) address: SocketAddr,
}

impl Pipeline {
    /// Starts `veille run --config CONFIG --listen 127.0.0.1:0` and waits for its address.
    pub(super) fn start(config: &Path, x_token: &str) -> anyhow::Result<Pipeline> {
        let exe = std::env::current_exe().context("cannot find the veille executable")?;
        let mut child = Command::new(exe)
            .args(["run", "--config"])
            .arg(config)
            .args(["--listen", "127.0.0.1:0"])
            .env(TOKEN_VAR, x_token)
            .env(
                "RUST_LOG",
                std::env::var("VEILLE_BENCH_LOG").unwrap_or_else(|_| "warn".to_owned()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot start `veille run`")?;
        let stdout = child.stdout.take().context("no stdout from `veille run`")?;
        let (found, address) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if !sent && let Some(rest) = line.strip_prefix("dashboard: http://") {
                    let _ = found.send(rest.trim().to_owned());
                    sent = true;
                }
            }
        });
        let address = match address.recv_timeout(START_TIMEOUT) {
            Ok(address) => address,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                bail!("`veille run` did not print its dashboard address");
            }
        };
        let address = address
            .parse()
            .with_context(|| format!("`veille run` printed a bad address `{address}`"))?;
        Ok(Pipeline { child, address })
    }

    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Asks for a clean stop (SIGTERM: collectors stop, final commit) and waits; returns how
    /// long it took.
    pub(super) fn stop(mut self) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .context("cannot run `kill`")?;
        if !status.success() {
            bail!("`kill -TERM` failed");
        }
        let exit = self.child.wait().context("cannot wait for `veille run`")?;
        if !exit.success() {
            bail!("`veille run` exited with {exit}");
        }
        Ok(started.elapsed())
    }
}

impl Drop for Pipeline {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `RssAnon` and `RssFile` of a process, in bytes (Linux `/proc/<pid>/status`).
pub(super) fn memory(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = status.lines().find(|line| line.starts_with(name))?;
        let kilobytes: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kilobytes * 1024)
    };
    Some((field("RssAnon:")?, field("RssFile:")?))
}

/// CPU time (user + system) a process used so far, from `/proc/<pid>/stat`.
pub(super) fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after ')'.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // The kernel's USER_HZ is 100 on every Linux this runs on.
    Some(ticks as f64 / 100.0)
}
