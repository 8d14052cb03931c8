//! PostgreSQL connections, each on a thread of its own.
//!
//! The `postgres` client drives a small runtime of its own and must not be called from inside
//! the daemon's tokio runtime, so the store never calls it directly: a call hands a job to one
//! of a few connection threads and waits for the answer with a deadline. A connection that
//! broke (the server restarted, the network dropped) is opened again by the next job.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use postgres::{Client, Config, NoTls};

use crate::store::StoreError;

/// How long a store call waits for its answer. The server cancels a statement after
/// [`STATEMENT_TIMEOUT`], so a connection is free again soon after a caller gave up.
const CALL_DEADLINE: Duration = Duration::from_secs(30);
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(25);
/// Used when the URL sets no `connect_timeout`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// A few connections to one database, shared by every caller.
pub(super) struct Connections {
    jobs: Sender<Job>,
    db: String,
}

impl Connections {
    /// Starts `count` connection threads for `config`. Nothing connects until the first job.
    pub(super) fn start(config: Config, db: String, count: usize) -> Connections {
        let mut config = config;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        config.application_name("aviary");
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for index in 0..count.max(1) {
            let queue = Arc::clone(&queue);
            let mut connection = Connection { config: config.clone(), client: None };
            let spawned = std::thread::Builder::new()
                .name(format!("aviary-pg-{index}"))
                .spawn(move || serve(&queue, &mut connection));
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "could not start a PostgreSQL connection thread");
            }
        }
        Connections { jobs, db }
    }

    /// Runs `work` on a connection and waits for its answer; `what` says what was being done
    /// for the error.
    pub(super) fn call<T, F>(&self, what: impl Into<String>, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Client) -> Result<T, postgres::Error> + Send + 'static,
    {
        let what = what.into();
        let (answer, answered) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |connection: &mut Connection| {
            let result = connection.client().and_then(work);
            let _ = answer.send(result);
        });
        let query_err = |source: super::super::BoxError| StoreError::Query {
            db: self.db.clone(),
            what: what.clone(),
            source,
        };
        self.jobs.send(job).map_err(|_| query_err("the connection threads have stopped".into()))?;
        match answered.recv_timeout(CALL_DEADLINE) {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(query_err(e.into())),
            Err(RecvTimeoutError::Timeout) => {
                Err(query_err(format!("no answer within {} s", CALL_DEADLINE.as_secs()).into()))
            }
            Err(RecvTimeoutError::Disconnected) => {
                Err(query_err("the connection thread stopped before answering".into()))
            }
        }
    }
}

fn serve(queue: &Mutex<Receiver<Job>>, connection: &mut Connection) {
    loop {
        let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        match job {
            Ok(job) => job(connection),
            // Every sender is gone: the store was dropped.
            Err(_) => return,
        }
    }
}

/// One connection, opened when first needed and again after it broke.
pub(super) struct Connection {
    config: Config,
    client: Option<Client>,
}

impl Connection {
    fn client(&mut self) -> Result<&mut Client, postgres::Error> {
        let client = match self.client.take() {
            Some(client) if !client.is_closed() => client,
            _ => {
                let mut client = self.config.connect(NoTls)?;
                client.batch_execute(&format!(
                    "SET statement_timeout = {timeout}; SET lock_timeout = {timeout}",
                    timeout = STATEMENT_TIMEOUT.as_millis()
                ))?;
                client
            }
        };
        Ok(self.client.insert(client))
    }
}
