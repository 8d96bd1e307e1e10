//! The console's views, one component each; `detail` is the popup Enter opens.

pub mod audit;
pub mod detail;
pub mod heatmap;
pub mod help;
pub mod overview;
pub mod recs;
mod recs_card;
mod recs_exchange;
pub mod servers;
pub mod whatif;
mod whatif_results;
pub mod workloads;
