//! Accounts from the command line: `veille user add` and `veille user token`, and the demo
//! accounts of `veille demo`.
//!
//! Accounts live in the embedded store of the configuration's data directory, never in the
//! hand-edited config. A user's teams are the configured teams listing them in `members`
//! plus those given with `--team` (which must be configured teams). Passwords are read from
//! standard input (`--password-stdin`) or generated and printed once on standard output;
//! they are never logged.

use std::io::BufRead;
use std::path::Path;

use anyhow::{Context, bail};
use dashboard::alerts::Team;
use dashboard::auth::{UserStore, generate_password};
use index::Store;

use crate::config::Config;

fn open_users(config: &Config) -> anyhow::Result<UserStore> {
    let path = config.data_dir.join("state.redb");
    let store = Store::open(&path).with_context(|| {
        format!(
            "cannot open the store {} (is veille running on it?)",
            path.display()
        )
    })?;
    Ok(UserStore::new(store))
}

/// `veille user add`: creates the account; returns the generated password, if any.
pub fn add(
    config: &Config,
    name: &str,
    teams: &[String],
    password_from: Option<&mut dyn BufRead>,
) -> anyhow::Result<Option<String>> {
    for team in teams {
        if !config
            .teams
            .iter()
            .any(|configured| configured.name == *team)
        {
            let known: Vec<&str> = config.teams.iter().map(|t| t.name.as_str()).collect();
            bail!("unknown team `{team}` (teams: {})", known.join(", "));
        }
    }
    let in_config = config
        .teams
        .iter()
        .any(|team| team.members.iter().any(|member| member == name));
    if teams.is_empty() && !in_config {
        bail!("`{name}` is in no team: give --team, or list them in a team's members");
    }
    let (password, generated) = match password_from {
        Some(input) => {
            let mut line = String::new();
            input
                .read_line(&mut line)
                .context("cannot read the password from standard input")?;
            (line.trim_end_matches(['\r', '\n']).to_owned(), false)
        }
        None => (generate_password()?, true),
    };
    open_users(config)?.add(name, &password, teams)?;
    Ok(generated.then_some(password))
}

/// `veille user token`: issues an API token for an existing user.
pub fn token(config: &Config, name: &str) -> anyhow::Result<String> {
    Ok(open_users(config)?.issue_token(name)?)
}

/// One demo account per team: the team's first member (or `<team>-demo`), with a fresh
/// password. Returns (user, team, password) for the console.
pub fn demo_accounts(
    store_path: &Path,
    teams: &[Team],
) -> anyhow::Result<Vec<(String, String, String)>> {
    let store = Store::open(store_path)
        .with_context(|| format!("cannot open the store {}", store_path.display()))?;
    let users = UserStore::new(store);
    let mut accounts = Vec::new();
    for team in teams {
        let name = team
            .members
            .first()
            .cloned()
            .unwrap_or_else(|| format!("{}-demo", team.name));
        if users.get(&name)?.is_some() {
            continue;
        }
        let password = generate_password()?;
        users.add(&name, &password, std::slice::from_ref(&team.name))?;
        accounts.push((name, team.name.clone(), password));
    }
    Ok(accounts)
}
