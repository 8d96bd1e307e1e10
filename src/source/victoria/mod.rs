//! VictoriaMetrics (or anything serving the Prometheus HTTP API) as a metrics feed: the client,
//! the standard queries and their config, the mapping of series onto the twin, the poller, and
//! a local server runner for tests and benchmarks.

pub mod client;
pub(crate) mod config;
pub(crate) mod mapping;
pub(crate) mod poller;
pub mod server;

pub use client::{Sample, Series, VmClient, VmError};
pub use config::{Queries, VmConfig};
pub use mapping::{Metric, Targets};
pub use poller::{PollOutcome, VmSource, spawn_poller};
