//! The advisors' track record as an operator builds it: approve the built-in advisor's scale of
//! checkoutservice during the demo's surge, let the demo run past the SLO watch window, and
//! the outcome is in the data dir, where the next `twintop advise` reads it into confidence.

mod common;

use common::{DemoCluster, Dirs, assessed, console_options, fixed_time, key};
use crossterm::event::KeyCode;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use twintop::act::operator::WATCH_WINDOW_SECS;
use twintop::advise::{TrackRecord, builtin, record};
use twintop::change::Change;
use twintop::demo::{DemoPreset, DemoTwin};
use twintop::guardrails::Guardrails;
use twintop::twin::TwinStore;
use twintop::ui::{App, View};

/// `twintop advise --demo --json` in `dirs`: checkoutservice's built-in reactive proposal.
fn advise_checkout(dirs: &Dirs) -> Value {
    let out = dirs.twintop(&["advise", "--demo", "--json"]).output().expect("run twintop");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    doc["proposals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["target"] == "boutique/checkoutservice" && p["source"] == "builtin:reactive")
        .cloned()
        .unwrap_or_else(|| panic!("no reactive proposal for checkoutservice: {doc}"))
}

#[test]
fn an_approved_scale_is_judged_after_its_watch_and_moves_the_next_confidence() {
    let mut d = DemoTwin::starting_at(DemoPreset::Dc, 1, fixed_time());
    d.skip_to(60);
    let demo = Arc::new(Mutex::new(d));
    let mut store = TwinStore::default();
    let tick = |store: &mut TwinStore| {
        let events = demo.lock().unwrap().step();
        store.apply_all(events);
        store.snapshot()
    };
    let mut snap = store.snapshot();
    for _ in 0..20 {
        snap = tick(&mut store);
    }
    assert!(demo.lock().unwrap().surge_active());

    let dirs = Dirs::new();
    let cluster = Arc::new(DemoCluster(demo.clone()));
    let opts = console_options(cluster, Guardrails::default(), &dirs.data());
    let mut app = App::new(snap.clone(), opts);
    app.set_proposals(assessed(&snap, builtin::reactive(&snap, &Guardrails::default())));
    app.switch(View::Recs);
    let top = app.recs().queue()[0].clone();
    assert_eq!((top.target.as_str(), top.source.as_str()), ("boutique/checkoutservice", "builtin:reactive"));
    let Some(Change::Scale { replicas, .. }) = top.action else { panic!("{top:?}") };
    key(&mut app, KeyCode::Char('a'));
    key(&mut app, KeyCode::Char('y'));
    {
        let s = tick(&mut store);
        let w = s.workload_index("boutique/checkoutservice").unwrap();
        assert_eq!(s.workloads[w].replicas, replicas, "applied to the demo");
        app.set_snapshot(s);
    }

    let path = record::record_path(&dirs.data());
    for _ in 0..WATCH_WINDOW_SECS - 10 {
        app.set_snapshot(tick(&mut store));
    }
    assert!(!path.exists(), "nothing recorded while the watch runs: {:?}", std::fs::read_to_string(&path));
    for _ in 0..20 {
        app.set_snapshot(tick(&mut store));
    }

    let r = TrackRecord::load(&path).unwrap();
    assert_eq!(r.sources.keys().collect::<Vec<_>>(), ["builtin:reactive"], "{r:?}");
    let outcomes = &r.sources["builtin:reactive"];
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    let o = &outcomes[0];
    assert_eq!(o.proposal, top.id);
    // Read back from JSON: equal to the last bit or two (serde_json's float parsing).
    let predicted = top.predicted.as_ref().unwrap().p99_ms.after.mean;
    assert!((o.predicted_p99_ms - predicted).abs() <= predicted * 1e-12, "{o:?} vs {predicted}");
    assert!(o.samples as i64 >= WATCH_WINDOW_SECS - 5, "a sample per snapshot: {o:?}");
    assert!(!o.rolled_back, "{o:?}");
    assert!(o.observed_p99_ms < o.baseline_p99_ms, "scaling the surging service helped: {o:?}");
    assert!(o.success, "{o:?}");
    assert!(app.recs().message.as_deref().unwrap_or("").contains("track record of builtin:reactive"));

    // The next advise run reads the same file: its track record part moves off the prior.
    let before = advise_checkout(&Dirs::new());
    let after = advise_checkout(&dirs);
    let part = |p: &Value| p["confidence"]["parts"]["track_record"].as_f64().unwrap();
    assert!(part(&after) > part(&before), "{} → {}", part(&before), part(&after));
}
