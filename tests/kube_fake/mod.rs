//! A tiny Kubernetes API server for tests: HTTP/1.1 on a loopback port, speaking the list and
//! watch protocol (resourceVersion, chunked JSON-lines watch events, BOOKMARK, ERROR 410 Gone
//! after compaction), 403 on chosen resources, and restarts that drop every connection.
//!
//! Resources are identified by their collection path without the namespace segment, e.g.
//! `/api/v1/nodes`, `/apis/apps/v1/deployments`.

#![allow(dead_code)]

use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::broadcast;
use tokio::task::JoinSet;

#[derive(Clone, Debug)]
enum Ev {
    Object {
        rv: u64,
        id: String,
        ns: Option<String>,
        kind: &'static str,
        obj: Value,
    },
    /// Every open watch gets ERROR 410 and ends.
    Expire,
    /// Every open watch ends cleanly (as when timeoutSeconds runs out).
    Close,
}

#[derive(Default)]
struct State {
    rv: u64,
    objects: BTreeMap<String, BTreeMap<String, Value>>,
    history: Vec<Ev>,
    /// Watches from a resourceVersion below this get 410 Gone.
    compacted: u64,
    forbidden: HashSet<String>,
    requests: Vec<String>,
    /// Serve SelfSubjectAccessReviews (allowed) and Deployments' scale subresource (GET, and
    /// merge PATCH with dryRun and a resourceVersion precondition), as a cluster that accepts
    /// changes does.
    changes: bool,
}

pub struct FakeApi {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    events: broadcast::Sender<Ev>,
    server: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

fn key_of(obj: &Value) -> (Option<String>, String) {
    let m = &obj["metadata"];
    let ns = m["namespace"].as_str().map(str::to_string);
    let name = m["name"].as_str().unwrap_or("").to_string();
    (ns.clone(), ns.map_or(name.clone(), |n| format!("{n}/{name}")))
}

impl FakeApi {
    /// Starts on a free loopback port (inside a tokio runtime).
    pub async fn start() -> Arc<FakeApi> {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port");
        let addr = probe.local_addr().unwrap();
        drop(probe);
        let (events, _) = broadcast::channel(1024);
        let api = Arc::new(FakeApi { addr, state: Arc::default(), events, server: Mutex::new(None) });
        api.clone().listen();
        api
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn listen(self: Arc<Self>) {
        let sock = TcpSocket::new_v4().unwrap();
        sock.set_reuseaddr(true).unwrap();
        sock.bind(self.addr).unwrap_or_else(|e| panic!("fake API server: bind {}: {e}", self.addr));
        let listener = sock.listen(64).unwrap();
        let me = self.clone();
        let task = tokio::spawn(async move {
            // Connections live in this set, so aborting the server drops every one of them.
            let mut conns = JoinSet::new();
            loop {
                tokio::select! {
                    Ok((stream, _)) = listener.accept() => {
                        let me = me.clone();
                        conns.spawn(async move { me.serve(stream).await });
                    }
                    Some(_) = conns.join_next(), if !conns.is_empty() => {}
                }
            }
        });
        *self.server.lock().unwrap() = Some(task);
    }

    /// Stops listening and drops every connection (an API server going away).
    pub async fn stop(&self) {
        let task = self.server.lock().unwrap().take();
        if let Some(t) = task {
            t.abort();
            let _ = t.await;
        }
    }

    /// Comes back on the same port with a fresh watch cache: older resourceVersions are gone.
    pub fn restart(self: &Arc<Self>) {
        {
            let mut st = self.state.lock().unwrap();
            st.compacted = st.rv;
            st.history.clear();
        }
        self.clone().listen();
    }

    /// Adds or replaces an object, with a watch event (ADDED or MODIFIED).
    pub fn apply(&self, id: &str, obj: Value) {
        self.put(id, obj, true);
    }

    /// Changes an object without any watch event, as if the event fell into a gap; only a
    /// re-list shows it.
    pub fn apply_silently(&self, id: &str, obj: Value) {
        self.put(id, obj, false);
    }

    fn put(&self, id: &str, mut obj: Value, notify: bool) {
        let mut st = self.state.lock().unwrap();
        st.rv += 1;
        let rv = st.rv;
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        let (ns, key) = key_of(&obj);
        let existed = st.objects.entry(id.into()).or_default().insert(key, obj.clone()).is_some();
        if notify {
            let kind = if existed { "MODIFIED" } else { "ADDED" };
            let ev = Ev::Object { rv, id: id.into(), ns, kind, obj };
            st.history.push(ev.clone());
            let _ = self.events.send(ev);
        }
    }

    pub fn delete(&self, id: &str, key: &str) {
        let mut st = self.state.lock().unwrap();
        st.rv += 1;
        let rv = st.rv;
        if let Some(mut obj) = st.objects.get_mut(id).and_then(|m| m.remove(key)) {
            obj["metadata"]["resourceVersion"] = json!(rv.to_string());
            let ev = Ev::Object { rv, id: id.into(), ns: key_of(&obj).0, kind: "DELETED", obj };
            st.history.push(ev.clone());
            let _ = self.events.send(ev);
        }
    }

    pub fn get(&self, id: &str, key: &str) -> Value {
        self.state.lock().unwrap().objects[id][key].clone()
    }

    /// Accepts changes from here on (see `State::changes`).
    pub fn allow_changes(&self) {
        self.state.lock().unwrap().changes = true;
    }

    pub fn forbid(&self, id: &str) {
        self.state.lock().unwrap().forbidden.insert(id.into());
    }

    /// Compacts history: open watches get ERROR 410 and must re-list.
    pub fn expire_watches(&self) {
        let mut st = self.state.lock().unwrap();
        st.compacted = st.rv;
        st.history.clear();
        let _ = self.events.send(Ev::Expire);
    }

    /// Ends every open watch cleanly; clients re-watch from their last resourceVersion.
    pub fn close_watches(&self) {
        let _ = self.events.send(Ev::Close);
    }

    /// Request lines served so far ("GET /api/v1/nodes?...").
    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }

    async fn serve(self: Arc<Self>, mut s: TcpStream) {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let head = String::from_utf8_lossy(&buf).to_string();
        let line = head.lines().next().unwrap_or("").to_string();
        let target = line.split(' ').nth(1).unwrap_or("/").to_string();
        self.state.lock().unwrap().requests.push(line.clone());
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let params: BTreeMap<&str, &str> = query.split('&').filter_map(|kv| kv.split_once('=')).collect();
        if path == "/apis" {
            return respond(&mut s, 200, &api_groups()).await;
        }
        let changes = self.state.lock().unwrap().changes;
        if changes && let Some((code, body)) = self.change(&line, path, &params, &head, &buf, &mut s).await {
            return respond(&mut s, code, &body).await;
        }
        let Some((id, ns)) = route(path) else {
            return respond(
                &mut s,
                404,
                &status(404, "NotFound", &format!("the server could not find {path}")),
            )
            .await;
        };
        if self.state.lock().unwrap().forbidden.contains(&id) {
            let plural = id.rsplit('/').next().unwrap_or("");
            let msg = format!("{plural} is forbidden: User \"test\" cannot list resource \"{plural}\"");
            return respond(&mut s, 403, &status(403, "Forbidden", &msg)).await;
        }
        if params.get("watch").is_some_and(|v| *v == "true" || *v == "1") {
            let from: u64 = params.get("resourceVersion").and_then(|v| v.parse().ok()).unwrap_or(0);
            return self.watch(s, id, ns, from).await;
        }
        let (rv, items) = {
            let st = self.state.lock().unwrap();
            let items: Vec<Value> = st
                .objects
                .get(&id)
                .into_iter()
                .flat_map(|m| m.values())
                .filter(|o| ns.is_none() || key_of(o).0 == ns)
                .cloned()
                .collect();
            (st.rv, items)
        };
        let list = json!({"kind": "List", "apiVersion": "v1", "metadata": {"resourceVersion": rv.to_string()}, "items": items});
        respond(&mut s, 200, &list).await
    }

    /// An access review (always allowed) or a Deployment's scale subresource; None for any
    /// other request.
    async fn change(
        &self,
        line: &str,
        path: &str,
        params: &BTreeMap<&str, &str>,
        head: &str,
        buf: &[u8],
        s: &mut TcpStream,
    ) -> Option<(u16, Value)> {
        let method = line.split(' ').next().unwrap_or("");
        if method == "POST" && path.ends_with("/selfsubjectaccessreviews") {
            return Some((
                201,
                json!({"kind": "SelfSubjectAccessReview",
                "apiVersion": "authorization.k8s.io/v1", "metadata": {}, "spec": {}, "status": {"allowed": true}}),
            ));
        }
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let ["apis", "apps", "v1", "namespaces", ns, "deployments", name, "scale"] = parts.as_slice() else {
            return None;
        };
        let key = format!("{ns}/{name}");
        let Some(mut d) =
            self.state.lock().unwrap().objects.get(DEPLOYMENTS).and_then(|m| m.get(&key)).cloned()
        else {
            return Some((404, status(404, "NotFound", &format!("deployments.apps \"{name}\" not found"))));
        };
        let scale = |d: &Value| {
            json!({"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {"name": name, "namespace": ns, "resourceVersion": d["metadata"]["resourceVersion"]},
                "spec": {"replicas": d["spec"]["replicas"]}, "status": {"replicas": d["spec"]["replicas"]}})
        };
        if method == "GET" {
            return Some((200, scale(&d)));
        }
        if method != "PATCH" {
            return None;
        }
        let body = read_body(head, buf, s).await;
        let patch: Value = serde_json::from_slice(&body).unwrap_or_default();
        if let Some(want) = patch["metadata"]["resourceVersion"].as_str()
            && d["metadata"]["resourceVersion"].as_str() != Some(want)
        {
            let msg = format!(
                "Operation cannot be fulfilled on deployments.apps \"{name}\": the object has been modified"
            );
            return Some((409, status(409, "Conflict", &msg)));
        }
        d["spec"]["replicas"] = patch["spec"]["replicas"].clone();
        if !params.contains_key("dryRun") {
            self.put(DEPLOYMENTS, d.clone(), true);
            d = self.get(DEPLOYMENTS, &key);
        }
        Some((200, scale(&d)))
    }

    async fn watch(&self, mut s: TcpStream, id: String, ns: Option<String>, from: u64) {
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
        if s.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let (mut rx, backlog, rv, gone) = {
            let st = self.state.lock().unwrap();
            (self.events.subscribe(), st.history.clone(), st.rv, from < st.compacted)
        };
        if gone {
            let _ = chunk(
                &mut s,
                &json!({"type": "ERROR", "object": status(410, "Expired", "too old resource version")}),
            )
            .await;
            let _ = s.write_all(b"0\r\n\r\n").await;
            return;
        }
        let matches = |ev_id: &str, ev_ns: &Option<String>| ev_id == id && (ns.is_none() || *ev_ns == ns);
        for ev in backlog {
            if let Ev::Object { rv, id: i, ns: n, kind, obj } = ev
                && rv > from
                && matches(&i, &n)
                && chunk(&mut s, &json!({"type": kind, "object": obj})).await.is_err()
            {
                return;
            }
        }
        let bookmark = json!({"type": "BOOKMARK", "object": {"kind": "Bookmark", "apiVersion": "v1", "metadata": {"resourceVersion": rv.to_string()}}});
        if chunk(&mut s, &bookmark).await.is_err() {
            return;
        }
        loop {
            match rx.recv().await {
                Ok(Ev::Object { rv: r, id: i, ns: n, kind, obj }) if r > rv && matches(&i, &n) => {
                    if chunk(&mut s, &json!({"type": kind, "object": obj})).await.is_err() {
                        return;
                    }
                }
                Ok(Ev::Object { .. }) => {}
                Ok(Ev::Expire) => {
                    let gone = json!({"type": "ERROR", "object": status(410, "Expired", "too old resource version")});
                    let _ = chunk(&mut s, &gone).await;
                    break;
                }
                Ok(Ev::Close) | Err(_) => break,
            }
        }
        let _ = s.write_all(b"0\r\n\r\n").await;
    }
}

const DEPLOYMENTS: &str = "/apis/apps/v1/deployments";

/// The request body after the head in `buf`, read to its Content-Length.
async fn read_body(head: &str, buf: &[u8], s: &mut TcpStream) -> Vec<u8> {
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0);
    let start = buf.windows(4).position(|w| w == b"\r\n\r\n").map_or(buf.len(), |i| i + 4);
    let mut body = buf[start..].to_vec();
    let mut chunk = [0u8; 4096];
    while body.len() < len {
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    body
}

/// `/api/v1/namespaces/x/pods` → (`/api/v1/pods`, Some(x)).
fn route(path: &str) -> Option<(String, Option<String>)> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let prefix = match *parts.first()? {
        "api" => 2,
        "apis" => 3,
        _ => return None,
    };
    if parts.len() < prefix + 1 {
        return None;
    }
    let base = parts[..prefix].join("/");
    match &parts[prefix..] {
        [plural] => Some((format!("/{base}/{plural}"), None)),
        ["namespaces", ns, plural] => Some((format!("/{base}/{plural}"), Some(ns.to_string()))),
        _ => None,
    }
}

fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code})
}

fn api_groups() -> Value {
    let g = |name: &str, v: &str| {
        json!({"name": name, "versions": [{"groupVersion": format!("{name}/{v}"), "version": v}],
               "preferredVersion": {"groupVersion": format!("{name}/{v}"), "version": v}})
    };
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": [
        g("apps", "v1"), g("autoscaling", "v2"), g("discovery.k8s.io", "v1"), g("metrics.k8s.io", "v1beta1")
    ]})
}

async fn respond(s: &mut TcpStream, code: u16, body: &Value) {
    let body = body.to_string();
    let reason = match code {
        200 => "OK",
        201 => "Created",
        403 => "Forbidden",
        409 => "Conflict",
        404 => "Not Found",
        _ => "Error",
    };
    let head = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = s.write_all(head.as_bytes()).await;
    let _ = s.write_all(body.as_bytes()).await;
    let _ = s.shutdown().await;
}

async fn chunk(s: &mut TcpStream, v: &Value) -> std::io::Result<()> {
    let line = format!("{v}\n");
    s.write_all(format!("{:x}\r\n{line}\r\n", line.len()).as_bytes()).await?;
    s.flush().await
}

/// A kubeconfig pointing at `server` (plain HTTP, no credentials) with context `ctx` on
/// cluster `cluster`, written into `dir`.
pub fn write_kubeconfig(dir: &std::path::Path, server: &str, cluster: &str, ctx: &str) -> std::path::PathBuf {
    let text = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: {ctx}\nclusters:\n- name: {cluster}\n  cluster:\n    server: {server}\n\
contexts:\n- name: {ctx}\n  context:\n    cluster: {cluster}\n    user: tester\n    namespace: icx\n\
users:\n- name: tester\n  user: {{}}\n"
    );
    let path = dir.join("kubeconfig");
    std::fs::write(&path, text).unwrap();
    path
}
