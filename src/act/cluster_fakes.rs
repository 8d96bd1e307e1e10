//! Clusters for tests, written once for both kinds: the library's unit tests reach this file as
//! `act::cluster::fakes` (test builds only), the integration tests include it into
//! `tests/common` by path. So it names only what its parent module has in scope — `Change`,
//! `ClusterControl`, `ApplyError` — and nothing of `crate::`. Its items are `pub` because
//! `tests/common` re-exports them, and each test build uses a part of them.
#![allow(unreachable_pub, dead_code)]

use super::{ApplyError, Change, ClusterControl};
use std::sync::Mutex;

/// A cluster that accepts every change and records each call: (change, dry run).
#[derive(Default)]
pub struct Recorder {
    calls: Mutex<Vec<(Change, bool)>>,
    /// Why every dry run is refused, if it is.
    refuse_dry_runs: Option<String>,
}

impl ClusterControl for Recorder {
    fn apply(&self, change: &Change, dry_run: bool) -> Result<String, String> {
        self.calls.lock().unwrap().push((change.clone(), dry_run));
        match (&self.refuse_dry_runs, dry_run) {
            (Some(why), true) => Err(why.clone()),
            (None, true) => Ok(format!("{change} (dry run)")),
            (_, false) => Ok(change.to_string()),
        }
    }
}

impl Recorder {
    /// A recorder that refuses every dry run with `why` (an admission webhook saying no).
    pub fn refusing_dry_runs(why: &str) -> Recorder {
        Recorder { refuse_dry_runs: Some(why.into()), ..Recorder::default() }
    }

    /// Every call, dry runs included, in order.
    pub fn log(&self) -> Vec<(Change, bool)> {
        self.calls.lock().unwrap().clone()
    }

    /// How many calls reached the cluster, dry runs included.
    pub fn calls(&self) -> usize {
        self.calls.lock().unwrap().len()
    }

    /// The changes applied for real, in order.
    pub fn applied(&self) -> Vec<Change> {
        self.log().into_iter().filter(|(_, dry)| !dry).map(|(c, _)| c).collect()
    }

    /// How many dry runs were asked for.
    pub fn dry_runs(&self) -> usize {
        self.log().iter().filter(|(_, dry)| *dry).count()
    }
}

/// A live-like cluster: it versions its objects (every object is at version 48213), and someone
/// else changes the target between the dry run and the apply, so the apply is a conflict.
#[derive(Default)]
pub struct Contended {
    /// (dry run, version carried) of every call.
    pub calls: Mutex<Vec<(bool, Option<String>)>>,
}

impl ClusterControl for Contended {
    fn apply(&self, _: &Change, _: bool) -> Result<String, String> {
        panic!("an apply must carry the version read at approval")
    }

    fn version(&self, _: &Change) -> Result<Option<String>, String> {
        Ok(Some("48213".into()))
    }

    fn apply_versioned(&self, _: &Change, dry_run: bool, v: Option<&str>) -> Result<String, ApplyError> {
        self.calls.lock().unwrap().push((dry_run, v.map(String::from)));
        if dry_run {
            return Ok("dry run".into());
        }
        Err(ApplyError::Conflict("boutique/checkoutservice changed since you approved: re-check it".into()))
    }
}
