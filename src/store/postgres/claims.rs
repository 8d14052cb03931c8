//! Exactly one run per schedule slot, and one leader, for daemons sharing a database.
//!
//! A slot is a row of `slot_claims` keyed by (canary, location, slot time). The first runner to
//! insert it holds it; another may take it over only once the holder's claim expired without
//! the slot being done (the holder died mid-run). One `INSERT … ON CONFLICT … WHERE` decides
//! both atomically, so two runners never hold one slot at once.
//!
//! The leader holds a session-level advisory lock on a connection of its own: when its process
//! dies, the server ends the session and the lock is free for the next runner that asks.

use chrono::{DateTime, Utc};
use postgres::Client;

use super::PostgresStore;
use crate::store::rows::{self, millis};
use crate::store::{SlotClaim, StoreError, VersionDrift};

/// Any fixed number: the advisory lock the leader holds.
const LEADER_LOCK: i64 = 0x6176_6961_7279_0002;

/// Done claims are kept this long (for counting runs per slot), then removed.
const KEEP_DONE_MS: i64 = 3_600_000;

pub(super) fn claim(store: &PostgresStore, claim: &SlotClaim) -> Result<bool, StoreError> {
    let c = claim.clone();
    let now = millis(Utc::now());
    store.connections.call(
        format!("claim slot {} of canary `{}`", c.slot, c.canary),
        move |client: &mut Client| {
            let got = client.query_opt(
                "INSERT INTO slot_claims AS c (canary, location, slot, runner, expires_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (canary, location, slot) DO UPDATE
                 SET runner = excluded.runner, expires_at = excluded.expires_at,
                     takeovers = c.takeovers + CASE WHEN c.runner = excluded.runner THEN 0 ELSE 1 END
                 WHERE NOT c.done AND (c.runner = excluded.runner OR c.expires_at < $6)
             RETURNING runner",
                &[&c.canary, &c.location, &millis(c.slot), &c.runner, &millis(c.expires), &now],
            )?;
            Ok(got.is_some())
        },
    )
}

pub(super) fn finish(store: &PostgresStore, claim: &SlotClaim) -> Result<(), StoreError> {
    let c = claim.clone();
    store.connections.call(format!("finish slot {} of canary `{}`", c.slot, c.canary), move |client: &mut Client| {
        client.execute(
            "UPDATE slot_claims SET done = true WHERE canary = $1 AND location = $2 AND slot = $3 AND runner = $4",
            &[&c.canary, &c.location, &millis(c.slot), &c.runner],
        )?;
        Ok(())
    })
}

pub(super) fn abandoned(
    store: &PostgresStore,
    location: &str,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<SlotClaim>, StoreError> {
    let location_owned = location.to_string();
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let now = millis(now);
    let found = store.connections.call(
        format!("list abandoned slots of location `{location}`"),
        move |client: &mut Client| {
            client.execute("DELETE FROM slot_claims WHERE done AND slot < $1", &[&(now - KEEP_DONE_MS)])?;
            let rows = client.query(
                "SELECT canary, slot, runner, expires_at FROM slot_claims
             WHERE location = $1 AND NOT done AND expires_at < $2 ORDER BY slot LIMIT $3",
                &[&location_owned, &now, &limit],
            )?;
            rows.iter()
                .map(|row| {
                    Ok((
                        row.try_get::<_, String>(0)?,
                        row.try_get::<_, i64>(1)?,
                        row.try_get::<_, String>(2)?,
                        row.try_get::<_, i64>(3)?,
                    ))
                })
                .collect::<Result<Vec<_>, postgres::Error>>()
        },
    )?;
    found
        .into_iter()
        .map(|(canary, slot, runner, expires)| {
            Ok(SlotClaim {
                slot: rows::time(&store.db, slot, || format!("slot of canary `{canary}`"))?,
                expires: rows::time(&store.db, expires, || format!("claim of canary `{canary}`"))?,
                location: location.to_string(),
                canary,
                runner,
            })
        })
        .collect()
}

pub(super) fn try_lead(store: &PostgresStore) -> Result<bool, StoreError> {
    store.leader.call("take or keep the alarm leader's lock", |client: &mut Client| {
        // The session keeps the lock: asking again while holding it would stack it, so look first.
        let row = client.query_one(
            "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
                                      AND pid = pg_backend_pid())
                    THEN true ELSE pg_try_advisory_lock($1) END",
            &[&LEADER_LOCK],
        )?;
        row.try_get(0)
    })
}

pub(super) fn share_versions(
    store: &PostgresStore,
    runner: &str,
    versions: &[(String, String)],
    now: DateTime<Utc>,
    stale_before: DateTime<Utc>,
) -> Result<Vec<VersionDrift>, StoreError> {
    let runner = runner.to_string();
    let canaries: Vec<String> = versions.iter().map(|(c, _)| c.clone()).collect();
    let hashes: Vec<String> = versions.iter().map(|(_, v)| v.clone()).collect();
    let (now, stale) = (millis(now), millis(stale_before));
    let rows = store.connections.call("share the canary versions this runner loaded", move |client: &mut Client| {
        let mut tx = client.transaction()?;
        tx.execute("DELETE FROM canary_versions WHERE runner = $1 OR seen_at < $2", &[&runner, &stale])?;
        tx.execute(
            "INSERT INTO canary_versions (canary, runner, version, seen_at)
             SELECT c, $1, v, $2 FROM UNNEST($3::TEXT[], $4::TEXT[]) AS u (c, v)",
            &[&runner, &now, &canaries, &hashes],
        )?;
        let rows = tx.query(
            "SELECT canary, version, array_agg(runner ORDER BY runner) FROM canary_versions
             WHERE canary IN (SELECT canary FROM canary_versions GROUP BY canary HAVING COUNT(DISTINCT version) > 1)
             GROUP BY canary, version ORDER BY canary, version",
            &[],
        )?;
        tx.commit()?;
        rows.iter()
            .map(|r| Ok((r.try_get::<_, String>(0)?, r.try_get::<_, String>(1)?, r.try_get::<_, Vec<String>>(2)?)))
            .collect::<Result<Vec<_>, postgres::Error>>()
    })?;
    let mut drift: Vec<VersionDrift> = Vec::new();
    for (canary, version, runners) in rows {
        match drift.last_mut() {
            Some(last) if last.canary == canary => last.versions.push((version, runners)),
            _ => drift.push(VersionDrift { canary, versions: vec![(version, runners)] }),
        }
    }
    Ok(drift)
}
