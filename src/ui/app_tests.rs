//! The console's keys as the footer and help show them: made from the same bindings the
//! handlers use, so each view's footer lists a key once and help lists every key the footer does.

use super::*;
use crate::advise::testkit::small_twin_with;

fn app() -> App {
    let data = std::env::temp_dir().join(format!("twintop-app-tests-{}", std::process::id()));
    App::new(small_twin_with(|_| {}), AppOptions { data_dir: Some(data), ..AppOptions::default() })
}

fn press(app: &mut App, code: KeyCode) {
    app.handle_event(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

#[test]
fn each_footer_lists_a_key_once_and_help_lists_it_too() {
    let mut a = app();
    for &v in View::ALL {
        a.switch(v);
        // The What-if view opens in its editor; its other footer comes after Esc.
        let states = if v == View::Whatif { 2 } else { 1 };
        for _ in 0..states {
            let footer = a.footer_keys();
            for (i, (k, _)) in footer.iter().enumerate() {
                let twice = footer[i + 1..].iter().any(|(other, _)| keys::same_key(k, other));
                assert!(!twice, "{} footer names {k} twice: {footer:?}", v.name());
            }
            let help = a.view_keys(v, false);
            let global = [keys::footer(GLOBAL_KEYS), vec![FORCE_QUIT_KEY.shown()]].concat();
            for k in &footer {
                assert!(
                    help.contains(k) || global.contains(k),
                    "{}: footer {k:?} not in help {help:?}",
                    v.name()
                );
            }
            press(&mut a, KeyCode::Esc);
        }
    }
}

#[test]
fn help_shows_the_view_it_was_opened_from_with_its_filter_key() {
    let mut a = app();
    a.switch(View::Servers);
    let servers = a.view_keys(View::Servers, false);
    assert!(servers.contains(&("s", "sort")) && servers.contains(&("/", "filter")), "{servers:?}");
    assert!(!a.view_keys(View::Overview, false).contains(&("/", "filter")), "overview does not filter");
}
