//! The daemon's timer queue: one binary heap of next-fire times for every canary, the skip rule,
//! and the FIFO of due runs waiting for a free slot. Pure: every method takes `now`, so tests
//! drive it with their own clock.
//!
//! Rules:
//! - a canary has at most one run queued or running; a fire that finds it busy is *skipped*
//!   (counted per canary) and its next fire is computed as usual — runs never pile up;
//! - due runs wait for a free slot (`runner.max_concurrency`) in order of their due time;
//!   lateness is `start - due`;
//! - after a fire at `t` the next fire is `schedule.next_after(t)`; when that is already past
//!   (the daemon was stopped or suspended), `schedule.next_after(now)`, so missed fires are not
//!   caught up in a burst;
//! - every time is computed with checked arithmetic: a canary whose next fire cannot be computed
//!   (it would lie past the end of representable time) is logged and left out of the queue, and
//!   every other canary keeps its schedule.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::spec::Schedule;

/// One entry of the heap. Entries of an older generation of their canary are stale and dropped
/// when they reach the top (changing or removing a canary never searches the heap).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Timer {
    at: DateTime<Utc>,
    seq: u64,
    canary: String,
    generation: u64,
    trigger: Trigger,
}

/// Why a run was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Trigger {
    /// The daemon started.
    Start,
    /// A fire of the canary's schedule.
    Schedule,
    /// The canary was added or changed by a reload.
    Reload,
    /// Run-now through the API.
    Api,
}

impl Trigger {
    /// The trigger's name in runs and logs: `start`, `schedule`, `reload` or `api`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Schedule => "schedule",
            Self::Reload => "reload",
            Self::Api => "api",
        }
    }
}

#[derive(Debug)]
struct Slot {
    schedule: Schedule,
    generation: u64,
    next_fire: Option<DateTime<Utc>>,
}

/// A due run waiting for a slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Due {
    /// The canary to run.
    pub canary: String,
    /// The scheduled fire time (or when run-now was asked).
    pub due: DateTime<Utc>,
    /// Why the run was queued.
    pub trigger: Trigger,
}

/// A run the caller should start now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Start {
    /// The canary to run.
    pub canary: String,
    /// The scheduled fire time (or when run-now was asked).
    pub due: DateTime<Utc>,
    /// Why the run was started.
    pub trigger: Trigger,
    /// `start - due` (zero when early).
    pub lateness: Duration,
}

/// A fire that found its canary still queued or running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    /// The busy canary.
    pub canary: String,
    /// The fire time that was skipped.
    pub due: DateTime<Utc>,
}

/// Why a run could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueError {
    /// No canary of that name is scheduled.
    Unknown,
    /// The canary already has a run queued or running.
    Busy,
}

/// The timer queue and run slots.
#[derive(Debug)]
pub struct Scheduler {
    heap: BinaryHeap<Reverse<Timer>>,
    seq: u64,
    next_generation: u64,
    slots: HashMap<String, Slot>,
    /// Canaries with a run queued or running.
    busy: HashSet<String>,
    pending: VecDeque<Due>,
    running: usize,
    max_concurrency: usize,
    skipped: HashMap<String, u64>,
    /// Spread `rate(...)` canaries over their period (see [`Self::spread_rates`]).
    spread: bool,
}

impl Scheduler {
    /// An empty scheduler running at most `max_concurrency` runs at once (at least 1).
    pub fn new(max_concurrency: usize) -> Self {
        Self {
            heap: BinaryHeap::new(),
            seq: 0,
            next_generation: 0,
            slots: HashMap::new(),
            busy: HashSet::new(),
            pending: VecDeque::new(),
            running: 0,
            max_concurrency: max_concurrency.max(1),
            skipped: HashMap::new(),
            spread: false,
        }
    }

    /// Fires of `rate(...)` canaries fall on a grid shifted by a stable per-canary offset
    /// (a hash of the name modulo the period, as Prometheus spreads its scrapes), so thousands of
    /// canaries with the same rate do not all fire in the same millisecond. Without it, a rate
    /// fires every period from its previous fire.
    pub fn spread_rates(mut self) -> Self {
        self.spread = true;
        self
    }

    /// The canary's first fire strictly after `after`.
    pub fn next_after(
        &self,
        canary: &str,
        schedule: &Schedule,
        after: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        match schedule {
            Schedule::Rate(period) if self.spread => {
                let period = i64::try_from(period.as_millis()).ok().filter(|p| *p > 0)?;
                let offset = i64::try_from(stable_hash(canary) % period.unsigned_abs()).ok()?;
                let since = after.timestamp_millis().checked_sub(offset)?;
                let next =
                    since.div_euclid(period).checked_add(1)?.checked_mul(period)?.checked_add(offset)?;
                DateTime::from_timestamp_millis(next)
            }
            _ => schedule.next_after(after),
        }
    }

    /// Sets how many runs may run at once (at least 1); runs already started are not stopped.
    pub fn set_max_concurrency(&mut self, max: usize) {
        self.max_concurrency = max.max(1);
    }

    /// Schedules a canary (replacing what was scheduled under its name): its first fire is
    /// `now` when `run_at_once`, else its schedule's next fire after `now`.
    pub fn insert(&mut self, canary: &str, schedule: Schedule, now: DateTime<Utc>, at_once: Option<Trigger>) {
        self.next_generation += 1;
        let generation = self.next_generation;
        let first = match at_once {
            Some(trigger) => Some((now, trigger)),
            None => {
                let next = self.next_after(canary, &schedule, now);
                if next.is_none() {
                    log_no_next_fire(canary, &schedule);
                }
                next.map(|at| (at, Trigger::Schedule))
            }
        };
        self.slots.insert(canary.to_string(), Slot { schedule, generation, next_fire: None });
        if let Some((at, trigger)) = first {
            self.push(canary, at, generation, trigger);
        }
    }

    /// Unschedules a canary. A queued run of it is dropped; a running one finishes.
    pub fn remove(&mut self, canary: &str) {
        self.slots.remove(canary);
        if let Some(i) = self.pending.iter().position(|d| d.canary == canary) {
            self.pending.remove(i);
            self.busy.remove(canary);
        }
    }

    /// Whether a canary of that name is scheduled.
    pub fn contains(&self, canary: &str) -> bool {
        self.slots.contains_key(canary)
    }

    /// The canary's next fire time; `None` when it is not scheduled or has no next fire.
    pub fn next_fire(&self, canary: &str) -> Option<DateTime<Utc>> {
        self.slots.get(canary).and_then(|s| s.next_fire)
    }

    /// Whether the canary has a run queued or running.
    pub fn is_busy(&self, canary: &str) -> bool {
        self.busy.contains(canary)
    }

    /// How many fires each canary has skipped because it was busy, by canary name.
    pub fn skipped(&self) -> &HashMap<String, u64> {
        &self.skipped
    }

    /// How many due runs are waiting for a free slot.
    pub fn queued(&self) -> usize {
        self.pending.len()
    }

    /// How many runs are in progress.
    pub fn running(&self) -> usize {
        self.running
    }

    /// When the earliest live timer fires.
    pub fn next_wakeup(&mut self) -> Option<DateTime<Utc>> {
        while let Some(Reverse(top)) = self.heap.peek() {
            if self.is_live(top) {
                return Some(top.at);
            }
            self.heap.pop();
        }
        None
    }

    /// Fires every timer due at `now`: queues a run of each idle canary, counts a skip for each
    /// busy one, and computes every fired canary's next fire.
    pub fn fire_due(&mut self, now: DateTime<Utc>) -> Vec<Skip> {
        let mut skips = Vec::new();
        while let Some(Reverse(top)) = self.heap.peek() {
            if top.at > now {
                break;
            }
            let Some(Reverse(timer)) = self.heap.pop() else { break };
            if !self.is_live(&timer) {
                continue;
            }
            if self.busy.contains(&timer.canary) {
                *self.skipped.entry(timer.canary.clone()).or_default() += 1;
                skips.push(Skip { canary: timer.canary.clone(), due: timer.at });
            } else {
                self.enqueue(Due { canary: timer.canary.clone(), due: timer.at, trigger: timer.trigger });
            }
            let slot = &self.slots[&timer.canary];
            // After a run out of schedule (start, reload, API), a spread rate's next fire is at
            // least half a period away: runs at start are not followed by one a second later.
            let from = match &slot.schedule {
                Schedule::Rate(period) if self.spread && timer.trigger != Trigger::Schedule => {
                    chrono::Duration::from_std(*period / 2)
                        .ok()
                        .and_then(|half| timer.at.checked_add_signed(half))
                        .unwrap_or(timer.at)
                }
                _ => timer.at,
            };
            let next = match self.next_after(&timer.canary, &slot.schedule, from) {
                Some(next) if next <= now => self.next_after(&timer.canary, &slot.schedule, now),
                other => other,
            };
            if next.is_none() {
                log_no_next_fire(&timer.canary, &slot.schedule);
            }
            let generation = slot.generation;
            if let Some(slot) = self.slots.get_mut(&timer.canary) {
                slot.next_fire = next;
            }
            if let Some(at) = next {
                self.push(&timer.canary, at, generation, Trigger::Schedule);
            }
        }
        skips
    }

    /// Queues a run of the canary now, outside its schedule.
    pub fn run_now(&mut self, canary: &str, now: DateTime<Utc>) -> Result<(), QueueError> {
        self.queue(Due { canary: canary.to_string(), due: now, trigger: Trigger::Api })
    }

    /// Queues a run of a slot another runner left unfinished (see `daemon::claims`).
    pub fn queue_slot(&mut self, canary: &str, slot: DateTime<Utc>) -> Result<(), QueueError> {
        self.queue(Due { canary: canary.to_string(), due: slot, trigger: Trigger::Schedule })
    }

    fn queue(&mut self, due: Due) -> Result<(), QueueError> {
        if !self.slots.contains_key(&due.canary) {
            return Err(QueueError::Unknown);
        }
        if self.busy.contains(&due.canary) {
            return Err(QueueError::Busy);
        }
        self.enqueue(due);
        Ok(())
    }

    /// Takes queued runs, oldest due first, while slots are free.
    pub fn start_ready(&mut self, now: DateTime<Utc>) -> Vec<Start> {
        let mut starts = Vec::new();
        while self.running < self.max_concurrency {
            let Some(due) = self.pending.pop_front() else { break };
            self.running += 1;
            let lateness = (now - due.due).to_std().unwrap_or_default();
            starts.push(Start { canary: due.canary, due: due.due, trigger: due.trigger, lateness });
        }
        starts
    }

    /// A run started by [`Self::start_ready`] has ended.
    pub fn finished(&mut self, canary: &str) {
        self.running = self.running.saturating_sub(1);
        self.busy.remove(canary);
    }

    /// Drops every queued run (shutdown); returns how many there were.
    pub fn clear_queue(&mut self) -> usize {
        let dropped = self.pending.len();
        for due in self.pending.drain(..) {
            self.busy.remove(&due.canary);
        }
        self.heap.clear();
        self.slots.clear();
        dropped
    }

    fn enqueue(&mut self, due: Due) {
        self.busy.insert(due.canary.clone());
        let at = self.pending.partition_point(|d| d.due <= due.due);
        self.pending.insert(at, due);
    }

    fn push(&mut self, canary: &str, at: DateTime<Utc>, generation: u64, trigger: Trigger) {
        self.seq += 1;
        if let Some(slot) = self.slots.get_mut(canary) {
            slot.next_fire = Some(at);
        }
        self.heap.push(Reverse(Timer { at, seq: self.seq, canary: canary.to_string(), generation, trigger }));
    }

    fn is_live(&self, timer: &Timer) -> bool {
        self.slots.get(&timer.canary).is_some_and(|s| s.generation == timer.generation)
    }
}

/// A task that panicked, with the panic's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Panicked(pub String);

/// Awaits `task`; `Err` with the panic's message when it panicked.
pub async fn catch_panic(task: impl std::future::Future<Output = ()>) -> Result<(), Panicked> {
    use futures::FutureExt;
    std::panic::AssertUnwindSafe(task).catch_unwind().await.map_err(|payload| {
        Panicked(
            payload
                .downcast_ref::<&str>()
                .map(ToString::to_string)
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "it panicked".to_string()),
        )
    })
}

/// A canary without a next fire is left out of the queue; only `once` is expected to end so.
fn log_no_next_fire(canary: &str, schedule: &Schedule) {
    if !matches!(schedule, Schedule::Once) {
        tracing::warn!(
            canary,
            schedule = %schedule,
            "no next fire time can be computed for this schedule; the canary is left out of the schedule"
        );
    }
}

/// FNV-1a: stable across runs and builds (the std hasher is not).
fn stable_hash(text: &str) -> u64 {
    text.bytes()
        .fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn rate(minutes: u64) -> Schedule {
        Schedule::Rate(Duration::from_secs(minutes * 60))
    }

    fn names(starts: &[Start]) -> Vec<&str> {
        starts.iter().map(|s| s.canary.as_str()).collect()
    }

    #[test]
    fn runs_at_start_then_by_schedule() {
        let t0 = at("2024-01-01T00:00:00Z");
        let mut s = Scheduler::new(4);
        s.insert("a", rate(1), t0, Some(Trigger::Start));
        s.insert("b", Schedule::parse("*/5 * * * *").unwrap(), t0, Some(Trigger::Start));
        assert_eq!(s.next_wakeup(), Some(t0));
        assert!(s.fire_due(t0).is_empty());
        assert_eq!(names(&s.start_ready(t0)), ["a", "b"]);
        assert_eq!(s.next_fire("a"), Some(at("2024-01-01T00:01:00Z")));
        assert_eq!(s.next_fire("b"), Some(at("2024-01-01T00:05:00Z")));
        s.finished("a");
        s.finished("b");
        assert_eq!(s.next_wakeup(), Some(at("2024-01-01T00:01:00Z")));
        // Nothing is due early.
        s.fire_due(at("2024-01-01T00:00:59Z"));
        assert!(s.start_ready(at("2024-01-01T00:00:59Z")).is_empty());
        let t1 = at("2024-01-01T00:01:00Z");
        s.fire_due(t1);
        assert_eq!(names(&s.start_ready(t1)), ["a"]);
    }

    #[test]
    fn a_spread_rate_in_seconds_fires_every_period() {
        let t0 = at("2024-01-01T00:00:00Z");
        let mut s = Scheduler::new(4).spread_rates();
        s.insert("fast", Schedule::parse("rate(30 seconds)").unwrap(), t0, None);
        let first = s.next_fire("fast").unwrap();
        assert!(first > t0 && first <= t0 + chrono::Duration::seconds(30), "{first}");
        s.fire_due(first);
        assert_eq!(names(&s.start_ready(first)), ["fast"]);
        s.finished("fast");
        assert_eq!(s.next_fire("fast"), Some(first + chrono::Duration::seconds(30)));
    }

    #[test]
    fn without_run_at_once_the_first_fire_is_the_schedule() {
        let t0 = at("2024-01-01T00:00:30Z");
        let mut s = Scheduler::new(4);
        s.insert("a", Schedule::parse("*/5 * * * *").unwrap(), t0, None);
        assert_eq!(s.next_wakeup(), Some(at("2024-01-01T00:05:00Z")));
    }

    #[test]
    fn a_schedule_past_the_end_of_time_leaves_only_its_canary_out() {
        let t0 = at("2024-01-01T00:00:00Z");
        for spread in [false, true] {
            let mut s = if spread { Scheduler::new(4).spread_rates() } else { Scheduler::new(4) };
            let huge = Schedule::Rate(Duration::from_secs(u64::MAX / 2));
            s.insert("huge", huge.clone(), t0, Some(Trigger::Start));
            s.insert("later", huge, t0, None);
            s.insert("ok", rate(1), t0, Some(Trigger::Start));
            s.fire_due(t0);
            assert_eq!(names(&s.start_ready(t0)), ["huge", "ok"], "spread: {spread}");
            assert_eq!(s.next_fire("huge"), None);
            assert_eq!(s.next_fire("later"), None);
            s.finished("huge");
            s.finished("ok");
            let t1 = at("2024-01-01T00:01:00Z");
            s.fire_due(t1 + chrono::Duration::seconds(60));
            assert_eq!(names(&s.start_ready(t1 + chrono::Duration::seconds(60))), ["ok"]);
        }
    }

    #[tokio::test]
    async fn a_panicking_task_is_caught_with_its_message() {
        assert_eq!(catch_panic(async {}).await, Ok(()));
        let caught = catch_panic(async { panic!("overflowed at {}", 42) }).await;
        assert_eq!(caught, Err(Panicked("overflowed at 42".to_string())));
    }

    #[test]
    fn once_runs_once() {
        let t0 = at("2024-01-01T00:00:00Z");
        let mut s = Scheduler::new(4);
        s.insert("o", Schedule::Once, t0, Some(Trigger::Start));
        s.fire_due(t0);
        assert_eq!(names(&s.start_ready(t0)), ["o"]);
        s.finished("o");
        assert_eq!(s.next_fire("o"), None);
        assert_eq!(s.next_wakeup(), None);
    }

    #[test]
    fn a_busy_canary_skips_its_fire_and_is_counted() {
        let t0 = at("2024-01-01T00:00:00Z");
        let mut s = Scheduler::new(4);
        s.insert("slow", rate(1), t0, Some(Trigger::Start));
        s.fire_due(t0);
        assert_eq!(s.start_ready(t0).len(), 1);
        // Still running at 00:01 and 00:02: two skips, no queued run.
        let skips = s.fire_due(at("2024-01-01T00:01:00Z"));
        assert_eq!(skips, [Skip { canary: "slow".into(), due: at("2024-01-01T00:01:00Z") }]);
        s.fire_due(at("2024-01-01T00:02:00Z"));
        assert_eq!(s.skipped()["slow"], 2);
        assert_eq!(s.queued(), 0);
        assert!(s.start_ready(at("2024-01-01T00:02:00Z")).is_empty());
        s.finished("slow");
        let t3 = at("2024-01-01T00:03:00Z");
        assert!(s.fire_due(t3).is_empty());
        assert_eq!(names(&s.start_ready(t3)), ["slow"]);
    }

    #[test]
    fn a_queued_canary_also_skips() {
        let t0 = at("2024-01-01T00:00:00Z");
        let mut s = Scheduler::new(1);
        s.insert("a", rate(1), t0, Some(Trigger::Start));
        s.insert("b", rate(1), t0 + chrono::Duration::milliseconds(1), Some(Trigger::Start));
        s.fire_due(t0 + chrono::Duration::milliseconds(1));
        assert_eq!(names(&s.start_ready(t0)), ["a"]);
        // b waits for a's slot through its next fire: skipped, not queued twice.
        let skips = s.fire_due(at("2024-01-01T00:01:00.001Z"));
        // (a, still running, skips too.)
        let mut skipped: Vec<&str> = skips.iter().map(|s| s.canary.as_str()).collect();
        skipped.sort_unstable();
        assert_eq!(skipped, ["a", "b"]);
        assert_eq!(s.queued(), 1);
        assert_eq!(s.skipped()["b"], 1);
    }

    #[test]
    fn full_slots_wait_in_due_order_and_lateness_is_measured() {
        let t0 = at("2024-01-01T00:00:00Z");
        let mut s = Scheduler::new(2);
        // Inserted out of order; due times decide.
        s.insert("c", rate(1), t0 + chrono::Duration::seconds(3), Some(Trigger::Start));
        s.insert("a", rate(1), t0 + chrono::Duration::seconds(1), Some(Trigger::Start));
        s.insert("b", rate(1), t0 + chrono::Duration::seconds(2), Some(Trigger::Start));
        let t = t0 + chrono::Duration::seconds(3);
        s.fire_due(t);
        let first = s.start_ready(t);
        assert_eq!(names(&first), ["a", "b"]);
        assert_eq!(first[0].lateness, Duration::from_secs(2));
        assert_eq!(first[1].lateness, Duration::from_secs(1));
        assert_eq!(s.queued(), 1);
        s.finished("b");
        let later = t0 + chrono::Duration::milliseconds(3_250);
        let next = s.start_ready(later);
        assert_eq!(names(&next), ["c"]);
        assert_eq!(next[0].lateness, Duration::from_millis(250));
        // A run-now queued after scheduled runs waits behind the earlier due ones.
        s.finished("a");
        s.finished("c");
        assert_eq!(s.running(), 0);
    }

    #[test]
    fn missed_fires_are_not_caught_up() {
        let t0 = at("2024-01-01T00:00:00Z");
        let mut s = Scheduler::new(4);
        s.insert("a", rate(1), t0, None);
        // The process was suspended for ten minutes.
        let late = at("2024-01-01T00:10:30Z");
        s.fire_due(late);
        let starts = s.start_ready(late);
        assert_eq!(starts.len(), 1);
        assert_eq!(starts[0].lateness, Duration::from_secs(570));
        assert_eq!(s.next_fire("a"), Some(at("2024-01-01T00:11:30Z")));
        assert_eq!(s.heap.len(), 1);
    }

    #[test]
    fn changed_and_removed_canaries() {
        let t0 = at("2024-01-01T00:00:00Z");
        let mut s = Scheduler::new(4);
        s.insert("a", rate(5), t0, None);
        assert_eq!(s.next_fire("a"), Some(at("2024-01-01T00:05:00Z")));
        // A changed schedule recomputes the next fire; the old timer is stale.
        s.insert("a", rate(1), t0, None);
        assert_eq!(s.next_fire("a"), Some(at("2024-01-01T00:01:00Z")));
        s.fire_due(at("2024-01-01T00:05:00Z"));
        assert_eq!(s.start_ready(at("2024-01-01T00:05:00Z")).len(), 1, "one run, not two");
        s.finished("a");
        s.remove("a");
        assert_eq!(s.next_wakeup(), None);
        assert!(s.fire_due(at("2024-01-02T00:00:00Z")).is_empty());
        assert_eq!(s.run_now("a", t0), Err(QueueError::Unknown));
    }

    #[test]
    fn run_now_and_busy() {
        let t0 = at("2024-01-01T00:00:00Z");
        let mut s = Scheduler::new(4);
        s.insert("a", rate(60), t0, None);
        assert_eq!(s.run_now("a", t0), Ok(()));
        assert_eq!(s.run_now("a", t0), Err(QueueError::Busy));
        assert_eq!(names(&s.start_ready(t0)), ["a"]);
        assert_eq!(s.run_now("a", t0), Err(QueueError::Busy));
        s.finished("a");
        assert_eq!(s.run_now("a", t0), Ok(()));
    }

    #[test]
    fn removing_a_queued_canary_drops_its_run() {
        let t0 = at("2024-01-01T00:00:00Z");
        let mut s = Scheduler::new(1);
        s.insert("a", rate(1), t0, Some(Trigger::Start));
        s.insert("b", rate(1), t0, Some(Trigger::Start));
        s.fire_due(t0);
        assert_eq!(names(&s.start_ready(t0)), ["a"]);
        s.remove("b");
        s.finished("a");
        assert!(s.start_ready(t0).is_empty());
        assert!(!s.is_busy("b"));
    }

    #[test]
    fn many_canaries_cost_one_timer_each() {
        let t0 = at("2024-01-01T00:00:00Z");
        let mut s = Scheduler::new(16);
        for i in 0..5_000 {
            s.insert(&format!("c{i}"), rate(1), t0 + chrono::Duration::milliseconds(i * 12), None);
        }
        assert_eq!(s.heap.len(), 5_000);
        let t = at("2024-01-01T00:01:00.005Z");
        s.fire_due(t);
        assert_eq!(s.queued(), 1);
        assert_eq!(s.heap.len(), 5_000);
    }

    #[test]
    fn rates_are_spread_by_a_stable_offset() {
        let t0 = at("2024-01-01T00:00:00.500Z");
        let mut s = Scheduler::new(1_000).spread_rates();
        for i in 0..100 {
            s.insert(&format!("c{i}"), rate(1), t0, Some(Trigger::Start));
        }
        s.fire_due(t0);
        let starts = s.start_ready(t0);
        assert_eq!(starts.len(), 100);
        assert!(starts.iter().all(|s| s.trigger == Trigger::Start));
        let nexts: Vec<DateTime<Utc>> = (0..100).map(|i| s.next_fire(&format!("c{i}")).unwrap()).collect();
        // Between half a period and a period and a half after the run at start.
        assert!(
            nexts
                .iter()
                .all(|n| *n > t0 + chrono::Duration::seconds(30) && *n <= t0 + chrono::Duration::seconds(90))
        );
        let distinct: HashSet<_> = nexts.iter().collect();
        assert!(distinct.len() > 90, "spread: {} distinct fire times", distinct.len());
        // The grid: every period after the first scheduled fire, and the same for the same name.
        let c0 = nexts[0];
        assert_eq!(s.next_after("c0", &rate(1), c0), Some(c0 + chrono::Duration::seconds(60)));
        let again = Scheduler::new(1).spread_rates();
        assert_eq!(again.next_after("c0", &rate(1), c0 - chrono::Duration::seconds(59)), Some(c0));
        for i in 0..100 {
            s.finished(&format!("c{i}"));
        }
        let last = *nexts.iter().max().unwrap();
        s.fire_due(last);
        let scheduled = s.start_ready(last);
        assert_eq!(scheduled.len(), 100);
        assert!(scheduled.iter().all(|s| s.trigger == Trigger::Schedule));
    }
}
