//! The digital twin: plain data and math over a Kubernetes deployment. No I/O lives here;
//! sources feed it `TwinEvent`s and everything else reads its `Snapshot`s.

pub mod dist;
pub mod export;
pub mod kpi;
pub mod latency;
pub mod model;
pub mod ring;
pub mod scheduling;
pub mod snapshot;
pub mod store;

pub use dist::Dist;
pub use latency::LatencyModel;
pub use model::{
    Edge, Hpa, HpaMetric, Location, Measured, Pod, PodPhase, PodSpec, Resources, Server, Workload,
    WorkloadKind,
};
pub use snapshot::{Feed, FeedState, Snapshot, SourceInfo, SourceKind};
pub use store::{TwinEvent, TwinStore};
