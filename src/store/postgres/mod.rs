//! The PostgreSQL store: run history shared by several daemons (`store: postgres://…`).
//!
//! The same data as the SQLite store, with the same answers: times as integer milliseconds,
//! reports whole as JSON, identifiers sorted bytewise. Connections live on their own threads
//! (see [`connections`]); every call has a deadline.

mod claims;
mod connections;
mod schema;

pub use schema::PG_SCHEMA_VERSION;

use std::str::FromStr;

use chrono::{DateTime, Utc};
use postgres::types::ToSql;
use postgres::{Client, Row};

use self::connections::Connections;
use super::rows::{self, SUMMARY_COLUMNS, SummaryRow, millis};
use super::{
    AlarmRecord, AlarmTransition, BucketQuery, FailoverChange, MIN_RUN_ID_PREFIX, MetricQuery, RunBucket,
    RunPage, RunSummary, SlotClaim, StepBucket, Store, StoreError, VersionDrift,
};
use crate::report::{Datapoint, RunReport};

/// Connections each store keeps open at most.
const CONNECTIONS: usize = 4;

/// An hour in milliseconds: the width of `run_hours`' buckets.
const HOUR_MS: i64 = 3_600_000;

/// Run history in a PostgreSQL database.
pub struct PostgresStore {
    connections: Connections,
    /// One connection of its own, holding the leader's advisory lock while this process leads.
    leader: Connections,
    db: String,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").field("db", &self.db).finish_non_exhaustive()
    }
}

/// Whether `store` names a PostgreSQL database (`postgres://` or `postgresql://`).
pub fn is_postgres_url(store: &str) -> bool {
    store.starts_with("postgres://") || store.starts_with("postgresql://")
}

/// The URL as shown in messages: without its password.
pub fn shown_url(store: &str) -> String {
    match url::Url::parse(store) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => store.to_string(),
    }
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user[:password]@host[:port]/db`) and
    /// brings its schema up to date. The server must accept a connection without TLS.
    pub fn open(url: &str) -> Result<PostgresStore, StoreError> {
        let db = shown_url(url);
        let config = postgres::Config::from_str(url)
            .map_err(|source| StoreError::Open { db: db.clone(), source: source.into() })?;
        let store = PostgresStore {
            connections: Connections::start(config.clone(), db.clone(), CONNECTIONS),
            leader: Connections::start(config, db.clone(), 1),
            db,
        };
        let migrated =
            store.connections.call("bring the schema up to date", schema::migrate).map_err(|e| match e {
                StoreError::Query { db, source, .. } => StoreError::Open { db, source },
                other => other,
            })?;
        match migrated {
            schema::Migrated::Current => Ok(store),
            schema::Migrated::TooNew(found) => Err(schema::too_new(&store.db, found)),
        }
    }

    /// Runs one query and turns each row into `T` (on the connection's thread).
    fn rows<T: Send + 'static>(
        &self,
        what: impl Into<String>,
        sql: String,
        params: Vec<Param>,
        read: fn(&Row) -> Result<T, postgres::Error>,
    ) -> Result<Vec<T>, StoreError> {
        self.connections.call(what, move |client: &mut Client| {
            let refs: Vec<&(dyn ToSql + Sync)> =
                params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect();
            client.query(&sql, &refs)?.iter().map(read).collect()
        })
    }

    fn summaries(
        &self,
        what: String,
        sql: String,
        params: Vec<Param>,
    ) -> Result<Vec<RunSummary>, StoreError> {
        self.rows(what, sql, params, read_summary)?
            .into_iter()
            .map(|row| row.into_summary(&self.db))
            .collect()
    }

    fn count(&self, what: &str, value: i64) -> Result<u32, StoreError> {
        u32::try_from(value)
            .map_err(|_| rows::corrupt(&self.db, format!("{what}: count {value} is out of range")))
    }
}

/// A query parameter handed to a connection thread.
type Param = Box<dyn ToSql + Send + Sync>;

fn param(value: impl ToSql + Send + Sync + 'static) -> Param {
    Box::new(value)
}

fn read_summary(row: &Row) -> Result<SummaryRow, postgres::Error> {
    Ok(SummaryRow {
        run_id: row.try_get(0)?,
        canary: row.try_get(1)?,
        attempt: row.try_get(2)?,
        status: row.try_get(3)?,
        reason: row.try_get(4)?,
        started_at: row.try_get(5)?,
        duration_ms: row.try_get(6)?,
        artifacts: row.try_get(7)?,
    })
}

/// Writes one run: its row, its steps and its datapoints (each in one statement).
fn write_run(client: &mut Client, run: &RunRow, datapoints: &[Datapoint]) -> Result<(), postgres::Error> {
    let mut tx = client.transaction()?;
    tx.execute("DELETE FROM runs WHERE run_id = $1", &[&run.run_id])?;
    tx.execute(
        "INSERT INTO runs (run_id, canary, attempt, blueprint, status, reason, started_at, ended_at,
                           duration_ms, artifacts, report_json, location)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        &[
            &run.run_id,
            &run.canary,
            &run.attempt,
            &run.blueprint,
            &run.status,
            &run.reason,
            &run.started_at,
            &run.ended_at,
            &run.duration_ms,
            &run.artifacts,
            &run.json,
            &run.location,
        ],
    )?;
    let steps = &run.steps;
    tx.execute(
        "INSERT INTO steps (run_id, idx, name, status, reason, started_at, duration_ms)
         SELECT $1, * FROM UNNEST($2::BIGINT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::BIGINT[],
                                  $7::DOUBLE PRECISION[])",
        &[
            &run.run_id,
            &steps.index,
            &steps.name,
            &steps.status,
            &steps.reason,
            &steps.started_at,
            &steps.duration_ms,
        ],
    )?;
    let metric: Vec<&str> = datapoints.iter().map(|p| p.metric.as_str()).collect();
    let canary: Vec<&str> = datapoints.iter().map(|p| p.canary.as_str()).collect();
    let step: Vec<Option<&str>> = datapoints.iter().map(|p| p.step.as_deref()).collect();
    let ts: Vec<i64> = datapoints.iter().map(|p| millis(p.timestamp)).collect();
    let value: Vec<f64> = datapoints.iter().map(|p| p.value).collect();
    let location: Vec<Option<&str>> = datapoints.iter().map(|p| p.location.as_deref()).collect();
    tx.execute(
        "INSERT INTO datapoints (run_id, metric, canary, step, ts, value, location)
         SELECT $1, * FROM UNNEST($2::TEXT[], $3::TEXT[], $4::TEXT[], $5::BIGINT[], $6::DOUBLE PRECISION[],
                                  $7::TEXT[])",
        &[&run.run_id, &metric, &canary, &step, &ts, &value, &location],
    )?;
    tx.commit()
}

/// A run as its rows, owned so that it can travel to a connection thread.
struct RunRow {
    run_id: String,
    canary: String,
    attempt: i64,
    blueprint: String,
    status: &'static str,
    reason: Option<String>,
    started_at: i64,
    ended_at: i64,
    duration_ms: f64,
    artifacts: String,
    json: String,
    location: Option<String>,
    steps: StepColumns,
}

/// A run's steps, column by column (for `UNNEST`).
#[derive(Default)]
struct StepColumns {
    index: Vec<i64>,
    name: Vec<String>,
    status: Vec<&'static str>,
    reason: Vec<Option<String>>,
    started_at: Vec<i64>,
    duration_ms: Vec<f64>,
}

impl RunRow {
    fn new(report: &RunReport, json: String) -> RunRow {
        let mut steps = StepColumns::default();
        for step in &report.steps {
            steps.index.push(i64::from(step.index));
            steps.name.push(step.name.clone());
            steps.status.push(step.status.as_str());
            steps.reason.push(step.reason.clone());
            steps.started_at.push(millis(step.start));
            steps.duration_ms.push(step.duration_ms);
        }
        RunRow {
            run_id: report.run_id.clone(),
            canary: report.canary.clone(),
            attempt: i64::from(report.attempt),
            blueprint: report.blueprint.clone(),
            status: report.status.as_str(),
            reason: report.reason.clone(),
            started_at: millis(report.start),
            ended_at: millis(report.end),
            duration_ms: report.duration_ms,
            artifacts: report.artifacts.clone(),
            json,
            location: report.location.clone(),
            steps,
        }
    }
}

impl Store for PostgresStore {
    fn save_run(&self, report: &RunReport, datapoints: &[Datapoint]) -> Result<(), StoreError> {
        let what = format!("save run {} of canary `{}`", report.run_id, report.canary);
        let json = serde_json::to_string(report).map_err(|e| StoreError::Query {
            db: self.db.clone(),
            what: what.clone(),
            source: e.into(),
        })?;
        let run = RunRow::new(report, json);
        let datapoints = datapoints.to_vec();
        self.connections.call(what, move |client: &mut Client| write_run(client, &run, &datapoints))
    }

    fn runs(&self, canary: &str, page: RunPage) -> Result<Vec<RunSummary>, StoreError> {
        let limit = i64::try_from(page.limit).unwrap_or(i64::MAX);
        let before = page.before.map_or(i64::MAX, millis);
        let mut params = vec![param(canary.to_string()), param(before), param(limit)];
        let status = match page.status {
            Some(status) => {
                params.push(param(status.as_str()));
                "AND status = $4"
            }
            None => "",
        };
        self.summaries(
            format!("list the runs of canary `{canary}`"),
            format!(
                "SELECT {SUMMARY_COLUMNS} FROM runs WHERE canary = $1 AND started_at < $2 {status}
                 ORDER BY started_at DESC, run_id DESC LIMIT $3"
            ),
            params,
        )
    }

    fn run(&self, run_id: &str) -> Result<Option<RunReport>, StoreError> {
        let what = format!("read run {run_id}");
        let id = run_id.to_string();
        let found = self.rows(
            what.clone(),
            "SELECT run_id, report_json FROM runs WHERE run_id = $1".to_string(),
            vec![param(id.clone())],
            |row| Ok((row.try_get::<_, String>(0)?, row.try_get::<_, String>(1)?)),
        )?;
        if let Some((id, json)) = found.into_iter().next() {
            return rows::decode_report(&self.db, &id, &json).map(Some);
        }
        if run_id.chars().count() < MIN_RUN_ID_PREFIX {
            return Ok(None);
        }
        // Ids sort bytewise (`COLLATE "C"`): every id starting with the prefix lies in
        // [prefix, prefix + U+10FFFF), a range the primary key answers; `left` keeps it exact.
        let upper = format!("{run_id}\u{10FFFF}");
        let found = self.rows(
            what,
            "SELECT run_id, report_json FROM runs
             WHERE run_id >= $1 AND run_id < $2 AND left(run_id, length($1)) = $1
             ORDER BY run_id LIMIT 11"
                .to_string(),
            vec![param(id), param(upper)],
            |row| Ok((row.try_get::<_, String>(0)?, row.try_get::<_, String>(1)?)),
        )?;
        rows::one_by_prefix(&self.db, run_id, found)
    }

    fn latest_runs(&self) -> Result<Vec<RunSummary>, StoreError> {
        self.summaries(
            "list the latest run of every canary".to_string(),
            format!(
                "SELECT DISTINCT ON (canary) {SUMMARY_COLUMNS} FROM runs
                 ORDER BY canary, started_at DESC, run_id DESC"
            ),
            Vec::new(),
        )
    }

    fn datapoints(&self, query: &MetricQuery) -> Result<Vec<Datapoint>, StoreError> {
        let what = format!(
            "read datapoints of metric `{}` of canary `{}`{}",
            query.metric,
            query.canary,
            query.step.as_deref().map(|s| format!(" step `{s}`")).unwrap_or_default()
        );
        let mut params = vec![
            param(query.canary.clone()),
            param(query.metric.clone()),
            param(millis(query.since)),
            param(millis(query.until)),
        ];
        // Two forms, so that either one uses the series index.
        let step = match &query.step {
            Some(step) => {
                params.push(param(step.clone()));
                "step = $5"
            }
            None => "step IS NULL",
        };
        let sql = format!(
            "SELECT step, ts, value, location FROM datapoints
             WHERE canary = $1 AND metric = $2 AND {step} AND ts >= $3 AND ts < $4 ORDER BY ts, id"
        );
        let found = self.rows(what, sql, params, |row| {
            Ok((
                row.try_get::<_, Option<String>>(0)?,
                row.try_get::<_, i64>(1)?,
                row.try_get::<_, f64>(2)?,
                row.try_get::<_, Option<String>>(3)?,
            ))
        })?;
        found
            .into_iter()
            .map(|(step, ts, value, location)| {
                Ok(Datapoint {
                    metric: query.metric.clone(),
                    canary: query.canary.clone(),
                    step,
                    location,
                    timestamp: rows::time(&self.db, ts, || format!("datapoint of `{}`", query.metric))?,
                    value,
                })
            })
            .collect()
    }

    fn run_datapoints(&self, run_id: &str) -> Result<Vec<Datapoint>, StoreError> {
        let found = self.rows(
            format!("read the datapoints of run {run_id}"),
            "SELECT metric, canary, step, ts, value, location FROM datapoints WHERE run_id = $1 ORDER BY id"
                .to_string(),
            vec![param(run_id.to_string())],
            |row| {
                Ok((
                    row.try_get::<_, String>(0)?,
                    row.try_get::<_, String>(1)?,
                    row.try_get::<_, Option<String>>(2)?,
                    row.try_get::<_, i64>(3)?,
                    row.try_get::<_, f64>(4)?,
                    row.try_get::<_, Option<String>>(5)?,
                ))
            },
        )?;
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
        self.summaries(
            format!("list expired runs of canary `{canary}`"),
            format!(
                "SELECT {SUMMARY_COLUMNS} FROM runs
                 WHERE canary = $1 AND started_at < $2 AND status {op} 'PASSED'
                 ORDER BY started_at, run_id"
            ),
            vec![param(canary.to_string()), param(millis(older_than))],
        )
    }

    fn delete_runs(&self, run_ids: &[String]) -> Result<usize, StoreError> {
        if run_ids.is_empty() {
            return Ok(0);
        }
        let ids = run_ids.to_vec();
        let deleted =
            self.connections.call(format!("delete {} runs", run_ids.len()), move |client: &mut Client| {
                client.execute("DELETE FROM runs WHERE run_id = ANY($1)", &[&ids])
            })?;
        Ok(usize::try_from(deleted).unwrap_or(usize::MAX))
    }

    fn alarm_states(&self) -> Result<Vec<AlarmRecord>, StoreError> {
        let found = self.rows(
            "read the alarm states",
            "SELECT alarm, state, reason, since FROM alarm_states ORDER BY alarm".to_string(),
            Vec::new(),
            |row| {
                Ok((
                    row.try_get::<_, String>(0)?,
                    row.try_get::<_, String>(1)?,
                    row.try_get::<_, String>(2)?,
                    row.try_get::<_, i64>(3)?,
                ))
            },
        )?;
        found
            .into_iter()
            .map(|(alarm, state, reason, since)| {
                let since = rows::time(&self.db, since, || format!("alarm `{alarm}`"))?;
                Ok(AlarmRecord { alarm, state, reason, since })
            })
            .collect()
    }

    fn record_alarm_transition(&self, transition: &AlarmTransition) -> Result<(), StoreError> {
        let t = transition.clone();
        self.connections.call(
            format!("record a transition of alarm `{}`", transition.alarm),
            move |client: &mut Client| {
                let mut tx = client.transaction()?;
                let ts = millis(t.time);
                tx.execute(
                    "INSERT INTO alarm_states (alarm, state, reason, since, updated_at) VALUES ($1, $2, $3, $4, $4)
                     ON CONFLICT (alarm) DO UPDATE SET state = $2, reason = $3, since = $4, updated_at = $4",
                    &[&t.alarm, &t.new_state, &t.reason, &ts],
                )?;
                tx.execute(
                    "INSERT INTO alarm_history (alarm, ts, old_state, new_state, reason) VALUES ($1, $2, $3, $4, $5)",
                    &[&t.alarm, &ts, &t.old_state, &t.new_state, &t.reason],
                )?;
                tx.commit()
            },
        )
    }

    fn alarm_history(&self, alarm: &str, limit: usize) -> Result<Vec<AlarmTransition>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let found = self.rows(
            format!("read the history of alarm `{alarm}`"),
            "SELECT ts, old_state, new_state, reason FROM alarm_history WHERE alarm = $1
             ORDER BY ts DESC, id DESC LIMIT $2"
                .to_string(),
            vec![param(alarm.to_string()), param(limit)],
            |row| {
                Ok((
                    row.try_get::<_, i64>(0)?,
                    row.try_get::<_, String>(1)?,
                    row.try_get::<_, String>(2)?,
                    row.try_get::<_, String>(3)?,
                ))
            },
        )?;
        found
            .into_iter()
            .map(|(ts, old_state, new_state, reason)| {
                let time = rows::time(&self.db, ts, || format!("alarm `{alarm}`"))?;
                Ok(AlarmTransition { alarm: alarm.to_string(), time, old_state, new_state, reason })
            })
            .collect()
    }

    fn has_run(&self, run_id: &str) -> Result<bool, StoreError> {
        let found = self.rows(
            format!("look up run {run_id}"),
            "SELECT 1 FROM runs WHERE run_id = $1".to_string(),
            vec![param(run_id.to_string())],
            |_| Ok(()),
        )?;
        Ok(!found.is_empty())
    }

    fn record_failover_change(&self, change: &FailoverChange) -> Result<(), StoreError> {
        let c = change.clone();
        self.connections.call(
            format!("record a change of failover `{}`", change.failover),
            move |client: &mut Client| {
                client
                    .execute(
                        "INSERT INTO failover_history (failover, record, ts, from_values, to_values, answer, why)
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                        &[
                            &c.failover,
                            &c.record,
                            &millis(c.time),
                            &rows::encode_values(&c.from),
                            &rows::encode_values(&c.to),
                            &c.answer,
                            &c.why,
                        ],
                    )
                    .map(|_| ())
            },
        )
    }

    fn failover_history(&self, failover: &str, limit: usize) -> Result<Vec<FailoverChange>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let found = self.rows(
            format!("read the history of failover `{failover}`"),
            "SELECT record, ts, from_values, to_values, answer, why FROM failover_history
             WHERE failover = $1 ORDER BY ts DESC, id DESC LIMIT $2"
                .to_string(),
            vec![param(failover.to_string()), param(limit)],
            |row| {
                Ok((
                    row.try_get::<_, String>(0)?,
                    row.try_get::<_, i64>(1)?,
                    row.try_get::<_, String>(2)?,
                    row.try_get::<_, String>(3)?,
                    row.try_get::<_, String>(4)?,
                    row.try_get::<_, String>(5)?,
                ))
            },
        )?;
        found
            .into_iter()
            .map(|(record, ts, from, to, answer, why)| {
                Ok(FailoverChange {
                    failover: failover.to_string(),
                    record,
                    time: rows::time(&self.db, ts, || format!("failover `{failover}`"))?,
                    from: rows::decode_values(&self.db, failover, &from)?,
                    to: rows::decode_values(&self.db, failover, &to)?,
                    answer,
                    why,
                })
            })
            .collect()
    }

    fn failovers(&self) -> Result<Vec<String>, StoreError> {
        self.rows(
            "list the failovers with history",
            "SELECT DISTINCT failover FROM failover_history ORDER BY failover".to_string(),
            Vec::new(),
            |row| row.try_get::<_, String>(0),
        )
    }

    fn run_buckets(&self, query: &BucketQuery) -> Result<Vec<RunBucket>, StoreError> {
        let width = query.bucket_secs.max(1) * 1000;
        let mut params: Vec<Param> = Vec::new();
        let filter = match &query.canary {
            Some(canary) => {
                params.push(param(canary.clone()));
                "canary = $4 AND"
            }
            None => "",
        };
        let (sql, since) = if width % HOUR_MS == 0 {
            let sql = format!(
                "SELECT canary, (hour / $3) * $3 AS bucket, SUM(passed)::BIGINT, SUM(runs)::BIGINT,
                        SUM(duration_ms) / SUM(runs)::DOUBLE PRECISION
                 FROM run_hours WHERE {filter} hour >= $1 AND hour < $2
                 GROUP BY canary, bucket ORDER BY bucket, canary"
            );
            (sql, millis(query.since).div_euclid(HOUR_MS) * HOUR_MS)
        } else {
            let sql = format!(
                "SELECT canary, (started_at / $3) * $3 AS bucket, COUNT(*) FILTER (WHERE status = 'PASSED'),
                        COUNT(*), AVG(duration_ms)
                 FROM runs WHERE {filter} started_at >= $1 AND started_at < $2
                 GROUP BY canary, bucket ORDER BY bucket, canary"
            );
            (sql, millis(query.since))
        };
        params.splice(0..0, [param(since), param(millis(query.until)), param(width)]);
        let found = self.rows("count runs by time", sql, params, |row| {
            Ok((
                row.try_get::<_, String>(0)?,
                row.try_get::<_, i64>(1)?,
                row.try_get::<_, i64>(2)?,
                row.try_get::<_, i64>(3)?,
                row.try_get::<_, f64>(4)?,
            ))
        })?;
        found
            .into_iter()
            .map(|(canary, bucket, passed, runs, mean_duration_ms)| {
                Ok(RunBucket {
                    start: rows::bucket_start(&self.db, bucket)?,
                    passed: self.count(&canary, passed)?,
                    runs: self.count(&canary, runs)?,
                    canary,
                    mean_duration_ms,
                })
            })
            .collect()
    }

    fn step_buckets(&self, query: &BucketQuery) -> Result<Vec<StepBucket>, StoreError> {
        let width = query.bucket_secs.max(1) * 1000;
        let found = self.rows(
            "average step durations by time",
            "SELECT s.name, (r.started_at / $3) * $3 AS bucket, AVG(s.duration_ms)
             FROM runs r JOIN steps s ON s.run_id = r.run_id
             WHERE r.canary = $4 AND r.started_at >= $1 AND r.started_at < $2
             GROUP BY s.name, bucket ORDER BY bucket, MIN(s.idx)"
                .to_string(),
            vec![
                param(millis(query.since)),
                param(millis(query.until)),
                param(width),
                param(query.canary.clone()),
            ],
            |row| Ok((row.try_get::<_, String>(0)?, row.try_get::<_, i64>(1)?, row.try_get::<_, f64>(2)?)),
        )?;
        found
            .into_iter()
            .map(|(step, bucket, mean_duration_ms)| {
                Ok(StepBucket { step, start: rows::bucket_start(&self.db, bucket)?, mean_duration_ms })
            })
            .collect()
    }

    fn is_shared(&self) -> bool {
        true
    }

    fn claim_slot(&self, claim: &SlotClaim) -> Result<bool, StoreError> {
        claims::claim(self, claim)
    }

    fn finish_slot(&self, claim: &SlotClaim) -> Result<(), StoreError> {
        claims::finish(self, claim)
    }

    fn abandoned_slots(
        &self,
        location: &str,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<SlotClaim>, StoreError> {
        claims::abandoned(self, location, now, limit)
    }

    fn try_lead(&self) -> Result<bool, StoreError> {
        claims::try_lead(self)
    }

    fn share_canary_versions(
        &self,
        runner: &str,
        versions: &[(String, String)],
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
    ) -> Result<Vec<VersionDrift>, StoreError> {
        claims::share_versions(self, runner, versions, now, stale_before)
    }
}
