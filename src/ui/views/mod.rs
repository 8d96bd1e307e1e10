//! The console's views, one component each, registered once in `views!` below: the variant,
//! the field that holds the component, how it is built, its `:` command and what help says of
//! it. Tab cycles through them in this order; help is last and outside the cycle. `detail` is
//! the popup Enter opens; `table` is the component the servers and workloads tables share.

pub(crate) mod audit;
pub mod detail;
pub(crate) mod heatmap;
pub(crate) mod help;
pub(crate) mod overview;
pub mod recs;
mod recs_card;
mod recs_exchange;
mod recs_keys;
pub(crate) mod servers;
pub(crate) mod table;
pub(crate) mod whatif;
mod whatif_results;
mod whatif_worker;
pub(crate) mod workloads;

use super::Component;
use crate::act::operator::Operator;
use audit::AuditView;
use heatmap::{HeatmapView, Metric};
use help::HelpView;
use overview::OverviewView;
use recs::RecsView;
use servers::ServersView;
use std::path::PathBuf;
use whatif::{WhatIfView, WorkerMsg};
use workloads::WorkloadsView;

/// What building the views takes (the app's options, split up).
pub(super) struct Init {
    pub metric: Metric,
    pub worker_tx: tokio::sync::mpsc::UnboundedSender<WorkerMsg>,
    /// Where What-if history and proposals go.
    pub whatif_dir: PathBuf,
    pub operator: Operator,
    pub data_dir: Option<PathBuf>,
    pub audit_path: Option<PathBuf>,
}

/// Declares `View` (the enum the console switches on, with each view's command name and help
/// line) and `Views` (the components) from one list, so a view is added in one place.
macro_rules! views {
    ($init:ident: $init_ty:ty; $($variant:ident $field:ident: $ty:ty = $new:expr, $name:literal, $about:literal;)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum View {
            $($variant),*
        }

        impl View {
            /// Every view, as registered.
            pub const ALL: &'static [View] = &[$(View::$variant),*];

            /// Its name: the `:` command and the tab's label.
            pub fn name(self) -> &'static str {
                match self {
                    $(View::$variant => $name),*
                }
            }

            /// What it shows, as help's list of commands says it.
            pub fn about(self) -> &'static str {
                match self {
                    $(View::$variant => $about),*
                }
            }
        }

        pub(super) struct Views {
            $(pub(super) $field: $ty),*
        }

        impl Views {
            pub(super) fn new($init: $init_ty) -> Views {
                Views { $($field: $new),* }
            }

            pub(super) fn get(&mut self, v: View) -> &mut dyn Component {
                match v {
                    $(View::$variant => &mut self.$field),*
                }
            }

            pub(super) fn get_ref(&self, v: View) -> &dyn Component {
                match v {
                    $(View::$variant => &self.$field),*
                }
            }
        }
    };
}

views! {
    init: Init;
    Overview overview: OverviewView = OverviewView, "overview", "totals, hottest servers, worst workloads";
    Heatmap heatmap: HeatmapView = HeatmapView::new(init.metric), "heatmap", "one cell per server, by location";
    Servers servers: ServersView = ServersView::default(), "servers", "the servers table";
    Workloads workloads: WorkloadsView = WorkloadsView::default(), "workloads", "the workloads table";
    Whatif whatif: WhatIfView = WhatIfView::new(init.worker_tx, init.whatif_dir), "whatif",
        "simulate a scenario on the twin";
    Recs recs: RecsView = RecsView::new(init.operator, init.data_dir), "recs", "proposals to approve or reject";
    Audit audit: AuditView = AuditView::new(init.audit_path), "audit", "approvals and changes, chain checked";
    Help help: HelpView = HelpView::default(), "help", "this page";
}

// Help is registered last: it is the one view Tab does not cycle through.
const _: () = assert!(matches!(View::ALL[View::ALL.len() - 1], View::Help));

impl View {
    /// The views Tab cycles through, in order: every one but help.
    pub(crate) const CYCLE: &'static [View] = View::ALL.split_last().expect("views are registered").1;

    pub(crate) fn from_name(s: &str) -> Option<View> {
        View::ALL.iter().copied().find(|v| v.name() == s)
    }
}
