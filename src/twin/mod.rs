//! The digital twin: plain data and math over a Kubernetes deployment. No I/O lives here;
//! sources feed it `TwinEvent`s and everything else reads its `Snapshot`s.

pub(crate) mod dist;
pub(crate) mod export;
pub(crate) mod kpi;
pub(crate) mod latency;
pub(crate) mod model;
pub(crate) mod ring;
pub(crate) mod scheduling;
pub(crate) mod snapshot;
pub(crate) mod store;

pub(crate) use dist::Dist;
pub(crate) use latency::LatencyModel;
pub use model::{
    Edge, Hpa, HpaMetric, Location, Measured, Pod, PodPhase, PodSpec, Resources, Server, Workload,
    WorkloadKind,
};
pub use snapshot::{Feed, FeedState, Snapshot, SourceInfo, SourceKind};
pub use store::{TwinEvent, TwinStore};
