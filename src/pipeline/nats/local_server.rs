//! A `nats-server -js` child process on a free loopback port with its own store directory,
//! for `veille bench nats` and the tests: it can be killed and started again on the same
//! port and store, as an operator restarting the server would.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

/// The program started; Debian's package puts it in `/usr/sbin`.
const PROGRAM: &str = "nats-server";
const DEBIAN_PATH: &str = "/usr/sbin/nats-server";

/// How long the server may take to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// The `nats-server` program if it is installed (on `PATH` or in `/usr/sbin`).
pub fn find_program() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(PROGRAM))
            .find(|candidate| candidate.is_file())
    });
    on_path.or_else(|| Some(PathBuf::from(DEBIAN_PATH)).filter(|path| path.is_file()))
}

/// A running `nats-server`; killed when dropped.
pub struct LocalNatsServer {
    program: PathBuf,
    port: u16,
    store: PathBuf,
    child: Option<Child>,
}

impl LocalNatsServer {
    /// Starts a server with JetStream on a free port of 127.0.0.1, storing in `store`.
    pub async fn start(store: &Path) -> anyhow::Result<LocalNatsServer> {
        let Some(program) = find_program() else {
            bail!("`nats-server` is not installed (apt-get install nats-server)");
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .context("cannot find a free port")?
            .port();
        let mut server = LocalNatsServer {
            program,
            port,
            store: store.to_path_buf(),
            child: None,
        };
        server.spawn().await?;
        Ok(server)
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and store.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        self.spawn().await
    }

    async fn spawn(&mut self) -> anyhow::Result<()> {
        let child = Command::new(&self.program)
            .args(["-js", "-a", "127.0.0.1", "-p"])
            .arg(self.port.to_string())
            .arg("-sd")
            .arg(&self.store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", self.program.display()))?;
        self.child = Some(child);
        let started = tokio::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if started.elapsed() > READY_TIMEOUT {
                bail!(
                    "nats-server did not accept connections on port {}",
                    self.port
                );
            }
            if let Some(child) = &mut self.child
                && let Ok(Some(status)) = child.try_wait()
            {
                bail!("nats-server exited at start ({status})");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }
}

impl Drop for LocalNatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}
