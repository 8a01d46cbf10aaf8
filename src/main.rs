//! The `veille` command line: `demo`, `run`, the NATS roles (`collect`, `analyse`, `index`,
//! `serve`), `check`, `train`, `eval`, `bench` and `user`. Thin: it parses arguments, loads
//! the configuration and hands over to [`veille::pipeline`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;
use veille::config::{self, Config, Origin};
use veille::pipeline::nats::Role;
use veille::{bench, fixtures, pipeline, users};

mod nats_roles;

/// mimalloc instead of the system allocator: see `docs/PERFORMANCE.md` ("Allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Transparent huge pages off for this process: the allocator hands freed memory back to
/// the system and takes it again as segments and batches come and go, and each time a huge
/// page costs a 2 MiB fault and zeroing. Measured in `docs/PERFORMANCE.md` ("Transparent
/// huge pages"): same throughput, ~100 MiB less anonymous memory.
fn disable_transparent_huge_pages() {
    match rustix::thread::disable_transparent_huge_pages(true) {
        Ok(()) => tracing::debug!("transparent huge pages disabled for this process"),
        Err(error) => {
            tracing::debug!(%error, "transparent huge pages left as the system sets them");
        }
    }
}

#[derive(Parser)]
#[command(name = "veille", version, about = "Real-time social-media listening")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Replays the built-in fixtures through the whole pipeline and opens the dashboard,
    /// with a temporary data directory.
    Demo {
        /// Dashboard address (port 0 picks a free port).
        #[arg(long, default_value = config::DEFAULT_LISTEN)]
        listen: SocketAddr,
    },
    /// Runs the pipeline on a configuration file.
    Run {
        #[arg(long)]
        config: PathBuf,
        /// Dashboard address, overriding `dashboard.listen` (port 0 picks a free port).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Runs every role in this process but joins them through NATS JetStream at URL.
        #[arg(long, value_name = "URL")]
        nats: Option<String>,
    },
    /// Runs the collectors, publishing raw posts to NATS JetStream (see docs/SCALING.md).
    Collect(RoleArgs),
    /// Runs one stateless NLP worker on the shared raw-post consumer.
    Analyse {
        #[command(flatten)]
        role: RoleArgs,
        /// This worker's name, in the analysed posts' headers (default: analyse-<pid>).
        #[arg(long)]
        name: Option<String>,
    },
    /// Runs the stateful node: index writer, alert engine, alert lifecycle.
    Index(RoleArgs),
    /// Runs a dashboard server fed from NATS; any number may run.
    Serve {
        #[command(flatten)]
        role: RoleArgs,
        /// Dashboard address, overriding `dashboard.listen` (port 0 picks a free port).
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Validates a configuration file and lists every problem.
    Check {
        #[arg(long)]
        config: PathBuf,
    },
    /// Trains a linear model for one axis from labelled texts.
    Train(veille::train::TrainArgs),
    /// Scores a model on labelled texts (accuracy, macro-F1, confusion, posts/s).
    Eval(veille::eval::EvalArgs),
    /// Runs a benchmark and prints its figures (build with --release).
    Bench {
        #[command(subcommand)]
        what: bench::BenchCommand,
    },
    /// Manages dashboard accounts (stored in the data directory, never in the config).
    #[command(subcommand)]
    User(UserCommand),
}

#[derive(Subcommand)]
enum UserCommand {
    /// Creates an account; prints a generated password once unless --password-stdin.
    Add {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        name: String,
        /// A configured team the user belongs to (repeatable), besides the config's members.
        #[arg(long)]
        team: Vec<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Issues an API token (`Authorization: Bearer ...`) for a user; printed once.
    Token {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        name: String,
    },
}

#[derive(clap::Args)]
pub(crate) struct RoleArgs {
    #[arg(long)]
    pub(crate) config: PathBuf,
    /// The NATS server.
    #[arg(long, value_name = "URL", default_value = "nats://127.0.0.1:4222")]
    pub(crate) nats: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,tantivy=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    disable_transparent_huge_pages();
    let result = match cli.command {
        Command::Check { config } => check(&config),
        Command::Demo { listen } => run_async(demo(listen)),
        Command::Run {
            config,
            listen,
            nats: None,
        } => run_async(run(config, listen)),
        Command::Run {
            config,
            listen,
            nats: Some(url),
        } => run_async(nats_roles::run_all(config, listen, url)),
        Command::Collect(role) => run_async(nats_roles::run_role(Role::Collect, role, None, "")),
        Command::Analyse { role, name } => {
            let name = name.unwrap_or_else(|| format!("analyse-{}", std::process::id()));
            run_async(nats_roles::run_role(Role::Analyse, role, None, &name))
        }
        Command::Index(role) => run_async(nats_roles::run_role(Role::Index, role, None, "")),
        Command::Serve { role, listen } => {
            run_async(nats_roles::run_role(Role::Serve, role, listen, ""))
        }
        Command::Train(args) => veille::train::run(&args),
        Command::Eval(args) => veille::eval::run(&args),
        Command::User(command) => user(command),
        Command::Bench { what } => bench::run(&what),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_async(work: impl Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(work)
}

fn check(path: &std::path::Path) -> anyhow::Result<()> {
    let config = config::load_file(path)?;
    println!(
        "{}: ok ({} brands, {} axes, {} teams, {} rules, {} sources)",
        path.display(),
        config.nlp.brands.len(),
        config.nlp.axes.len(),
        config.teams.len(),
        config.rules.len(),
        config.sources.len()
    );
    Ok(())
}

fn user(command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add {
            config,
            name,
            team,
            password_stdin,
        } => {
            let config = config::load_file(&config)?;
            let mut stdin = std::io::stdin().lock();
            let input: Option<&mut dyn std::io::BufRead> = if password_stdin {
                Some(&mut stdin)
            } else {
                None
            };
            match users::add(&config, &name, &team, input)? {
                Some(password) => {
                    println!("user {name} created; password (shown once): {password}")
                }
                None => println!("user {name} created"),
            }
        }
        UserCommand::Token { config, name } => {
            let config = config::load_file(&config)?;
            let token = users::token(&config, &name)?;
            println!("API token for {name} (shown once): {token}");
        }
    }
    Ok(())
}

async fn demo(listen: SocketAddr) -> anyhow::Result<()> {
    let mut config = config::load_str(fixtures::SAMPLE_CONFIG, &Origin::Embedded)?;
    let data_dir = tempfile::Builder::new()
        .prefix("veille-demo-")
        .tempdir()
        .context("cannot create a temporary data directory")?;
    config.data_dir = data_dir.path().to_path_buf();
    config.index_dir = config.data_dir.join("index");
    // The demo's HTTP is plain: a Secure cookie would not be kept by every browser.
    config.secure_cookies = false;
    let accounts = users::demo_accounts(&data_dir.path().join("state.redb"), &config.teams)?;
    println!("veille demo: replaying the built-in fixtures (brand: Lumio)");
    println!("demo accounts (shown once, valid until the demo stops):");
    for (name, team, password) in &accounts {
        println!("  {team:<18} user {name:<10} password {password}");
    }
    println!(
        "data directory: {} (removed on exit)",
        data_dir.path().display()
    );
    serve_until_stopped(&config, listen).await
}

async fn run(path: PathBuf, listen: Option<SocketAddr>) -> anyhow::Result<()> {
    let config = config::load_file(&path)?;
    let listen = listen.unwrap_or(config.listen);
    tracing::info!(config = %path.display(), data_dir = %config.data_dir.display(), "config loaded");
    serve_until_stopped(&config, listen).await
}

async fn serve_until_stopped(config: &Config, listen: SocketAddr) -> anyhow::Result<()> {
    let running = pipeline::start(config, listen).await?;
    println!("dashboard: http://{}", running.address);
    println!("press Ctrl-C to stop");
    wait_for_stop_signal().await;
    println!("stopping: final commit...");
    running.shutdown().await;
    println!("stopped");
    Ok(())
}

pub(crate) async fn wait_for_stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
