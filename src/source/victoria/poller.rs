//! Polling VictoriaMetrics: back-fill history with `query_range` once, then one round of
//! instant queries every interval (all queries of a round in parallel, one per metric), with
//! exponential back-off while the server fails and a `vm` feed that says how it is going.

use super::client::{VmClient, VmError};
use super::config::VmConfig;
use super::mapping::{Metric, Round, RoundStats, Targets};
use crate::twin::{Feed, FeedState, Snapshot, TwinEvent};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

pub(crate) const FEED: &str = "vm";

pub struct VmSource {
    pub client: VmClient,
    pub cfg: VmConfig,
    /// Take replicas from kube-state-metrics (only when no Kubernetes API feeds the twin).
    pub set_replicas: bool,
    /// End each round with a `Tick` (history sample). Off when another source (the demo, the
    /// Kubernetes API) keeps the twin's clock, so a round is sampled once, not twice.
    pub ticks: bool,
}

/// One round's events and what went wrong.
pub struct PollOutcome {
    pub events: Vec<TwinEvent>,
    pub stats: RoundStats,
    pub servers_measured: usize,
    pub workloads_measured: usize,
    pub errors: Vec<VmError>,
    pub elapsed: Duration,
}

impl PollOutcome {
    pub fn state(&self, queries: usize) -> FeedState {
        if self.errors.is_empty() {
            FeedState::Ok
        } else if self.errors.len() == queries && self.errors.iter().all(VmError::is_unreachable) {
            FeedState::Down
        } else {
            FeedState::Stale
        }
    }
}

impl VmSource {
    pub fn new(cfg: VmConfig, set_replicas: bool) -> Result<VmSource, VmError> {
        Ok(VmSource { client: VmClient::new(&cfg)?, cfg, set_replicas, ticks: true })
    }

    /// The same source, sending no `Tick`s of its own (another source keeps the clock).
    pub fn without_ticks(self) -> VmSource {
        VmSource { ticks: false, ..self }
    }

    /// The configured queries, in mapping order (mesh flavours in their listed order).
    pub fn jobs(&self) -> Vec<(Metric, &str)> {
        let q = &self.cfg.queries;
        let mut v = vec![
            (Metric::NodeCpu, q.node_cpu.as_str()),
            (Metric::NodeMem, q.node_mem.as_str()),
            (Metric::NodeNet, q.node_net.as_str()),
            (Metric::PodCpu, q.pod_cpu.as_str()),
            (Metric::PodMem, q.pod_mem.as_str()),
            (Metric::PodNet, q.pod_net.as_str()),
        ];
        v.extend(q.workload_rps.iter().map(|s| (Metric::Rps, s.as_str())));
        v.extend(q.workload_p50_ms.iter().map(|s| (Metric::P50, s.as_str())));
        v.extend(q.workload_p99_ms.iter().map(|s| (Metric::P99, s.as_str())));
        if self.set_replicas {
            v.push((Metric::Replicas, q.replicas.as_str()));
        }
        v.extend(q.edges.iter().map(|s| (Metric::Calls, s.as_str())));
        v.retain(|(_, q)| !q.trim().is_empty());
        v
    }

    /// One round of instant queries at `at` (default: now); events end with the feed and, when
    /// this source keeps the clock, a Tick.
    pub async fn poll_once(&self, t: &Targets, at: Option<DateTime<Utc>>) -> PollOutcome {
        let started = std::time::Instant::now();
        let at = at.unwrap_or_else(Utc::now);
        let time = at.timestamp_millis() as f64 / 1000.0;
        let jobs = self.jobs();
        let results =
            futures::future::join_all(jobs.iter().map(|(_, q)| self.client.query(q, Some(time)))).await;
        let mut round = Round::default();
        let mut errors = Vec::new();
        for ((metric, _), r) in jobs.iter().zip(results) {
            match r {
                Ok(samples) => {
                    if *metric == Metric::Calls {
                        round.saw_calls();
                    }
                    samples.iter().for_each(|s| round.add(t, *metric, &s.labels, s.value))
                }
                Err(e) => errors.push(e),
            }
        }
        let stats = round.stats;
        let (servers_measured, workloads_measured) = (round.servers_measured(), round.workloads_measured());
        let mut events = round.into_events(t, self.set_replicas);
        let mut out = PollOutcome {
            events: Vec::new(),
            stats,
            servers_measured,
            workloads_measured,
            errors,
            elapsed: started.elapsed(),
        };
        events.push(TwinEvent::Feed(self.feed(&out, jobs.len(), t, Some(at))));
        if self.ticks {
            events.push(TwinEvent::Tick(at));
        }
        out.events = events;
        out
    }

    fn feed(&self, o: &PollOutcome, queries: usize, t: &Targets, updated: Option<DateTime<Utc>>) -> Feed {
        let state = o.state(queries);
        let mut detail = format!(
            "{} of {} servers, {} workloads measured; {} series unmatched, {} NaN/Inf; {} queries in {} ms",
            o.servers_measured,
            t.servers(),
            o.workloads_measured,
            o.stats.unmatched,
            o.stats.not_finite,
            queries,
            o.elapsed.as_millis()
        );
        if let Some(e) = o.errors.first() {
            detail = format!("{} of {queries} queries failed, first: {e}; {detail}", o.errors.len());
        }
        Feed {
            name: FEED.into(),
            state,
            detail,
            updated: if state == FeedState::Down { None } else { updated },
        }
    }

    /// History over `[start, end]` at `step` seconds, as one event batch per time step (each
    /// ending in a Tick), oldest first.
    pub async fn backfill(
        &self,
        t: &Targets,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        step_s: f64,
    ) -> Result<Vec<Vec<TwinEvent>>, VmError> {
        let (s, e) = (start.timestamp_millis() as f64 / 1000.0, end.timestamp_millis() as f64 / 1000.0);
        let jobs = self.jobs();
        let results =
            futures::future::join_all(jobs.iter().map(|(_, q)| self.client.query_range(q, s, e, step_s)))
                .await;
        let mut rounds: BTreeMap<i64, Round> = BTreeMap::new();
        for ((metric, _), r) in jobs.iter().zip(results) {
            for series in r? {
                for (ts, v) in series.points {
                    rounds.entry((ts * 1000.0).round() as i64).or_default().add(
                        t,
                        *metric,
                        &series.labels,
                        v,
                    );
                }
            }
        }
        Ok(rounds
            .into_iter()
            .filter_map(|(ms, r)| {
                let at = DateTime::<Utc>::from_timestamp_millis(ms)?;
                let mut ev = r.into_events(t, false);
                ev.push(TwinEvent::Tick(at));
                Some(ev)
            })
            .collect())
    }
}

/// Runs the poller until the event channel closes. Targets are rebuilt from the latest
/// snapshot each round, so servers and workloads that appear are picked up. Should the poller
/// fail (a panic), the `vm` feed goes down with the reason and a notice says so: the header
/// never shows a feed that silently stopped.
pub fn spawn_poller(
    src: VmSource,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    tx: mpsc::Sender<Vec<TwinEvent>>,
) -> tokio::task::JoinHandle<()> {
    use futures::FutureExt;
    let report = tx.clone();
    tokio::spawn(async move {
        if let Err(panic) =
            std::panic::AssertUnwindSafe(poll_forever(src, snapshots, tx)).catch_unwind().await
        {
            let why = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".into());
            let detail = format!("the VictoriaMetrics poller stopped: {why} (see the log); restart twintop");
            let feed =
                Feed { name: FEED.into(), state: FeedState::Down, detail: detail.clone(), updated: None };
            let _ = report.send(vec![TwinEvent::Feed(feed), TwinEvent::Notice(detail)]).await;
        }
    })
}

async fn poll_forever(
    src: VmSource,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    tx: mpsc::Sender<Vec<TwinEvent>>,
) {
    let interval = Duration::from_secs_f64(src.cfg.interval_s.max(0.5));
    let max_backoff = Duration::from_secs_f64(src.cfg.max_backoff_s.max(src.cfg.interval_s));
    let mut need_backfill = src.cfg.backfill_s > 0.0;
    let mut failures: u32 = 0;
    let mut last_ok: Option<DateTime<Utc>> = None;
    let mut snapshots = snapshots;
    // A live cluster lists its nodes after the poller starts: back-filling before would map
    // nothing. Wait for servers (a little), then go on regardless.
    let wait = tokio::time::sleep(Duration::from_secs(30));
    tokio::pin!(wait);
    while snapshots.borrow().servers.is_empty() {
        tokio::select! {
            r = snapshots.changed() => if r.is_err() { return },
            _ = &mut wait => break,
        }
    }
    loop {
        let targets = Targets::from_snapshot(&snapshots.borrow().clone());
        if need_backfill {
            let end = Utc::now();
            let start = end - chrono::Duration::milliseconds((src.cfg.backfill_s * 1000.0) as i64);
            match src.backfill(&targets, start, end, src.cfg.interval_s.max(1.0)).await {
                Ok(batches) => {
                    need_backfill = false;
                    for b in batches {
                        if tx.send(b).await.is_err() {
                            return;
                        }
                    }
                }
                Err(e) => tracing::warn!("vm back-fill failed (will retry): {e}"),
            }
        }
        let mut out = src.poll_once(&targets, None).await;
        let state = out.state(src.jobs().len());
        if state == FeedState::Ok {
            failures = 0;
            last_ok = Some(Utc::now());
        } else {
            failures = failures.saturating_add(1);
            // Keep the time of the last good round so the header can say how old the data is.
            for e in out.events.iter_mut() {
                if let TwinEvent::Feed(f) = e {
                    f.updated = last_ok;
                    f.detail = format!(
                        "{}; retry in {} s",
                        f.detail,
                        backoff(interval, max_backoff, failures).as_secs()
                    );
                }
            }
            if let Some(e) = out.errors.first() {
                tracing::warn!("vm poll: {e}");
            }
        }
        if tx.send(out.events).await.is_err() {
            return;
        }
        tokio::time::sleep(backoff(interval, max_backoff, failures)).await;
    }
}

/// `interval · 2^failures`, at most `max`.
pub(crate) fn backoff(interval: Duration, max: Duration, failures: u32) -> Duration {
    interval.saturating_mul(1u32 << failures.min(16)).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_poller_that_fails_turns_the_feed_down_with_a_notice() {
        crate::source::init_tls();
        // A value the config now refuses, built directly: it used to panic the worker, and the
        // feed vanished without a word.
        let cfg =
            VmConfig { url: "http://127.0.0.1:9".into(), interval_s: f64::INFINITY, ..VmConfig::default() };
        let src = VmSource::new(cfg, false).unwrap();
        let (_snap_tx, snaps) = watch::channel(Arc::new(Snapshot::empty()));
        let (tx, mut rx) = mpsc::channel(8);
        let task = spawn_poller(src, snaps, tx);
        let events = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.unwrap().unwrap();
        let feed =
            events.iter().find_map(|e| if let TwinEvent::Feed(f) = e { Some(f) } else { None }).unwrap();
        assert_eq!((feed.name.as_str(), feed.state), (FEED, FeedState::Down));
        assert!(feed.detail.contains("the VictoriaMetrics poller stopped"), "{}", feed.detail);
        assert!(events.iter().any(|e| matches!(e, TwinEvent::Notice(n) if n.contains("poller stopped"))));
        assert!(task.await.is_ok(), "the failure is handled, not propagated");
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let s = Duration::from_secs;
        let b: Vec<u64> = (0..6).map(|f| backoff(s(15), s(120), f).as_secs()).collect();
        assert_eq!(b, [15, 30, 60, 120, 120, 120]);
    }
}
