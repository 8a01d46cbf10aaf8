//! Clocks, memory and disk readings shared by the `veille bench` parts (Linux `/proc`;
//! `None` where the system does not say), and latency percentiles.

use std::path::Path;
use std::time::Duration;

/// Seconds the calling thread has run on a CPU (`/proc/thread-self/schedstat`, ns).
pub(crate) fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(nanos as f64 / 1e9)
}

/// Seconds this process (all threads, living or ended) has run on a CPU: user + system
/// time from `/proc/self/stat`, in Linux's fixed 100 ticks per second (`USER_HZ`).
pub(crate) fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces: count fields after its closing `)`.
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After `)`: state is field 3, so utime (14) and stime (15) are at 11 and 12.
    let user: u64 = fields.get(11)?.parse().ok()?;
    let system: u64 = fields.get(12)?.parse().ok()?;
    Some((user + system) as f64 / 100.0)
}

/// A line of `/proc/self/status` in bytes (`RssAnon`, `RssFile`, `VmHWM`...).
pub(crate) fn status_bytes(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status
        .lines()
        .find(|line| line.split(':').next() == Some(key))?;
    let kilobytes: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kilobytes * 1024)
}

/// Resident memory split as the kernel counts it.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub(crate) struct Memory {
    /// Anonymous pages (heap, stacks): what the process itself allocated.
    pub(crate) rss_anon: u64,
    /// File-backed pages (the index's mmapped segment files, the binary).
    pub(crate) rss_file: u64,
}

impl Memory {
    pub(crate) fn now() -> Memory {
        Memory {
            rss_anon: status_bytes("RssAnon").unwrap_or(0),
            rss_file: status_bytes("RssFile").unwrap_or(0),
        }
    }
}

/// Highest readings seen so far.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub(crate) struct PeakMemory {
    pub(crate) rss_anon: u64,
    pub(crate) rss_file: u64,
}

impl PeakMemory {
    pub(crate) fn sample(&mut self) {
        let now = Memory::now();
        self.rss_anon = self.rss_anon.max(now.rss_anon);
        self.rss_file = self.rss_file.max(now.rss_file);
    }
}

/// Bytes of the files directly in `dir` (a tantivy index directory is flat).
pub(crate) fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.metadata().ok())
        .filter(|metadata| metadata.is_file())
        .map(|metadata| metadata.len())
        .sum()
}

/// Free bytes on the file system holding `path`, as `df` reports them.
pub(crate) fn free_disk_bytes(path: &Path) -> anyhow::Result<u64> {
    let output = std::process::Command::new("df")
        .args(["-B1", "--output=avail"])
        .arg(path)
        .output()
        .map_err(|error| anyhow::anyhow!("cannot run df: {error}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .nth(1)
        .and_then(|line| line.trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("cannot read df's answer for {}: {text}", path.display()))
}

/// p50 and p99 (nearest rank), in milliseconds, of `samples`.
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub(crate) struct Latency {
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) queries: usize,
}

pub(crate) fn latency(samples: &mut [Duration]) -> Latency {
    samples.sort_unstable();
    let rank = |share: f64| -> f64 {
        if samples.is_empty() {
            return 0.0;
        }
        let index = ((share * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1;
        samples[index].as_secs_f64() * 1e3
    };
    Latency {
        p50_ms: rank(0.50),
        p99_ms: rank(0.99),
        queries: samples.len(),
    }
}

pub(crate) fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let mut samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let measured = latency(&mut samples);
        assert_eq!(measured.p50_ms, 50.0);
        assert_eq!(measured.p99_ms, 99.0);
        assert_eq!(latency(&mut []).queries, 0);
    }

    #[test]
    fn clocks_and_memory_read_on_linux() {
        assert!(process_cpu_seconds().is_some());
        assert!(thread_cpu_seconds().is_some());
        assert!(Memory::now().rss_anon > 0);
    }
}
