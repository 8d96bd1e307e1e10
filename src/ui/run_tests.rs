//! The console's LLM flags: `twintop --llm-url URL --llm-model NAME` (and the other `--llm-*`
//! flags) parse as `advise` does, and the model named there is the one the console's advisor
//! asks the endpoint for.

use super::*;
use crate::advise::llm::tests::{Reply, fake_llm};
use crate::advise::testkit::small_twin_with;
use clap::Parser;

/// The console's options from its command line: the source flags, as `main` passes them on
/// (parsed here without the subcommands, which the console does not see).
fn console(args: &[&str]) -> Options {
    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        source: crate::source::SourceArgs,
    }
    Options { source: Some(Flags::try_parse_from(args).unwrap().source), ..Options::default() }
}

#[test]
fn llm_model_is_one_flag_for_the_console_and_advise() {
    let opts = console(&["twintop", "--demo", "--llm-url", "http://h/v1", "--llm-model", "qwen2.5"]);
    let adv = llm_advisor(&opts).unwrap();
    assert_eq!(adv.client.url, "http://h/v1");
    assert_eq!(adv.source(), "llm:qwen2.5");
    // `advise` reads the same flag before or after the subcommand: `cli::tests`.

    // Without the flag the console asks for the default model; without a URL, no LLM at all.
    let adv = llm_advisor(&console(&["twintop", "--llm-url", "http://h/v1"])).unwrap();
    assert_eq!(adv.prompt.model, crate::advise::llm::DEFAULT_MODEL);
    assert!(llm_advisor(&console(&["twintop"])).is_none());
}

#[test]
fn the_console_takes_the_same_llm_connection_flags_as_advise() {
    let adv = llm_advisor(&console(&[
        "twintop",
        "--llm-url",
        "http://h/v1",
        "--llm-timeout",
        "30",
        "--llm-first-byte-timeout",
        "7",
        "--llm-temperature",
        "0.7",
        "--llm-key-env",
        "TWINTOP_TEST_NO_SUCH_KEY",
    ]))
    .unwrap();
    assert_eq!(adv.client.timeout, std::time::Duration::from_secs(30));
    assert_eq!(adv.client.first_byte_timeout, std::time::Duration::from_secs(7));
    assert_eq!(adv.prompt.temperature, 0.7);
    assert_eq!(adv.client.api_key, None, "the named variable is unset");
    // Defaults when not given, the same for both.
    let adv = llm_advisor(&console(&["twintop", "--llm-url", "http://h/v1"])).unwrap();
    assert_eq!(adv.client.timeout, std::time::Duration::from_secs(120));
    assert_eq!(adv.client.first_byte_timeout, std::time::Duration::from_secs(60));
}

#[tokio::test]
async fn the_console_advisor_sends_the_model_it_was_given() {
    let llm = fake_llm(vec![Reply::Content(r#"{"actions":[]}"#.into())]).await;
    let mut adv =
        llm_advisor(&console(&["twintop", "--llm-url", &llm.url, "--llm-model", "mistral-7b-q4"])).unwrap();
    adv.exchanges = None; // keep the test out of the real data dir
    let snap = small_twin_with(|_| {});
    let (_tx, cancel) = tokio::sync::watch::channel(false);
    let out = adv.advise(&snap, &crate::advise::Guardrails::default(), snap.time, &[], cancel).await;
    assert!(out.exchange.error.is_none(), "{:?}", out.exchange.error);
    let seen = llm.seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    let body: serde_json::Value = serde_json::from_str(&seen[0].1).unwrap();
    assert_eq!(body["model"], "mistral-7b-q4");
    assert!(seen[0].0.starts_with("POST /v1/chat/completions"), "{}", seen[0].0);
}
