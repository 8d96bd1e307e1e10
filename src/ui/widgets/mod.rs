//! Small widgets the views are built from: header, notice banner and tab line, footer,
//! command line, sparkline rows, tables and the heatmap grid.

pub mod cmdline;
pub mod footer;
pub mod grid;
pub mod header;
pub mod sparkline;
pub mod table;
