//! The VictoriaMetrics client against bad answers from a canned HTTP server: wrong content
//! type, malformed JSON, error envelopes, huge and cut-short bodies, NaN/Inf samples; and the
//! real response files saved from VictoriaMetrics.

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use twintop::source::victoria::client::{parse_range_response, parse_vector_result};
use twintop::source::victoria::{Targets, VmClient, VmConfig, VmError, VmSource};
use twintop::twin::{FeedState, Location, Resources, Server, TwinEvent, TwinStore};

/// Serves `response` (raw HTTP) to every connection; returns the base URL.
async fn canned(response: Vec<u8>) -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = l.accept().await else { return };
            let resp = response.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let _ = tokio::time::timeout(Duration::from_millis(200), sock.read(&mut buf)).await;
                let _ = sock.write_all(&resp).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    url
}

fn http(ctype: &str, body: &[u8], extra: &str) -> Vec<u8> {
    let mut v = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\nconnection: close\r\n{extra}\r\n",
        body.len()
    )
    .into_bytes();
    v.extend_from_slice(body);
    v
}

async fn query_err(response: Vec<u8>, max: usize) -> String {
    twintop::source::init_tls();
    let url = canned(response).await;
    let c = VmClient::new(&VmConfig::with_url(&url)).unwrap().with_max_response_bytes(max);
    let e = c.query("up{job=\"x\"}", None).await.unwrap_err();
    let s = e.to_string();
    assert!(matches!(e, VmError::BadResponse { .. }), "{s}");
    assert!(s.contains(&url) && s.contains("up{job=\"x\"}"), "names URL and query: {s}");
    s
}

#[tokio::test]
async fn wrong_content_type_is_named_and_escaped() {
    let e = query_err(http("text/html", b"<html>\x1b[31mlogin</html>", ""), 1 << 20).await;
    assert!(e.contains("expected application/json, got \"text/html\""), "{e}");
    assert!(!e.contains('\x1b') && e.contains("\\u{1b}[31m"), "{e}");
}

#[tokio::test]
async fn malformed_json_and_error_envelope() {
    let e = query_err(
        http(
            "application/json",
            br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{}"#,
            "",
        ),
        1 << 20,
    )
    .await;
    assert!(e.contains("malformed JSON"), "{e}");
    let body = br#"{"status":"error","errorType":"422","error":"cannot parse query"}"#;
    let mut resp = http("application/json", body, "");
    resp.splice(9..15, b"422 Unprocessable".iter().copied());
    let e = query_err(resp, 1 << 20).await;
    assert!(e.contains("422 error: cannot parse query"), "{e}");
}

#[tokio::test]
async fn huge_responses_are_capped_and_said_so() {
    let big = vec![b' '; 2 << 20];
    let e = query_err(http("application/json", &big, ""), 1 << 20).await;
    assert!(e.contains("exceeds the 1 MiB cap"), "{e}");
    // Without content-length the body is read in chunks and cut off at the cap.
    let mut resp = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n".to_vec();
    resp.extend_from_slice(&big);
    let e = query_err(resp, 1 << 20).await;
    assert!(e.contains("exceeds the 1 MiB cap; read stopped"), "{e}");
}

#[tokio::test]
async fn cut_short_body_is_an_error() {
    let mut resp = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 5000\r\nconnection: close\r\n\r\n".to_vec();
    resp.extend_from_slice(br#"{"status":"success","data":"#);
    let e = query_err(resp, 1 << 20).await;
    assert!(e.contains("cut short"), "{e}");
}

#[tokio::test]
async fn nan_and_inf_samples_are_kept_out_of_the_twin() {
    twintop::source::init_tls();
    let body = br#"{"status":"success","data":{"resultType":"vector","result":[
        {"metric":{"instance":"n1:9100"},"value":[1700000000,"NaN"]},
        {"metric":{"instance":"n1:9100"},"value":[1700000000,"+Inf"]},
        {"metric":{"instance":"n1:9100"},"value":[1700000000,"0.5"]}]}}"#;
    let url = canned(http("application/json", body, "")).await;
    let c = VmClient::new(&VmConfig::with_url(&url)).unwrap();
    let s = c.query("x", None).await.unwrap();
    assert!(s[0].value.is_nan() && s[1].value == f64::INFINITY && s[2].value == 0.5);
    // Every standard query gets the same answer: NaN/Inf are counted, the 0.5 maps.
    let src = VmSource::new(VmConfig::with_url(&url), false).unwrap();
    let mut st = TwinStore::default();
    st.apply(TwinEvent::Server(Server::new("n1", Location::default(), Resources::new(1000.0, 1000.0, 0.0))));
    let t = Targets::from_snapshot(&st.snapshot());
    let out = src.poll_once(&t, None).await;
    assert_eq!(out.stats.not_finite, 2 * src.jobs().len());
    assert_eq!(out.servers_measured, 1);
    assert!(out.events.iter().any(|e| matches!(e, TwinEvent::Feed(f) if f.state == FeedState::Ok)));
}

#[tokio::test]
async fn unreachable_server_is_down_and_secrets_stay_out_of_messages() {
    twintop::source::init_tls();
    let port = twintop::source::victoria::server::free_port().unwrap();
    // A variable cargo sets for test processes stands in for a token (no set_var in a
    // multi-threaded test).
    let token = std::env::var("CARGO_PKG_DESCRIPTION").expect("cargo sets it");
    let mut cfg = VmConfig::with_url(&format!("http://127.0.0.1:{port}"));
    cfg.bearer_token_env = Some("CARGO_PKG_DESCRIPTION".into());
    let src = VmSource::new(cfg.clone(), false).unwrap();
    let out = src.poll_once(&Targets::default(), None).await;
    assert_eq!(out.state(src.jobs().len()), FeedState::Down);
    let feed = out
        .events
        .iter()
        .find_map(|e| if let TwinEvent::Feed(f) = e { Some(f.clone()) } else { None })
        .unwrap();
    assert_eq!(feed.state, FeedState::Down);
    assert!(!feed.detail.contains(&token) && feed.detail.contains("unreachable"), "{}", feed.detail);
    // Credentials in the URL are used for basic auth and never printed.
    let src =
        VmSource::new(VmConfig::with_url(&format!("http://admin:hunter2@127.0.0.1:{port}/")), false).unwrap();
    assert_eq!(src.client.base_url(), format!("http://127.0.0.1:{port}/"));
    let out = src.poll_once(&Targets::default(), None).await;
    assert!(out.errors.iter().all(|e| !e.to_string().contains("hunter2")));
    let e = VmSource::new(VmConfig::with_url("ftp://admin:hunter2@host/"), false).err().unwrap().to_string();
    assert!(!e.contains("hunter2") && e.contains("ftp://host/"), "{e}");
    cfg.bearer_token_env = Some("TWINTOP_TEST_VM_TOKEN_MISSING".into());
    let e = VmSource::new(cfg, false).err().unwrap().to_string();
    assert!(e.contains("TWINTOP_TEST_VM_TOKEN_MISSING (named in the config) is not set"), "{e}");
}

#[test]
fn saved_victoriametrics_responses_parse() {
    let dir = format!("{}/tests/data/api/victoriametrics", env!("CARGO_MANIFEST_DIR"));
    let v = parse_vector_result(&std::fs::read_to_string(format!("{dir}/instant_response.json")).unwrap())
        .unwrap();
    assert_eq!(v.len(), 219);
    assert!(v.iter().all(|s| s.labels.contains_key("__name__") && s.value.is_finite()));
    assert_eq!(v[1].labels["path"], "/debug/pprof/");
    assert_eq!(v[1].value, 78372.0);
    let r = parse_range_response(&std::fs::read_to_string(format!("{dir}/range_response.json")).unwrap())
        .unwrap();
    assert!(!r.is_empty());
    assert_eq!(r[0].labels["__name__"], "vm_log_messages_total");
    assert_eq!(r[0].points[0], (1748897918.112, 1.0));
    assert!(
        parse_range_response(r#"{"status":"error","errorType":"422","error":"bad"}"#)
            .unwrap_err()
            .contains("bad")
    );
}
