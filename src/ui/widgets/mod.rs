//! Small widgets the views are built from: header, notice banner and tab line, footer,
//! command line, sparkline rows, tables and the heatmap grid.

pub(crate) mod cmdline;
pub(crate) mod footer;
pub(crate) mod grid;
pub(crate) mod header;
pub(crate) mod sparkline;
pub(crate) mod table;
