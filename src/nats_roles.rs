//! The command line of the NATS roles: `veille run --nats`, `collect`, `analyse`, `index`
//! and `serve`. Each loads the config, starts its role(s) and stops them on Ctrl-C or
//! SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

use veille::config;
use veille::pipeline::nats::{self, Role};

use crate::{RoleArgs, wait_for_stop_signal};

pub(crate) async fn run_all(
    path: PathBuf,
    listen: Option<SocketAddr>,
    url: String,
) -> anyhow::Result<()> {
    let config = config::load_file(&path)?;
    let listen = listen.unwrap_or(config.listen);
    let roles = nats::start_all(&config, &url, listen).await?;
    for role in &roles {
        if let Some(address) = role.address {
            println!("dashboard: http://{address}");
        }
    }
    println!("every role running over NATS at {url}; press Ctrl-C to stop");
    wait_for_stop_signal().await;
    println!("stopping...");
    for role in roles {
        role.shutdown().await;
    }
    println!("stopped");
    Ok(())
}

pub(crate) async fn run_role(
    role: Role,
    args: RoleArgs,
    listen: Option<SocketAddr>,
    worker: &str,
) -> anyhow::Result<()> {
    let config = config::load_file(&args.config)?;
    let listen = listen.unwrap_or(config.listen);
    let handle = nats::start_role(role, &config, &args.nats, listen, worker).await?;
    if let Some(address) = handle.address {
        println!("dashboard: http://{address}");
    }
    println!(
        "{} running over NATS at {}; press Ctrl-C to stop",
        handle.name, args.nats
    );
    wait_for_stop_signal().await;
    println!("stopping...");
    handle.shutdown().await;
    println!("stopped");
    Ok(())
}
