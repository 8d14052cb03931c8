//! The SQLite store: one database file in WAL mode, written by one connection behind a mutex.
//!
//! Times are stored as integer milliseconds since the Unix epoch (UTC), so they sort and compare
//! as numbers; summaries and datapoints therefore come back with millisecond precision, while
//! [`Store::run`] returns the report exactly as saved (it is kept whole as JSON).
//!
//! The schema is versioned with `PRAGMA user_version`: [`MIGRATIONS`] holds one script per
//! version, applied in order, each in its own transaction. Later versions append scripts; a
//! script is never edited once released.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use super::rows::{self, SUMMARY_COLUMNS, SummaryRow, millis};
use super::{
    AlarmRecord, AlarmTransition, BucketQuery, FailoverChange, MIN_RUN_ID_PREFIX, MetricQuery, RunBucket,
    RunPage, RunSummary, StepBucket, Store, StoreError,
};
use crate::report::{Datapoint, RunReport, RunStatus};

/// Schema scripts; version N is `MIGRATIONS[N - 1]`. Append only.
const MIGRATIONS: &[&str] = &[
    // 1: run history and metric datapoints.
    "CREATE TABLE runs (
        run_id      TEXT PRIMARY KEY NOT NULL,
        canary      TEXT NOT NULL,
        attempt     INTEGER NOT NULL,
        blueprint   TEXT NOT NULL,
        status      TEXT NOT NULL,
        reason      TEXT,
        started_at  INTEGER NOT NULL,
        ended_at    INTEGER NOT NULL,
        duration_ms REAL NOT NULL,
        artifacts   TEXT NOT NULL,
        report_json TEXT NOT NULL
    );
    CREATE INDEX runs_by_canary ON runs (canary, started_at);
    CREATE TABLE steps (
        run_id      TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        idx         INTEGER NOT NULL,
        name        TEXT NOT NULL,
        status      TEXT NOT NULL,
        reason      TEXT,
        started_at  INTEGER NOT NULL,
        duration_ms REAL NOT NULL
    );
    CREATE INDEX steps_by_run ON steps (run_id, idx);
    CREATE TABLE datapoints (
        run_id TEXT NOT NULL REFERENCES runs (run_id) ON DELETE CASCADE,
        metric TEXT NOT NULL,
        canary TEXT NOT NULL,
        step   TEXT,
        ts     INTEGER NOT NULL,
        value  REAL NOT NULL
    );
    CREATE INDEX datapoints_by_series ON datapoints (canary, metric, step, ts);
    CREATE INDEX datapoints_by_run ON datapoints (run_id);",
    // 2: alarm states and their transition history.
    "CREATE TABLE alarm_states (
        alarm      TEXT PRIMARY KEY NOT NULL,
        state      TEXT NOT NULL,
        reason     TEXT NOT NULL,
        since      INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE TABLE alarm_history (
        alarm     TEXT NOT NULL,
        ts        INTEGER NOT NULL,
        old_state TEXT NOT NULL,
        new_state TEXT NOT NULL,
        reason    TEXT NOT NULL
    );
    CREATE INDEX alarm_history_by_alarm ON alarm_history (alarm, ts);",
    // 3: changes the DNS failover controller made.
    "CREATE TABLE failover_history (
        failover    TEXT NOT NULL,
        record      TEXT NOT NULL,
        ts          INTEGER NOT NULL,
        from_values TEXT NOT NULL,
        to_values   TEXT NOT NULL,
        answer      TEXT NOT NULL,
        why         TEXT NOT NULL
    );
    CREATE INDEX failover_history_by_name ON failover_history (failover, ts);",
    // 4: runs counted by canary and hour, kept by triggers, so the dashboard's bars and long
    // charts read thousands of small rows instead of every run.
    "CREATE TABLE run_hours (
        hour        INTEGER NOT NULL,
        canary      TEXT NOT NULL,
        runs        INTEGER NOT NULL,
        passed      INTEGER NOT NULL,
        duration_ms REAL NOT NULL,
        PRIMARY KEY (hour, canary)
    ) WITHOUT ROWID;
    CREATE INDEX run_hours_by_canary ON run_hours (canary, hour);
    INSERT INTO run_hours (hour, canary, runs, passed, duration_ms)
        SELECT (started_at / 3600000) * 3600000, canary, COUNT(*), SUM(status = 'PASSED'), SUM(duration_ms)
        FROM runs GROUP BY 1, 2;
    CREATE TRIGGER run_hours_insert AFTER INSERT ON runs BEGIN
        INSERT INTO run_hours (hour, canary, runs, passed, duration_ms)
        VALUES ((NEW.started_at / 3600000) * 3600000, NEW.canary, 1, NEW.status = 'PASSED', NEW.duration_ms)
        ON CONFLICT (hour, canary) DO UPDATE SET runs = runs + 1, passed = passed + excluded.passed,
            duration_ms = duration_ms + excluded.duration_ms;
    END;
    CREATE TRIGGER run_hours_delete AFTER DELETE ON runs BEGIN
        UPDATE run_hours SET runs = runs - 1, passed = passed - (OLD.status = 'PASSED'),
            duration_ms = duration_ms - OLD.duration_ms
            WHERE hour = (OLD.started_at / 3600000) * 3600000 AND canary = OLD.canary;
        DELETE FROM run_hours
            WHERE hour = (OLD.started_at / 3600000) * 3600000 AND canary = OLD.canary AND runs <= 0;
    END;",
    // 5: where each run and datapoint checked from (scale-out locations).
    "ALTER TABLE runs ADD COLUMN location TEXT;
    ALTER TABLE datapoints ADD COLUMN location TEXT;",
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// An hour in milliseconds: the width of `run_hours`' buckets.
const HOUR_MS: i64 = 3_600_000;

/// Run history in one SQLite file.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: PathBuf,
    db: String,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.path).finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (or creates) the database at `path`, creating its parent folders, switching it to
    /// WAL mode and bringing its schema up to date.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let db = path.display().to_string();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::CreateDir {
                db: db.clone(),
                path: parent.to_path_buf(),
                source,
            })?;
        }
        let open_err = |source: rusqlite::Error| StoreError::Open { db: db.clone(), source: source.into() };
        let mut conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(open_err)?;
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0)).map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Open {
                db,
                source: format!("expected journal_mode wal, SQLite kept `{mode}`").into(),
            });
        }
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(open_err)?;
        migrate(&mut conn, &db)?;
        Ok(SqliteStore { conn: Mutex::new(conn), path: path.to_path_buf(), db })
    }

    /// An empty database in memory, standing for one that does not exist yet: commands that only
    /// read the history use it instead of creating the data folder.
    pub fn open_empty(path: &Path) -> Result<SqliteStore, StoreError> {
        let db = path.display().to_string();
        let open_err = |source: rusqlite::Error| StoreError::Open { db: db.clone(), source: source.into() };
        let mut conn = Connection::open_in_memory().map_err(open_err)?;
        migrate(&mut conn, &db)?;
        Ok(SqliteStore { conn: Mutex::new(conn), path: path.to_path_buf(), db })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `PRAGMA integrity_check`: `true` when SQLite reports the database `ok`.
    pub fn integrity_check(&self) -> Result<bool, StoreError> {
        let conn = self.lock();
        let mut stmt = conn.prepare("PRAGMA integrity_check").map_err(self.query_err("check integrity"))?;
        let rows: Vec<String> = stmt
            .query_map([], |row| row.get(0))
            .and_then(Iterator::collect)
            .map_err(self.query_err("check integrity"))?;
        Ok(rows.len() == 1 && rows[0] == "ok")
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves no open transaction behind (it rolls back on
        // drop), so the connection is still sound.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn query_err(&self, what: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
        let what = what.into();
        move |source| StoreError::Query { db: self.db.clone(), what, source: source.into() }
    }

    fn summaries(&self, rows: Vec<SummaryRow>) -> Result<Vec<RunSummary>, StoreError> {
        rows.into_iter().map(|row| row.into_summary(&self.db)).collect()
    }

    fn query_summaries(
        &self,
        what: &str,
        sql: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<RunSummary>, StoreError> {
        let conn = self.lock();
        let rows: Vec<SummaryRow> = conn
            .prepare_cached(sql)
            .and_then(|mut stmt| stmt.query_map(params, read_summary)?.collect())
            .map_err(self.query_err(what))?;
        drop(conn);
        self.summaries(rows)
    }
}

/// Brings the schema from its `user_version` to [`SCHEMA_VERSION`].
fn migrate(conn: &mut Connection, db: &str) -> Result<(), StoreError> {
    let open_err = |source: rusqlite::Error| StoreError::Open { db: db.to_string(), source: source.into() };
    let found: u32 = conn.pragma_query_value(None, "user_version", |row| row.get(0)).map_err(open_err)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew { db: db.to_string(), found, supported: SCHEMA_VERSION });
    }
    for (version, script) in (1..=SCHEMA_VERSION).zip(MIGRATIONS).skip(found as usize) {
        let migrate_err = |source: rusqlite::Error| StoreError::Migrate {
            db: db.to_string(),
            version,
            source: source.into(),
        };
        // IMMEDIATE takes the write lock first, so two processes opening a fresh database at
        // once apply each script exactly once.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(migrate_err)?;
        let current: u32 =
            tx.pragma_query_value(None, "user_version", |row| row.get(0)).map_err(migrate_err)?;
        if current >= version {
            continue;
        }
        tx.execute_batch(script).map_err(migrate_err)?;
        tx.pragma_update(None, "user_version", version).map_err(migrate_err)?;
        tx.commit().map_err(migrate_err)?;
    }
    Ok(())
}

fn delete_run_rows(tx: &Transaction<'_>, run_id: &str) -> rusqlite::Result<usize> {
    tx.prepare_cached("DELETE FROM datapoints WHERE run_id = ?1")?.execute([run_id])?;
    tx.prepare_cached("DELETE FROM steps WHERE run_id = ?1")?.execute([run_id])?;
    tx.prepare_cached("DELETE FROM runs WHERE run_id = ?1")?.execute([run_id])
}

fn read_summary(row: &rusqlite::Row<'_>) -> rusqlite::Result<SummaryRow> {
    Ok(SummaryRow {
        run_id: row.get(0)?,
        canary: row.get(1)?,
        attempt: row.get(2)?,
        status: row.get(3)?,
        reason: row.get(4)?,
        started_at: row.get(5)?,
        duration_ms: row.get(6)?,
        artifacts: row.get(7)?,
    })
}

impl Store for SqliteStore {
    fn save_run(&self, report: &RunReport, datapoints: &[Datapoint]) -> Result<(), StoreError> {
        let what = format!("save run {} of canary `{}`", report.run_id, report.canary);
        let json = serde_json::to_string(report).map_err(|e| StoreError::Query {
            db: self.db.clone(),
            what: what.clone(),
            source: e.into(),
        })?;
        let mut conn = self.lock();
        let write = |conn: &mut Connection| -> rusqlite::Result<()> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            delete_run_rows(&tx, &report.run_id)?;
            tx.prepare_cached(
                "INSERT INTO runs (run_id, canary, attempt, blueprint, status, reason, started_at,
                                   ended_at, duration_ms, artifacts, report_json, location)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?
            .execute(params![
                report.run_id,
                report.canary,
                report.attempt,
                report.blueprint,
                report.status.as_str(),
                report.reason,
                millis(report.start),
                millis(report.end),
                report.duration_ms,
                report.artifacts,
                json,
                report.location,
            ])?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO steps (run_id, idx, name, status, reason, started_at, duration_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?;
                for step in &report.steps {
                    insert.execute(params![
                        report.run_id,
                        step.index,
                        step.name,
                        step.status.as_str(),
                        step.reason,
                        millis(step.start),
                        step.duration_ms,
                    ])?;
                }
                let mut insert = tx.prepare_cached(
                    "INSERT INTO datapoints (run_id, metric, canary, step, ts, value, location)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?;
                for point in datapoints {
                    insert.execute(params![
                        report.run_id,
                        point.metric,
                        point.canary,
                        point.step,
                        millis(point.timestamp),
                        point.value,
                        point.location,
                    ])?;
                }
            }
            tx.commit()
        };
        write(&mut conn).map_err(self.query_err(what))
    }

    fn runs(&self, canary: &str, page: RunPage) -> Result<Vec<RunSummary>, StoreError> {
        let limit = i64::try_from(page.limit).unwrap_or(i64::MAX);
        let before = page.before.map_or(i64::MAX, millis);
        self.query_summaries(
            &format!("list the runs of canary `{canary}`"),
            &format!(
                "SELECT {SUMMARY_COLUMNS} FROM runs WHERE canary = ?1 AND started_at < ?2
                 AND (?4 IS NULL OR status = ?4)
                 ORDER BY started_at DESC, run_id DESC LIMIT ?3"
            ),
            params![canary, before, limit, page.status.map(RunStatus::as_str)],
        )
    }

    fn run(&self, run_id: &str) -> Result<Option<RunReport>, StoreError> {
        let what = || format!("read run {run_id}");
        let conn = self.lock();
        let exact: Option<String> = conn
            .prepare_cached("SELECT report_json FROM runs WHERE run_id = ?1")
            .and_then(|mut stmt| stmt.query_row([run_id], |row| row.get(0)).optional())
            .map_err(self.query_err(what()))?;
        if let Some(json) = exact {
            drop(conn);
            return rows::decode_report(&self.db, run_id, &json).map(Some);
        }
        if run_id.chars().count() < MIN_RUN_ID_PREFIX {
            return Ok(None);
        }
        // Every id starting with the prefix sorts in [prefix, prefix + U+10FFFF): a range the
        // primary key index answers; `substr` keeps the match exact.
        let upper = format!("{run_id}\u{10FFFF}");
        let found: Vec<(String, String)> = conn
            .prepare_cached(
                "SELECT run_id, report_json FROM runs
                 WHERE run_id >= ?1 AND run_id < ?2 AND substr(run_id, 1, length(?1)) = ?1
                 ORDER BY run_id LIMIT 11",
            )
            .and_then(|mut stmt| {
                stmt.query_map([run_id, &upper], |row| Ok((row.get(0)?, row.get(1)?)))?.collect()
            })
            .map_err(self.query_err(what()))?;
        drop(conn);
        rows::one_by_prefix(&self.db, run_id, found)
    }

    fn latest_runs(&self) -> Result<Vec<RunSummary>, StoreError> {
        // SQLite takes the bare columns from the row holding MAX(started_at) in each group.
        self.query_summaries(
            "list the latest run of every canary",
            &format!("SELECT {SUMMARY_COLUMNS}, MAX(started_at) FROM runs GROUP BY canary ORDER BY canary"),
            [],
        )
    }

    fn datapoints(&self, query: &MetricQuery) -> Result<Vec<Datapoint>, StoreError> {
        let what = format!(
            "read datapoints of metric `{}` of canary `{}`{}",
            query.metric,
            query.canary,
            query.step.as_deref().map(|s| format!(" step `{s}`")).unwrap_or_default()
        );
        let conn = self.lock();
        let rows: Vec<(Option<String>, i64, f64, Option<String>)> = conn
            .prepare_cached(
                "SELECT step, ts, value, location FROM datapoints
                 WHERE canary = ?1 AND metric = ?2 AND step IS ?3 AND ts >= ?4 AND ts < ?5
                 ORDER BY ts, rowid",
            )
            .and_then(|mut stmt| {
                stmt.query_map(
                    params![query.canary, query.metric, query.step, millis(query.since), millis(query.until)],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
                )?
                .collect()
            })
            .map_err(self.query_err(what))?;
        drop(conn);
        rows.into_iter()
            .map(|(step, ts, value, location)| {
                let timestamp = rows::time(&self.db, ts, || format!("datapoint of `{}`", query.metric))?;
                Ok(Datapoint {
                    metric: query.metric.clone(),
                    canary: query.canary.clone(),
                    step,
                    location,
                    timestamp,
                    value,
                })
            })
            .collect()
    }

    fn run_datapoints(&self, run_id: &str) -> Result<Vec<Datapoint>, StoreError> {
        type Row = (String, String, Option<String>, i64, f64, Option<String>);
        let conn = self.lock();
        let found: Vec<Row> = conn
            .prepare_cached(
                "SELECT metric, canary, step, ts, value, location FROM datapoints WHERE run_id = ?1 ORDER BY rowid",
            )
            .and_then(|mut stmt| {
                stmt.query_map([run_id], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?))
                })?
                .collect()
            })
            .map_err(self.query_err(format!("read the datapoints of run {run_id}")))?;
        drop(conn);
        found
            .into_iter()
            .map(|(metric, canary, step, ts, value, location)| {
                let timestamp = rows::time(&self.db, ts, || format!("datapoint of `{metric}`"))?;
                Ok(Datapoint { metric, canary, step, location, timestamp, value })
            })
            .collect()
    }

    fn expired_runs(
        &self,
        canary: &str,
        status_passed: bool,
        older_than: DateTime<Utc>,
    ) -> Result<Vec<RunSummary>, StoreError> {
        let op = if status_passed { "=" } else { "<>" };
        self.query_summaries(
            &format!("list expired runs of canary `{canary}`"),
            &format!(
                "SELECT {SUMMARY_COLUMNS} FROM runs
                 WHERE canary = ?1 AND started_at < ?2 AND status {op} 'PASSED'
                 ORDER BY started_at, run_id"
            ),
            params![canary, millis(older_than)],
        )
    }

    fn delete_runs(&self, run_ids: &[String]) -> Result<usize, StoreError> {
        if run_ids.is_empty() {
            return Ok(0);
        }
        let mut conn = self.lock();
        let delete = |conn: &mut Connection| -> rusqlite::Result<usize> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut deleted = 0;
            for run_id in run_ids {
                deleted += delete_run_rows(&tx, run_id)?;
            }
            tx.commit()?;
            Ok(deleted)
        };
        delete(&mut conn).map_err(self.query_err(format!("delete {} runs", run_ids.len())))
    }
    fn alarm_states(&self) -> Result<Vec<AlarmRecord>, StoreError> {
        let conn = self.lock();
        let rows: Vec<(String, String, String, i64)> = conn
            .prepare_cached("SELECT alarm, state, reason, since FROM alarm_states ORDER BY alarm")
            .and_then(|mut stmt| {
                stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)))?.collect()
            })
            .map_err(self.query_err("read the alarm states"))?;
        drop(conn);
        rows.into_iter()
            .map(|(alarm, state, reason, since)| {
                let since = rows::time(&self.db, since, || format!("alarm `{alarm}`"))?;
                Ok(AlarmRecord { alarm, state, reason, since })
            })
            .collect()
    }

    fn record_alarm_transition(&self, transition: &AlarmTransition) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let write = |conn: &mut Connection| -> rusqlite::Result<()> {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let t = millis(transition.time);
            tx.execute(
                "INSERT INTO alarm_states (alarm, state, reason, since, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)
                 ON CONFLICT (alarm) DO UPDATE SET state = ?2, reason = ?3, since = ?4, updated_at = ?4",
                params![transition.alarm, transition.new_state, transition.reason, t],
            )?;
            tx.execute(
                "INSERT INTO alarm_history (alarm, ts, old_state, new_state, reason) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![transition.alarm, t, transition.old_state, transition.new_state, transition.reason],
            )?;
            tx.commit()
        };
        write(&mut conn)
            .map_err(self.query_err(format!("record a transition of alarm `{}`", transition.alarm)))
    }

    fn alarm_history(&self, alarm: &str, limit: usize) -> Result<Vec<AlarmTransition>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let conn = self.lock();
        let rows: Vec<(i64, String, String, String)> = conn
            .prepare_cached(
                "SELECT ts, old_state, new_state, reason FROM alarm_history WHERE alarm = ?1
                 ORDER BY ts DESC, rowid DESC LIMIT ?2",
            )
            .and_then(|mut stmt| {
                stmt.query_map(params![alarm, limit], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                })?
                .collect()
            })
            .map_err(self.query_err(format!("read the history of alarm `{alarm}`")))?;
        drop(conn);
        rows.into_iter()
            .map(|(ts, old_state, new_state, reason)| {
                let time = rows::time(&self.db, ts, || format!("alarm `{alarm}`"))?;
                Ok(AlarmTransition { alarm: alarm.to_string(), time, old_state, new_state, reason })
            })
            .collect()
    }

    fn has_run(&self, run_id: &str) -> Result<bool, StoreError> {
        self.lock()
            .prepare_cached("SELECT 1 FROM runs WHERE run_id = ?1")
            .and_then(|mut stmt| stmt.exists([run_id]))
            .map_err(self.query_err(format!("look up run {run_id}")))
    }

    fn record_failover_change(&self, change: &FailoverChange) -> Result<(), StoreError> {
        self.lock()
            .execute(
                "INSERT INTO failover_history (failover, record, ts, from_values, to_values, answer, why)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    change.failover,
                    change.record,
                    millis(change.time),
                    rows::encode_values(&change.from),
                    rows::encode_values(&change.to),
                    change.answer,
                    change.why
                ],
            )
            .map(|_| ())
            .map_err(self.query_err(format!("record a change of failover `{}`", change.failover)))
    }

    fn failover_history(&self, failover: &str, limit: usize) -> Result<Vec<FailoverChange>, StoreError> {
        type Row = (String, i64, String, String, String, String);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let conn = self.lock();
        let rows: Vec<Row> = conn
            .prepare_cached(
                "SELECT record, ts, from_values, to_values, answer, why FROM failover_history
                 WHERE failover = ?1 ORDER BY ts DESC, rowid DESC LIMIT ?2",
            )
            .and_then(|mut stmt| {
                stmt.query_map(params![failover, limit], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?))
                })?
                .collect()
            })
            .map_err(self.query_err(format!("read the history of failover `{failover}`")))?;
        drop(conn);
        let values = |json: &str| rows::decode_values(&self.db, failover, json);
        rows.into_iter()
            .map(|(record, ts, from, to, answer, why)| {
                let time = rows::time(&self.db, ts, || format!("failover `{failover}`"))?;
                Ok(FailoverChange {
                    failover: failover.to_string(),
                    record,
                    time,
                    from: values(&from)?,
                    to: values(&to)?,
                    answer,
                    why,
                })
            })
            .collect()
    }

    fn failovers(&self) -> Result<Vec<String>, StoreError> {
        self.lock()
            .prepare_cached("SELECT DISTINCT failover FROM failover_history ORDER BY failover")
            .and_then(|mut stmt| stmt.query_map([], |row| row.get(0))?.collect())
            .map_err(self.query_err("list the failovers with history"))
    }

    fn run_buckets(&self, query: &BucketQuery) -> Result<Vec<RunBucket>, StoreError> {
        type Row = (String, i64, u32, u32, f64);
        let width = query.bucket_secs.max(1) * 1000;
        // `?4 IS NULL OR canary = ?4` would hide the canary's index from the planner.
        let filter = if query.canary.is_some() { "canary = ?4 AND" } else { "?4 IS NULL AND" };
        let (sql, since) = if width % HOUR_MS == 0 {
            // Whole hours: from the hourly totals, the first hour counted whole.
            let sql = format!(
                "SELECT canary, (hour / ?3) * ?3 AS bucket, SUM(passed), SUM(runs), SUM(duration_ms) / SUM(runs)
                 FROM run_hours WHERE {filter} hour >= ?1 AND hour < ?2
                 GROUP BY canary, bucket ORDER BY bucket, canary"
            );
            (sql, millis(query.since).div_euclid(HOUR_MS) * HOUR_MS)
        } else {
            let sql = format!(
                "SELECT canary, (started_at / ?3) * ?3 AS bucket, SUM(status = 'PASSED'), COUNT(*), AVG(duration_ms)
                 FROM runs WHERE {filter} started_at >= ?1 AND started_at < ?2
                 GROUP BY canary, bucket ORDER BY bucket, canary"
            );
            (sql, millis(query.since))
        };
        let conn = self.lock();
        let rows: Vec<Row> = conn
            .prepare_cached(&sql)
            .and_then(|mut stmt| {
                let args = params![since, millis(query.until), width, query.canary];
                stmt.query_map(args, |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?))
                })?
                .collect()
            })
            .map_err(self.query_err("count runs by time"))?;
        drop(conn);
        rows.into_iter()
            .map(|(canary, bucket, passed, runs, mean_duration_ms)| {
                Ok(RunBucket {
                    start: rows::bucket_start(&self.db, bucket)?,
                    canary,
                    passed,
                    runs,
                    mean_duration_ms,
                })
            })
            .collect()
    }

    fn step_buckets(&self, query: &BucketQuery) -> Result<Vec<StepBucket>, StoreError> {
        let width = query.bucket_secs.max(1) * 1000;
        let conn = self.lock();
        let rows: Vec<(String, i64, f64)> = conn
            .prepare_cached(
                "SELECT s.name, (r.started_at / ?3) * ?3 AS bucket, AVG(s.duration_ms)
                 FROM runs r JOIN steps s ON s.run_id = r.run_id
                 WHERE r.canary = ?4 AND r.started_at >= ?1 AND r.started_at < ?2
                 GROUP BY s.name, bucket ORDER BY bucket, MIN(s.idx)",
            )
            .and_then(|mut stmt| {
                let args = params![millis(query.since), millis(query.until), width, query.canary];
                stmt.query_map(args, |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?.collect()
            })
            .map_err(self.query_err("average step durations by time"))?;
        drop(conn);
        rows.into_iter()
            .map(|(step, bucket, mean_duration_ms)| {
                Ok(StepBucket { step, start: rows::bucket_start(&self.db, bucket)?, mean_duration_ms })
            })
            .collect()
    }
}
