//! The console's advisor loop against fake models: built-in rounds go on while the model
//! thinks, the model is asked only about a real twin, and its proposals stay in the queue
//! round after round until they expire.

use super::*;
use crate::advise::llm::tests::{Reply, fake_llm};
use crate::advise::testkit::{small_twin, small_twin_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ANSWER: &str = r#"{"actions":[{"name":"shop/api","target_kind":"workload","action":"scale","replicas":4,"min_replicas":null,"max_replicas":null,"time":null,"reason":"api is over its SLO","confidence":60}]}"#;

fn advising() -> (Advising, watch::Receiver<Option<LlmRun>>) {
    let (progress_tx, progress_rx) = watch::channel::<Option<LlmRun>>(None);
    (Advising::new(Guardrails::default(), progress_tx), progress_rx)
}

/// The next round, handling the LLM's answers on the way as the event loop does.
async fn next_round(
    a: &mut Advising,
    rx: &mut mpsc::Receiver<Advice>,
    tx: &mpsc::Sender<Advice>,
    snap: &Arc<Snapshot>,
) -> Vec<Proposal> {
    loop {
        let advice =
            tokio::time::timeout(Duration::from_secs(20), rx.recv()).await.expect("advice").expect("open");
        match advice {
            Advice::Round(p) => {
                a.on_round(snap, tx);
                return p;
            }
            Advice::Llm(c) => a.on_llm(c, snap, tx),
            Advice::Fit(_) => {}
        }
    }
}

/// The model's proposals: its own, or a built-in one it proposed too (folded into that one as an
/// endorsement).
fn llm_cards(p: &[Proposal]) -> Vec<&Proposal> {
    p.iter()
        .filter(|p| {
            p.source.starts_with("llm:") || p.endorsements.iter().any(|e| e.source.starts_with("llm:"))
        })
        .collect()
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
async fn built_in_rounds_go_on_while_the_model_thinks_and_c_cancels_it() {
    let (url, server) = slow_model().await;
    let llm = Arc::new(LlmAdvisor::new(&url, Some("slow"), None));
    let snap = small_twin();
    let (tx, mut rx) = mpsc::channel::<Advice>(4);
    let (mut a, mut progress_rx) = advising();
    a.every = Duration::ZERO;
    a.on_snapshot(&snap, Some(&llm), &tx);

    // The built-in proposals arrive while the model is still thinking.
    let first = next_round(&mut a, &mut rx, &tx, &snap).await;
    assert!(!first.is_empty());
    assert!(llm_cards(&first).is_empty());

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

    // A newer twin gets a new built-in round while the call is still in flight.
    a.on_snapshot(&snap, Some(&llm), &tx);
    let second = next_round(&mut a, &mut rx, &tx, &snap).await;
    assert!(!second.is_empty() && llm_cards(&second).is_empty(), "a round, not the model's answer");

    // C: the call stops; the next round carries the LLM's card saying so; the line goes away.
    a.cancel_llm();
    let last = next_round(&mut a, &mut rx, &tx, &snap).await;
    let cards = llm_cards(&last);
    assert_eq!(cards.len(), 1, "{last:?}");
    assert!(cards[0].rejection.as_deref().unwrap_or_default().contains("cancelled"), "{:?}", cards[0]);
    assert_eq!(*progress_rx.borrow(), None);
    server.abort();
}

#[tokio::test]
async fn the_models_proposals_stay_round_after_round_until_they_expire() {
    let fake = fake_llm(vec![Reply::Content(ANSWER.into())]).await;
    let llm = Arc::new(LlmAdvisor::new(&fake.url, Some("fake"), None));
    // With a 100 ms SLO the model's api 2 → 4 brings the twin's p99 back within it: a change
    // worth showing (one that cannot change the outcome is not shown).
    let snap = small_twin_with(|w| {
        if w.name == "api" {
            w.slo_p99_ms = Some(100.0);
        }
    });
    let (tx, mut rx) = mpsc::channel::<Advice>(4);
    let (mut a, _progress) = advising();
    a.every = Duration::ZERO;
    a.on_snapshot(&snap, Some(&llm), &tx);
    // Rounds until the model's answer is in one.
    let mut with_llm = Vec::new();
    for _ in 0..5 {
        let round = next_round(&mut a, &mut rx, &tx, &snap).await;
        if !llm_cards(&round).is_empty() {
            with_llm = round;
            break;
        }
    }
    let card = llm_cards(&with_llm).first().map(|p| (*p).clone()).expect("the model's proposal in a round");
    assert_eq!(card.target, "shop/api");
    assert_eq!(card.status, crate::advise::Status::Valid, "{card:?}");
    // Later rounds on newer snapshots re-assess it and keep it, with the same id; the model is
    // not asked again before LLM_EVERY.
    for _ in 0..3 {
        a.on_snapshot(&snap, Some(&llm), &tx);
        let round = next_round(&mut a, &mut rx, &tx, &snap).await;
        let kept = llm_cards(&round);
        assert_eq!(kept.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), [card.id.as_str()], "kept");
    }
    assert_eq!(fake.seen.lock().unwrap().len(), 1);
    // Past LLM_KEEP it leaves the queue.
    a.keep = Duration::ZERO;
    a.on_snapshot(&snap, Some(&llm), &tx);
    let round = next_round(&mut a, &mut rx, &tx, &snap).await;
    assert!(llm_cards(&round).is_empty(), "expired: {round:?}");
}

#[tokio::test]
async fn the_model_is_asked_only_about_a_real_twin() {
    let fake = fake_llm(vec![Reply::Content(r#"{"actions":[]}"#.into())]).await;
    let llm = Arc::new(LlmAdvisor::new(&fake.url, Some("fake"), None));
    let empty = crate::twin::TwinStore::default().snapshot();
    assert!(!is_real(&empty), "the initial twin: no servers, dated {}", empty.time);
    let (tx, mut rx) = mpsc::channel::<Advice>(4);
    let (mut a, _progress) = advising();
    a.every = Duration::ZERO;
    a.on_snapshot(&empty, Some(&llm), &tx);
    next_round(&mut a, &mut rx, &tx, &empty).await;
    assert!(fake.seen.lock().unwrap().is_empty(), "no call on the empty twin");
    let snap = small_twin();
    a.on_snapshot(&snap, Some(&llm), &tx);
    next_round(&mut a, &mut rx, &tx, &snap).await;
    tokio::time::timeout(Duration::from_secs(10), async {
        while fake.seen.lock().unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the first real snapshot is sent to the model");
    let body: serde_json::Value = serde_json::from_str(&fake.seen.lock().unwrap()[0].1).unwrap();
    let prompt = body.to_string();
    assert!(prompt.contains("s1") && prompt.contains("shop/api"), "the real twin in the prompt");
}
