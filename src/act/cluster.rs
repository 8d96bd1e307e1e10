//! The cluster interface the approval flow drives. `act` owns it; each source implements it
//! (the demo cluster, a live Kubernetes context, a read-only still picture), so an approval
//! goes act → cluster and never back through `source`.

use crate::change::Change;

/// The change calls a cluster accepts.
pub trait ClusterControl: Send + Sync {
    /// Applies (or with `dry_run`, validates) a change; returns a one-line description.
    fn apply(&self, change: &Change, dry_run: bool) -> Result<String, String>;

    /// The version (resourceVersion) of the object `change` touches, read when the operator
    /// approves, so the apply can carry it. None: this cluster keeps no versions (the demo), or
    /// the change is not versioned (a node's cordon, whose status churns constantly).
    fn version(&self, _change: &Change) -> Result<Option<String>, String> {
        Ok(None)
    }

    /// `apply` carrying the version read at approval: if the object changed since, the cluster
    /// refuses with a conflict instead of overwriting what someone else just did.
    fn apply_versioned(
        &self,
        change: &Change,
        dry_run: bool,
        _version: Option<&str>,
    ) -> Result<String, ApplyError> {
        self.apply(change, dry_run).map_err(ApplyError::Failed)
    }
}

/// Why a change was not applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyError {
    /// The object changed since its version was read (HTTP 409): re-check, never retry blindly.
    Conflict(String),
    /// Anything else: refused, invalid, unreachable.
    Failed(String),
}

impl std::fmt::Display for ApplyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApplyError::Conflict(m) | ApplyError::Failed(m) => f.write_str(m),
        }
    }
}

/// A source that is a single picture (manifests, or a cluster read once): it refuses every
/// change, naming what it is.
pub(crate) struct ReadOnly(pub &'static str);

impl ClusterControl for ReadOnly {
    fn apply(&self, change: &Change, _dry_run: bool) -> Result<String, String> {
        Err(format!("{change}: this source is {} and accepts no changes", self.0))
    }
}

#[cfg(test)]
#[path = "cluster_fakes.rs"]
pub(crate) mod fakes;
