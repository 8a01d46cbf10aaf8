//! Background priority: the index writer's threads yield the cores to the path from a post
//! to its alert.
//!
//! Tantivy indexes, merges and applies deletes on threads of its own, in bursts at every
//! commit. At the same priority as the NLP, alert and socket threads, each burst makes those
//! wait for their turn on the two cores, and the alert latency's tail is that wait. At a
//! lower priority (nice [`BACKGROUND_NICE`]) the scheduler runs them when the alert path has
//! nothing to do, which is most of the time: indexing still gets every idle cycle, only
//! later within the second.
//!
//! On Linux a thread's nice value is its own and the threads it starts inherit it, and
//! tantivy starts its indexing threads again at every commit, from the thread that commits.
//! So every writer call (open, add, delete, commit) runs on one [`BackgroundThread`] that
//! lowered its own priority first; the threads tantivy starts from it inherit that priority,
//! the async runtime's threads keep theirs. Elsewhere (where nice applies to the whole
//! process) priorities are left alone.

use tokio::sync::oneshot;

/// The nice value added for background work (0 is the default; 19 the lowest priority).
pub(crate) const BACKGROUND_NICE: i32 = 10;

type Job = Box<dyn FnOnce() + Send>;

/// A thread at background priority that runs the work it is given, one piece at a time, in
/// order. It ends when dropped (after the work already given), or when a piece panics.
#[derive(Debug)]
pub(crate) struct BackgroundThread {
    jobs: std::sync::mpsc::Sender<Job>,
}

impl BackgroundThread {
    /// Starts the thread, named `name` (as `top -H` and profilers show it).
    pub(crate) fn start(name: &str) -> std::io::Result<BackgroundThread> {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                lower_priority();
                while let Ok(job) = queue.recv() {
                    job();
                }
            })?;
        Ok(BackgroundThread { jobs })
    }

    /// Runs `work` on the thread and waits for its result without blocking the caller's
    /// thread; None when the thread is gone (an earlier piece of work panicked) or this one
    /// panicked.
    pub(crate) async fn run<T, F>(&self, work: F) -> Option<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            // The caller may have stopped waiting; the work is done anyway.
            let _ = done.send(work());
        });
        self.jobs.send(job).ok()?;
        result.await.ok()
    }
}

#[cfg(target_os = "linux")]
fn lower_priority() {
    match rustix::process::nice(BACKGROUND_NICE) {
        Ok(nice) => tracing::debug!(nice, "background thread priority lowered"),
        Err(error) => tracing::warn!(%error, "cannot lower a background thread's priority"),
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_runs_in_order_at_a_lower_priority_and_so_do_the_threads_it_starts() {
        let before = rustix::process::getpriority_process(None).expect("own priority");
        let thread = BackgroundThread::start("test-background").expect("thread starts");
        let (own, child) = thread
            .run(|| {
                let own = rustix::process::getpriority_process(None).expect("own priority");
                let child = std::thread::spawn(|| rustix::process::getpriority_process(None))
                    .join()
                    .expect("child thread")
                    .expect("child priority");
                (own, child)
            })
            .await
            .expect("the work runs");
        let lowered = (before + BACKGROUND_NICE).min(19);
        if cfg!(target_os = "linux") {
            assert_eq!((own, child), (lowered, lowered));
        }
        let after = rustix::process::getpriority_process(None).expect("own priority");
        assert_eq!(after, before, "the caller's thread keeps its priority");

        let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let pieces: Vec<_> = (0..3)
            .map(|number| {
                let order = std::sync::Arc::clone(&order);
                thread.run(move || order.lock().expect("not poisoned").push(number))
            })
            .collect();
        for piece in pieces {
            piece.await.expect("the work runs");
        }
        assert_eq!(*order.lock().expect("not poisoned"), [0, 1, 2]);
    }

    #[tokio::test]
    async fn work_that_panics_ends_the_thread_and_says_so() {
        let thread = BackgroundThread::start("test-background").expect("thread starts");
        assert_eq!(thread.run(|| -> u8 { panic!("deliberate") }).await, None);
        assert_eq!(thread.run(|| 1).await, None, "the thread is gone");
    }
}
