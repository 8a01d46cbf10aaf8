//! Builds each configured source and starts it on its own task, resuming from the
//! checkpoint the last index commit holds for it.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context;
use collector::replay::{Replay, ReplayConfig};
use collector::runner::run_source;
use collector::{Batch, Checkpoint, SourceStats};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::PipelineStats;
use super::collectors;
use super::health::SourceState;
use crate::config::{ReplayFiles, SourceConfig, Speedup};
use crate::fixtures;

/// Starts one task per configured source.
pub(super) fn spawn_all(
    sources: &[SourceConfig],
    brands: &[nlp::Brand],
    checkpoints: &BTreeMap<String, Checkpoint>,
    out: mpsc::Sender<Batch>,
    stop: &CancellationToken,
    stats: &Arc<PipelineStats>,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    let mut tasks = Vec::with_capacity(sources.len());
    for source in sources {
        let name = source.name().to_string();
        let resume = checkpoints.get(&name);
        let source_stats = Arc::new(SourceStats::default());
        let label = match source {
            SourceConfig::Replay(_) => "replay",
            SourceConfig::Network(network) => network.kind().as_str(),
        };
        let state = stats.register_source(&name, label, Arc::clone(&source_stats));
        match source {
            SourceConfig::Replay(replay) => {
                let files = match &replay.files {
                    ReplayFiles::Dir(dir) => {
                        collector::replay::load_dir(dir).with_context(|| {
                            format!("source `{name}`: cannot read {}", dir.display())
                        })?
                    }
                    ReplayFiles::Embedded => fixtures::replay_files(),
                };
                let config = ReplayConfig {
                    name: name.clone(),
                    files,
                    speedup: match replay.speedup {
                        Speedup::Factor(factor) => Some(factor),
                        Speedup::Max => None,
                    },
                    loop_forever: replay.loop_forever,
                    batch_size: replay.batch_size,
                };
                let replay_source = Replay::new(config, resume, Arc::clone(&source_stats))
                    .with_context(|| format!("cannot start source `{name}`"))?;
                tracing::info!(source = %name, resumed = resume.is_some(), "source started");
                tasks.push(tokio::spawn(supervise(
                    name,
                    run_source(replay_source, out.clone(), stop.clone(), source_stats),
                    state,
                )));
            }
            SourceConfig::Network(network) => {
                let run = collectors::build(
                    network,
                    brands,
                    resume,
                    &source_stats,
                    out.clone(),
                    stop.clone(),
                )?;
                tracing::info!(source = %name, kind = %network.kind(), resumed = resume.is_some(), "source started");
                tasks.push(tokio::spawn(supervise(name, run, state)));
            }
        }
    }
    Ok(tasks)
}

async fn supervise(
    name: String,
    run: impl Future<Output = Result<(), collector::CollectError>>,
    state: Arc<SourceState>,
) {
    match run.await {
        Ok(()) => {
            tracing::info!(source = %name, "source finished");
            state.set_finished();
        }
        Err(error) => {
            tracing::error!(source = %name, error = %error, "source stopped");
            state.set_failed(error.to_string());
        }
    }
}
