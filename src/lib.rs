//! twintop: a terminal operations console for Kubernetes SREs built on a local digital twin.
//!
//! Layering (see docs/ARCHITECTURE.md): `twin` is pure data and math; `sim`, `plan` and
//! `forecast` compute over twin snapshots; `source`, `advise` and `act` do I/O at the edges;
//! `ui` draws it all and nothing depends on it.

pub mod act;
pub mod advise;
pub(crate) mod bounds;
pub mod change;
pub mod cli;
pub(crate) mod config_file;
pub mod demo;
pub mod forecast;
pub mod guardrails;
pub mod measure;
pub(crate) mod paths;
pub(crate) mod plan;
pub(crate) mod queueing;
pub mod sim;
pub mod source;
pub mod text;
pub mod twin;
pub mod ui;
pub mod whatif;
