//! The task that fires timers when they are due.
//!
//! One loop: read what is due by the `Clock`, start each call in its own
//! task (so a slow bot delays no other bot's timer), and sleep until the
//! next one — or until a timer is set, the clock moves, or bots change.
//! A declared timer whose previous call is still running skips a beat
//! rather than queueing calls; ticks missed while the gateway was busy are
//! not made up. A one-shot timer is removed from the database only after
//! its call, so a crash mid-call fires it again (at least once).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::{Declared, Fired, TimerBots, Timers};
use crate::grants::Chat;
use crate::storage::Pending;

/// The longest the loop sleeps without looking again (a safety net; every
/// change wakes it).
const IDLE: Duration = Duration::from_secs(60);
/// How long a one-shot timer whose bot could not be called waits to be
/// tried again.
const RETRY: Duration = Duration::from_secs(1);
/// How long a one-shot timer whose bot cannot take timers waits.
const ABSENT_RETRY: Duration = Duration::from_secs(60);
/// A timer later than this is logged with its delay.
const LATE: Duration = Duration::from_secs(1);

/// One declared timer of a loaded bot.
struct Beat {
    decl: Declared,
    next_ms: Option<u64>,
    running: Arc<AtomicBool>,
}

/// Fires timers until `stop` turns true.
pub async fn run(timers: Timers, bots: Arc<dyn TimerBots>, mut stop: watch::Receiver<bool>) {
    let changed = bots.changed();
    let mut beats: HashMap<(Arc<str>, String), Beat> = HashMap::new();
    let mut seen: Vec<(Arc<str>, Arc<Vec<Declared>>)> = Vec::new();
    // One-shot timers being called, and those to retry later (in memory).
    let mut in_flight: HashSet<(String, String, u64)> = HashSet::new();
    let mut retry_at: HashMap<(String, String, u64), u64> = HashMap::new();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<((String, String, u64), Fired)>();
    loop {
        let declared = bots.declared();
        if !same(&seen, &declared) {
            refresh(&mut beats, &declared, &timers);
            seen = declared;
        }
        let loaded: HashSet<&str> = seen.iter().map(|(b, _)| &**b).collect();
        let now = timers.now_ms();
        let mut next: Option<u64> = None;
        let mut soonest = |t: u64| next = Some(next.map_or(t, |n: u64| n.min(t)));

        for ((bot, name), beat) in beats.iter_mut() {
            let Some(due) = beat.next_ms else { continue };
            if due > now {
                soonest(due);
                continue;
            }
            beat.next_ms = beat.decl.schedule.next_after(now, timers.zone());
            if let Some(n) = beat.next_ms {
                soonest(n);
            }
            if beat.running.swap(true, Ordering::AcqRel) {
                tracing::warn!(script = %bot, timer = %name, "timer skipped: its previous call is still running");
                continue;
            }
            let late_ms = now - due;
            if late_ms > LATE.as_millis() as u64 {
                tracing::info!(script = %bot, timer = %name, late_ms, "timer fired late");
            }
            let (bots, bot, name, running) = (
                bots.clone(),
                bot.clone(),
                name.clone(),
                beat.running.clone(),
            );
            tokio::spawn(async move {
                bots.fire(bot, name, String::new(), None).await;
                running.store(false, Ordering::Release);
            });
        }

        for p in timers.lock().values() {
            let key = (p.bot.clone(), p.name.clone(), p.seq);
            if !loaded.contains(p.bot.as_str()) || in_flight.contains(&key) {
                continue;
            }
            let due = retry_at
                .get(&key)
                .copied()
                .unwrap_or(p.due_ms)
                .max(p.due_ms);
            if due > now {
                soonest(due);
                continue;
            }
            retry_at.remove(&key);
            in_flight.insert(key.clone());
            tokio::spawn(fire_oneshot(
                timers.clone(),
                bots.clone(),
                p.clone(),
                now,
                done_tx.clone(),
            ));
        }

        let sleep = next.map_or(IDLE, |n| {
            Duration::from_millis(n.saturating_sub(timers.now_ms())).min(IDLE)
        });
        tokio::select! {
            _ = tokio::time::sleep(sleep) => {}
            _ = timers.0.wake.notified() => {}
            _ = changed.notified() => {}
            Some((key, fired)) = done_rx.recv() => {
                settle(&mut in_flight, &mut retry_at, key, fired, timers.now_ms());
                // Take every other result that is ready too.
                while let Ok((key, fired)) = done_rx.try_recv() {
                    settle(&mut in_flight, &mut retry_at, key, fired, timers.now_ms());
                }
            }
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// Books a one-shot call's end: a timer its bot could not take is tried
/// again after `RETRY` (paused, busy) or `ABSENT_RETRY` (a 0.1.0 component
/// of that name).
fn settle(
    in_flight: &mut HashSet<(String, String, u64)>,
    retry_at: &mut HashMap<(String, String, u64), u64>,
    key: (String, String, u64),
    fired: Fired,
    now: u64,
) {
    in_flight.remove(&key);
    let wait = match fired {
        Fired::Called => return,
        Fired::Later => RETRY,
        // A 0.1.0 bot of that name: it cannot take timers until swapped.
        Fired::Absent => ABSENT_RETRY,
    };
    retry_at.insert(key, now.saturating_add(wait.as_millis() as u64));
}

/// Whether the bots and their declarations are the ones already scheduled.
fn same(a: &[(Arc<str>, Arc<Vec<Declared>>)], b: &[(Arc<str>, Arc<Vec<Declared>>)]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((n1, d1), (n2, d2))| n1 == n2 && Arc::ptr_eq(d1, d2))
}

/// Schedules what the bots declare now: a timer declared again unchanged
/// keeps its next time (a swap does not restart an interval); new ones
/// start from now; those of unloaded bots, or no longer declared, go.
fn refresh(
    beats: &mut HashMap<(Arc<str>, String), Beat>,
    declared: &[(Arc<str>, Arc<Vec<Declared>>)],
    timers: &Timers,
) {
    let now = timers.now_ms();
    let mut next = HashMap::new();
    for (bot, decls) in declared {
        for d in decls.iter() {
            let key = (bot.clone(), d.name.clone());
            let beat = match beats.remove(&key) {
                Some(b) if b.decl.schedule == d.schedule => b,
                Some(_) | None => {
                    tracing::info!(script = %bot, timer = %d.name, schedule = %d.schedule.describe(), "timer declared");
                    Beat {
                        decl: d.clone(),
                        next_ms: d.schedule.next_after(now, timers.zone()),
                        running: Arc::new(AtomicBool::new(false)),
                    }
                }
            };
            next.insert(key, beat);
        }
    }
    for (bot, name) in beats.keys() {
        tracing::info!(script = %bot, timer = %name, "timer dropped (its bot was unloaded or no longer declares it)");
    }
    *beats = next;
}

/// Calls one due one-shot timer, then removes it unless it was set again
/// meanwhile or the bot could not take it.
async fn fire_oneshot(
    timers: Timers,
    bots: Arc<dyn TimerBots>,
    p: Pending,
    now: u64,
    done: mpsc::UnboundedSender<((String, String, u64), Fired)>,
) {
    let key = (p.bot.clone(), p.name.clone(), p.seq);
    let storage = timers.storage().clone();
    let (bot, name, seq) = (p.bot.clone(), p.name.clone(), p.seq);
    let payload =
        tokio::task::spawn_blocking(move || storage.oneshot_payload(&bot, &name, seq)).await;
    let fired = match payload {
        // Replaced or cancelled meanwhile: this one is gone (the index
        // has the new one, if any).
        Ok(Ok(None)) => {
            timers.forget(&p);
            Fired::Called
        }
        Ok(Ok(Some((payload, chat)))) => {
            let late_ms = now.saturating_sub(p.due_ms);
            if late_ms > LATE.as_millis() as u64 {
                tracing::info!(script = %p.bot, timer = %p.name, late_ms, "one-shot timer fired late (the gateway was down or busy)");
            }
            let fired = bots
                .fire(
                    Arc::from(p.bot.as_str()),
                    p.name.clone(),
                    payload,
                    chat.and_then(Chat::from_stored),
                )
                .await;
            if fired == Fired::Called {
                let storage = timers.storage().clone();
                let (bot, name, seq) = (p.bot.clone(), p.name.clone(), p.seq);
                let removed = tokio::task::spawn_blocking(move || {
                    storage.oneshot_remove(&bot, &name, Some(seq))
                })
                .await;
                if let Ok(Err(e)) | Err(e) = removed.map_err(|e| e.to_string()) {
                    tracing::error!(script = %p.bot, timer = %p.name, error = %e, "a fired timer could not be removed; it will fire again");
                }
                timers.forget(&p);
            }
            fired
        }
        Ok(Err(e)) => {
            tracing::error!(script = %p.bot, timer = %p.name, error = %e, "cannot read a due timer; trying again");
            Fired::Later
        }
        Err(e) => {
            tracing::error!(script = %p.bot, timer = %p.name, error = %e, "cannot read a due timer; trying again");
            Fired::Later
        }
    };
    let _ = done.send((key, fired));
}
