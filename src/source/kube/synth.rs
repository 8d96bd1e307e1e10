//! The `kube-map` benchmark: a synthetic cluster of realistic objects (node images and
//! conditions, pod managed fields, probes, env, statuses) as list pages of JSON, run through
//! the same path as a live list: parse a page, strip, store in the reflector, then map the
//! whole re-list into twin events and a snapshot.

use super::slim::SlimPod;
use super::sync::Mapper;
use super::watch::{self, Kind, Shared, Stores};
use crate::twin::{TwinEvent, TwinStore};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Node;
use kube::core::ObjectList;
use kube::runtime::reflector::{self, store::Writer};
use kube::runtime::watcher::Event;
use serde_json::{Value, json};
use std::time::Instant;

/// The page size kube's watcher lists with (client-go's too).
const PAGE: usize = 500;
const PODS_PER_DEPLOYMENT: usize = 100;

/// What the benchmark measured.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct KubeMapFigures {
    pub nodes: usize,
    pub pods: usize,
    pub workloads: usize,
    pub json_mb: f64,
    /// Parsing list pages into k8s-openapi objects and storing them (reflector path).
    pub parse_ms: f64,
    /// Mapping every stored object into twin events (the `Mapper` of the live source).
    pub map_ms: f64,
    /// Applying the events to a store and building the snapshot.
    pub snapshot_ms: f64,
    /// CPU time of map + snapshot (10 ms resolution), immune to a busy machine.
    pub map_snapshot_cpu_ms: Option<f64>,
    pub events: usize,
    /// Resident memory once the reflector stores hold every object, before mapping.
    pub rss_listed_mb: Option<f64>,
    pub vm_rss_mb: Option<f64>,
    pub vm_hwm_mb: Option<f64>,
}

impl KubeMapFigures {
    /// The figure the ≤ 1 s target is about: stored objects → twin snapshot.
    pub(crate) fn map_and_snapshot_ms(&self) -> f64 {
        self.map_ms + self.snapshot_ms
    }
}

fn node_json(i: usize) -> Value {
    let name = format!("ip-10-{}-{}-{}.eu-west-1.compute.internal", i / 65536, (i / 256) % 256, i % 256);
    let images: Vec<Value> = (0..20)
        .map(|k| {
            json!({"names": [format!("registry.example.com/team-{k}/service@sha256:{:064x}", i * 31 + k),
                             format!("registry.example.com/team-{k}/service:v1.{k}.{}", i % 7)],
                   "sizeBytes": 50_000_000 + k * 1_000_000})
        })
        .collect();
    let cond = |t: &str, s: &str| {
        json!({"type": t, "status": s, "lastHeartbeatTime": "2026-11-23T10:00:00Z",
               "lastTransitionTime": "2026-11-01T10:00:00Z", "reason": format!("Kubelet{t}"), "message": "kubelet is posting ready status"})
    };
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {
            "name": name, "uid": format!("{:08x}-0000-4000-8000-{:012x}", i, i), "resourceVersion": format!("{}", 100_000 + i),
            "creationTimestamp": "2026-11-01T10:00:00Z",
            "labels": {
                "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64",
                "topology.kubernetes.io/region": format!("region-{}", i / 2000),
                "topology.kubernetes.io/zone": format!("zone-{}", i / 400),
                "topology.kubernetes.io/rack": format!("rack-{}", i / 40),
                "node.kubernetes.io/instance-type": if i.is_multiple_of(3) { "m5.4xlarge" } else { "c5.4xlarge" },
                "eks.amazonaws.com/nodegroup": format!("ng-{}", i % 10), "eks.amazonaws.com/capacityType": "ON_DEMAND"
            },
            "annotations": {"node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true",
                            "alpha.kubernetes.io/provided-node-ip": format!("10.0.{}.{}", (i / 256) % 256, i % 256)},
            "managedFields": [{"manager": "kubelet", "operation": "Update", "apiVersion": "v1", "time": "2026-11-23T10:00:00Z",
                               "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {"f:conditions": {}, "f:images": {}}}}]
        },
        "spec": {"providerID": format!("aws:///eu-west-1a/i-{:017x}", i), "podCIDR": "10.244.0.0/24"},
        "status": {
            "capacity": {"cpu": "16", "memory": "65023544Ki", "pods": "110", "ephemeral-storage": "104845292Ki", "hugepages-2Mi": "0"},
            "allocatable": {"cpu": "15890m", "memory": "63002168Ki", "pods": "110", "ephemeral-storage": "95551679124", "hugepages-2Mi": "0"},
            "conditions": [cond("MemoryPressure", "False"), cond("DiskPressure", "False"), cond("PIDPressure", "False"), cond("Ready", "True")],
            "addresses": [{"type": "InternalIP", "address": format!("10.0.{}.{}", (i / 256) % 256, i % 256)}, {"type": "Hostname", "address": name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {"machineID": format!("{:032x}", i), "systemUUID": format!("{:032x}", i), "bootID": format!("{:032x}", i * 7),
                         "kernelVersion": "6.1.109", "osImage": "Amazon Linux 2023", "containerRuntimeVersion": "containerd://1.7.22",
                         "kubeletVersion": "v1.33.1", "kubeProxyVersion": "v1.33.1", "operatingSystem": "linux", "architecture": "amd64"},
            "images": images
        }
    })
}

fn deployment_name(d: usize) -> String {
    format!("service-{d:04}")
}

fn pod_json(i: usize, nodes: usize) -> Value {
    let d = i / PODS_PER_DEPLOYMENT;
    let dep = deployment_name(d);
    let hash = format!("{:010x}", d * 7919);
    let name = format!("{dep}-{hash}-{:05x}", i);
    let node = format!(
        "ip-10-{}-{}-{}.eu-west-1.compute.internal",
        (i % nodes) / 65536,
        ((i % nodes) / 256) % 256,
        (i % nodes) % 256
    );
    let container = |n: &str, cpu: &str, mem: &str| {
        json!({
            "name": n, "image": format!("registry.example.com/{dep}/{n}:v1.2.3"), "imagePullPolicy": "IfNotPresent",
            "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}],
            "env": [{"name": "PORT", "value": "8080"}, {"name": "LOG_LEVEL", "value": "info"},
                    {"name": "NEXT_SERVICE_ADDR", "value": format!("{}:8080", deployment_name(d + 1))},
                    {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}],
            "resources": {"requests": {"cpu": cpu, "memory": mem}, "limits": {"cpu": "1", "memory": "1Gi"}},
            "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"}, "periodSeconds": 10, "timeoutSeconds": 1, "failureThreshold": 3, "successThreshold": 1},
            "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080, "scheme": "HTTP"}, "periodSeconds": 5, "timeoutSeconds": 1, "failureThreshold": 3, "successThreshold": 1},
            "volumeMounts": [{"name": "config", "mountPath": "/etc/config", "readOnly": true},
                             {"name": "kube-api-access", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true}],
            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"
        })
    };
    let status = |n: &str| {
        json!({"name": n, "ready": true, "restartCount": 0, "started": true, "image": format!("registry.example.com/{dep}/{n}:v1.2.3"),
               "imageID": format!("registry.example.com/{dep}/{n}@sha256:{:064x}", d), "containerID": format!("containerd://{:064x}", i),
               "state": {"running": {"startedAt": "2026-11-23T09:00:00Z"}}})
    };
    let cond = |t: &str| json!({"type": t, "status": "True", "lastProbeTime": null, "lastTransitionTime": "2026-11-23T09:00:00Z"});
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name, "namespace": format!("team-{}", d % 20), "uid": format!("{:08x}-1111-4000-8000-{:012x}", i, i),
            "resourceVersion": format!("{}", 200_000 + i), "creationTimestamp": "2026-11-23T09:00:00Z", "generateName": format!("{dep}-{hash}-"),
            "labels": {"app": dep, "pod-template-hash": hash, "app.kubernetes.io/part-of": "shop"},
            "annotations": {"kubectl.kubernetes.io/restartedAt": "2026-11-20T09:00:00Z", "prometheus.io/scrape": "true"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("{dep}-{hash}"),
                                 "uid": format!("{:08x}-2222-4000-8000-{:012x}", d, d), "controller": true, "blockOwnerDeletion": true}],
            "managedFields": [{"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1", "time": "2026-11-23T09:00:00Z",
                               "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:generateName": {}, "f:labels": {"f:app": {}}}, "f:spec": {"f:containers": {}}}},
                              {"manager": "kubelet", "operation": "Update", "apiVersion": "v1", "time": "2026-11-23T09:00:05Z", "subresource": "status",
                               "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {"f:conditions": {}, "f:containerStatuses": {}, "f:podIP": {}}}}]
        },
        "spec": {
            "containers": if i.is_multiple_of(4) { json!([container("app", "250m", "256Mi"), container("proxy", "100m", "128Mi")]) } else { json!([container("app", "500m", "512Mi")]) },
            "volumes": [{"name": "config", "configMap": {"name": format!("{dep}-config"), "defaultMode": 420}},
                        {"name": "kube-api-access", "projected": {"defaultMode": 420, "sources": [{"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}]}}],
            "nodeName": node, "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "default", "schedulerName": "default-scheduler", "priority": 0, "enableServiceLinks": true, "preemptionPolicy": "PreemptLowerPriority",
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]
        },
        "status": {
            "phase": "Running", "hostIP": "10.0.0.1", "podIP": format!("10.244.{}.{}", (i / 256) % 256, i % 256), "startTime": "2026-11-23T09:00:00Z", "qosClass": "Burstable",
            "conditions": [cond("Initialized"), cond("Ready"), cond("ContainersReady"), cond("PodScheduled")],
            "containerStatuses": if i.is_multiple_of(4) { json!([status("app"), status("proxy")]) } else { json!([status("app")]) }
        }
    })
}

fn deployment_json(d: usize) -> Value {
    let dep = deployment_name(d);
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": dep, "namespace": format!("team-{}", d % 20), "labels": {"app": dep}},
        "spec": {"replicas": PODS_PER_DEPLOYMENT, "selector": {"matchLabels": {"app": dep}},
                 "template": {"metadata": {"labels": {"app": dep}}, "spec": {"containers": [
                     {"name": "app", "image": format!("registry.example.com/{dep}/app:v1.2.3"),
                      "env": [{"name": "NEXT_SERVICE_ADDR", "value": format!("{}:8080", deployment_name(d + 1))}],
                      "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}}]}}}
    })
}

fn replicaset_json(d: usize) -> Value {
    let dep = deployment_name(d);
    json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": format!("{dep}-{:010x}", d * 7919), "namespace": format!("team-{}", d % 20),
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": dep, "uid": "u", "controller": true}]},
        "spec": {"replicas": PODS_PER_DEPLOYMENT, "selector": {"matchLabels": {"app": dep}}}
    })
}

/// Lists `count` objects in pages like the watcher does: each page is JSON, parsed, stripped
/// and stored; only one page of text is alive at a time. Returns (bytes of JSON, seconds
/// spent parsing and storing, generation excluded).
fn list_into<K>(
    count: usize,
    make: impl Fn(usize) -> Value,
    strip: fn(&mut K),
    w: &mut Writer<K>,
) -> anyhow::Result<(usize, f64)>
where
    K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned,
{
    let (mut bytes, mut secs) = (0, 0.0);
    w.apply_watcher_event(&Event::Init);
    for start in (0..count).step_by(PAGE) {
        let items: Vec<Value> = (start..(start + PAGE).min(count)).map(&make).collect();
        let page =
            json!({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": "1"}, "items": items})
                .to_string();
        bytes += page.len();
        let t = Instant::now();
        let list: ObjectList<K> = serde_json::from_str(&page)?;
        for mut o in list.items {
            strip(&mut o);
            w.apply_watcher_event(&Event::InitApply(o));
        }
        secs += t.elapsed().as_secs_f64();
    }
    let t = Instant::now();
    w.apply_watcher_event(&Event::InitDone);
    Ok((bytes, secs + t.elapsed().as_secs_f64()))
}

/// CPU time of this thread in ms (utime + stime, USER_HZ = 100), where /proc has it: the
/// figure that does not depend on what else the machine is doing.
pub(crate) fn thread_cpu_ms() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = s.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks * 10.0)
}

/// Runs the benchmark.
pub(crate) fn kube_map(nodes: usize, pods: usize) -> anyhow::Result<KubeMapFigures> {
    let nodes = nodes.max(1);
    let deployments = pods.div_ceil(PODS_PER_DEPLOYMENT);
    let (node_r, mut node_w) = reflector::store::<Node>();
    let (pod_r, mut pod_w) = reflector::store::<SlimPod>();
    let (dep_r, mut dep_w) = reflector::store::<Deployment>();
    let (rs_r, mut rs_w) = reflector::store::<ReplicaSet>();
    let stores = Stores {
        nodes: node_r,
        pods: pod_r,
        deployments: dep_r,
        statefulsets: reflector::store().0,
        replicasets: rs_r,
        hpas: reflector::store().0,
        services: reflector::store().0,
        slices: reflector::store().0,
    };
    let mut bytes = 0;
    let mut parse_s = 0.0;
    for (b, s) in [
        list_into(nodes, node_json, watch::strip_node, &mut node_w)?,
        list_into(pods, |i| pod_json(i, nodes), watch::strip_pod, &mut pod_w)?,
        list_into(deployments, deployment_json, watch::strip_deployment, &mut dep_w)?,
        list_into(deployments, replicaset_json, watch::strip_replicaset, &mut rs_w)?,
    ] {
        bytes += b;
        parse_s += s;
    }
    let parse_ms = parse_s * 1000.0;
    let rss_listed_mb = proc_memory().0;

    let shared = Shared::new(super::Scope::All, "bench".into());
    let mut pending = watch::Pending::default();
    pending.relisted.extend(Kind::ALL);
    let mut mapper = Mapper::new(stores);
    let cpu0 = thread_cpu_ms();
    let t = Instant::now();
    let events: Vec<TwinEvent> = mapper.flush(pending, &shared);
    let map_ms = t.elapsed().as_secs_f64() * 1000.0;
    let n_events = events.len();
    let t = Instant::now();
    let mut store = TwinStore::default();
    store.apply_all(events);
    let snap = store.snapshot();
    let snapshot_ms = t.elapsed().as_secs_f64() * 1000.0;
    let map_snapshot_cpu_ms = cpu0.zip(thread_cpu_ms()).map(|(a, b)| b - a);
    anyhow::ensure!(
        snap.servers.len() == nodes && snap.pods.len() == pods && snap.workloads.len() == deployments,
        "benchmark twin has {} servers, {} pods, {} workloads; expected {nodes}, {pods}, {deployments}",
        snap.servers.len(),
        snap.pods.len(),
        snap.workloads.len()
    );
    let (vm_rss_mb, vm_hwm_mb) = proc_memory();
    Ok(KubeMapFigures {
        nodes,
        pods,
        workloads: deployments,
        json_mb: bytes as f64 / 1e6,
        parse_ms,
        map_ms,
        snapshot_ms,
        map_snapshot_cpu_ms,
        events: n_events,
        rss_listed_mb,
        vm_rss_mb,
        vm_hwm_mb,
    })
}

/// (VmRSS, VmHWM) in MB from /proc/self/status, where there is one.
pub(crate) fn proc_memory() -> (Option<f64>, Option<f64>) {
    let Ok(s) = std::fs::read_to_string("/proc/self/status") else { return (None, None) };
    let field = |name: &str| {
        s.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| kb * 1024.0 / 1e6)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_synthetic_cluster_maps_completely() {
        let f = kube_map(12, 450).unwrap();
        assert_eq!((f.nodes, f.pods, f.workloads), (12, 450, 5));
        // one event per server, workload and pod, plus the env and annotation call graphs and the feed
        assert_eq!(f.events, 12 + 5 + 450 + 3);
    }

    #[test]
    fn synthetic_objects_parse_as_kubernetes_types() {
        let n: Node = serde_json::from_value(node_json(3)).unwrap();
        let s = crate::source::k8s_map::node_to_server(&n).unwrap();
        assert_eq!(s.capacity.cpu_m, 16_000.0);
        assert_eq!(s.allocatable.cpu_m, 15_890.0);
        let p: SlimPod = serde_json::from_value(pod_json(4, 10)).unwrap();
        let spec = super::super::map::pod_to_spec(&p, |_, _| None).unwrap();
        assert_eq!(spec.workload.as_deref(), Some("service-0000"));
        assert_eq!(spec.requests.cpu_m, 350.0, "two containers");
    }
}
