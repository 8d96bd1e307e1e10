//! The console's LLM flags: `twintop --llm-url URL --llm-model NAME` (and the other `--llm-*`
//! flags) parse as `advise` does, and the model named there is the one the console's advisor
//! asks the endpoint for.

use super::*;
use crate::advise::llm::tests::{Reply, fake_llm};
use crate::advise::testkit::small_twin_with;
use crate::cli::{Cli, Command};
use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[test]
fn llm_model_is_one_flag_for_the_console_and_advise() {
    let cli =
        Cli::try_parse_from(["twintop", "--demo", "--llm-url", "http://h/v1", "--llm-model", "qwen2.5"])
            .unwrap();
    assert!(cli.command.is_none(), "no subcommand: the console");
    let opts = Options::from_cli(&cli);
    let adv = llm_advisor(&opts).unwrap();
    assert_eq!(adv.client.url, "http://h/v1");
    assert_eq!(adv.source(), "llm:qwen2.5");

    // Before or after the subcommand, `advise` reads the same flag.
    for args in [
        ["twintop", "advise", "--llm-url", "http://h/v1", "--llm-model", "m1"],
        ["twintop", "--llm-url", "http://h/v1", "--llm-model", "m1", "advise"],
    ] {
        let cli = Cli::try_parse_from(args).unwrap();
        assert!(matches!(cli.command, Some(Command::Advise(_))));
        assert_eq!(cli.source.llm_model.as_deref(), Some("m1"), "{args:?}");
    }

    // Without the flag the console asks for the default model; without a URL, no LLM at all.
    let cli = Cli::try_parse_from(["twintop", "--llm-url", "http://h/v1"]).unwrap();
    let adv = llm_advisor(&Options::from_cli(&cli)).unwrap();
    assert_eq!(adv.prompt.model, crate::advise::llm::DEFAULT_MODEL);
    assert!(llm_advisor(&Options::from_cli(&Cli::try_parse_from(["twintop"]).unwrap())).is_none());
}

#[test]
fn the_console_takes_the_same_llm_connection_flags_as_advise() {
    let cli = Cli::try_parse_from([
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
    ])
    .unwrap();
    let adv = llm_advisor(&Options::from_cli(&cli)).unwrap();
    assert_eq!(adv.client.timeout, std::time::Duration::from_secs(30));
    assert_eq!(adv.client.first_byte_timeout, std::time::Duration::from_secs(7));
    assert_eq!(adv.prompt.temperature, 0.7);
    assert_eq!(adv.client.api_key, None, "the named variable is unset");
    // Defaults when not given, the same for both.
    let cli = Cli::try_parse_from(["twintop", "--llm-url", "http://h/v1"]).unwrap();
    let adv = llm_advisor(&Options::from_cli(&cli)).unwrap();
    assert_eq!(adv.client.timeout, std::time::Duration::from_secs(120));
    assert_eq!(adv.client.first_byte_timeout, std::time::Duration::from_secs(60));
    let cli = Cli::try_parse_from(["twintop", "advise", "--llm-timeout", "30"]).unwrap();
    assert_eq!(cli.source.llm_timeout, 30, "after the subcommand too");
}

#[tokio::test]
async fn the_console_advisor_sends_the_model_it_was_given() {
    let llm = fake_llm(vec![Reply::Content(r#"{"actions":[]}"#.into())]).await;
    let cli =
        Cli::try_parse_from(["twintop", "--llm-url", &llm.url, "--llm-model", "mistral-7b-q4"]).unwrap();
    let mut adv = llm_advisor(&Options::from_cli(&cli)).unwrap();
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

/// A model that starts streaming, sends a few pieces and then thinks forever.
async fn slow_model() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let Ok((mut sock, _)) = listener.accept().await else { return };
        let mut buf = [0u8; 65536];
        let _ = sock.read(&mut buf).await;
        let mut out = String::from("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n");
        for piece in ["{\"act", "ions\"", ": ["] {
            out.push_str(&format!(
                "data: {}\n\n",
                serde_json::json!({"choices": [{"delta": {"content": piece}}]})
            ));
        }
        let _ = sock.write_all(out.as_bytes()).await;
        std::future::pending::<()>().await;
    });
    (url, task)
}

#[tokio::test]
async fn builtin_proposals_come_before_the_llm_answers_and_the_call_can_be_cancelled() {
    let (url, server) = slow_model().await;
    let llm = Arc::new(LlmAdvisor::new(&url, Some("slow"), None));
    let snap = crate::advise::testkit::small_twin();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Advice>(2);
    let (progress_tx, mut progress_rx) = tokio::sync::watch::channel::<Option<LlmRun>>(None);
    let mut advising =
        Advising { busy: false, last: None, last_llm: None, cancel_llm: None, progress: progress_tx };
    advising.maybe_start(&snap, Some(&llm), &tx);

    // The built-in proposals arrive while the model is still thinking.
    let first = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.unwrap().unwrap();
    assert!(!first.last);
    assert!(!first.proposals.is_empty());
    assert!(first.proposals.iter().all(|p| !p.source.starts_with("llm:")));

    // Progress shows the pieces streamed so far.
    let run = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            progress_rx.changed().await.unwrap();
            if let Some(r) = progress_rx.borrow_and_update().clone().filter(|r| r.progress.tokens == 3) {
                return r;
            }
        }
    })
    .await
    .expect("progress with the three pieces");
    assert!(run.line().starts_with("LLM slow: 3 tokens"), "{}", run.line());

    // C: the call stops, the run ends with the LLM's card saying so, the line goes away.
    advising.cancel_llm();
    let last = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.unwrap().unwrap();
    assert!(last.last);
    let llm_cards: Vec<&Proposal> = last.proposals.iter().filter(|p| p.source == "llm:slow").collect();
    assert_eq!(llm_cards.len(), 1);
    assert!(
        llm_cards[0].rejection.as_deref().unwrap_or_default().contains("cancelled"),
        "{:?}",
        llm_cards[0]
    );
    assert_eq!(*progress_rx.borrow(), None);
    server.abort();
}
