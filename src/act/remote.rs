//! Who owns a data dir, and how the others reach it. One process owns a data dir at a time —
//! the first console or `twintop operator` to start on it: it holds `operator.lock`, writes the
//! audit log, fires the calendar, and answers the headless commands on `operator.sock` (a Unix
//! socket, 0600, one JSON request and one JSON reply per line). The kernel drops the lock when
//! the owner dies, even by `kill -9`, so the next process to start takes over.

use super::operator_requests::{Reply, Request};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

pub(crate) const LOCK_FILE: &str = "operator.lock";
pub(crate) const SOCKET_FILE: &str = "operator.sock";
/// The longest request or reply line read (a reply carries a proposal and a diff: a few kB).
const MAX_LINE: u64 = 1 << 20;
/// How long a headless command waits for the owner's answer (a re-assessment simulates).
pub(crate) const REPLY_TIMEOUT: Duration = Duration::from_secs(120);

/// The data dir's owner lock, held for as long as this lives.
#[derive(Debug)]
pub(crate) struct Ownership {
    _file: File,
    #[cfg(test)]
    description: String,
}

/// Takes ownership of `data_dir` as `description` (`twintop operator (pid 812)`), or returns
/// the description of the process that holds it.
pub(crate) fn claim(data_dir: &Path, description: &str) -> Result<Ownership, String> {
    let path = data_dir.join(LOCK_FILE);
    let io = |e: std::io::Error| format!("{}: {e}", path.display());
    crate::paths::private_dir(data_dir).map_err(io)?;
    let mut file = crate::paths::private_options()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(io)?;
    if file.try_lock().is_err() {
        let mut holder = String::new();
        let _ = file.take(200).read_to_string(&mut holder);
        let holder = holder.trim();
        return Err(if holder.is_empty() { "another twintop".to_string() } else { holder.to_string() });
    }
    let _ = file.set_permissions(std::fs::Permissions::from_mode(0o600));
    file.set_len(0).map_err(io)?;
    file.write_all(description.as_bytes()).map_err(io)?;
    file.sync_data().map_err(io)?;
    Ok(Ownership {
        _file: file,
        #[cfg(test)]
        description: description.to_string(),
    })
}

/// One headless request, and where its reply goes.
pub(crate) type Call = (Request, oneshot::Sender<Reply>);

/// Listens on the data dir's socket (call inside a tokio runtime, holding `Ownership`): each
/// request comes out of the returned channel, to be answered by whoever owns the operator
/// service. The socket file is removed first — a dead owner's is stale, and the lock says the
/// owner is us.
pub(crate) fn serve(data_dir: &Path, _owner: &Ownership) -> std::io::Result<mpsc::Receiver<Call>> {
    let path = socket_path(data_dir);
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    let (tx, rx) = mpsc::channel::<Call>(8);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            if tx.is_closed() {
                break;
            }
            let tx = tx.clone();
            tokio::spawn(async move {
                if let Err(e) = connection(stream, tx).await {
                    tracing::warn!("operator socket: {e}");
                }
            });
        }
    });
    Ok(rx)
}

async fn connection(stream: tokio::net::UnixStream, tx: mpsc::Sender<Call>) -> std::io::Result<()> {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
    let (read, mut write) = stream.into_split();
    let mut lines = tokio::io::BufReader::new(read.take(MAX_LINE)).lines();
    while let Some(line) = lines.next_line().await? {
        let reply = match serde_json::from_str::<Request>(&line) {
            Ok(req) => {
                let (reply_tx, reply_rx) = oneshot::channel();
                if tx.send((req, reply_tx)).await.is_err() {
                    return Ok(());
                }
                reply_rx
                    .await
                    .unwrap_or(Reply::Error { message: "the owner stopped before answering".into() })
            }
            Err(e) => Reply::Error { message: format!("not a request: {e}") },
        };
        let mut text = serde_json::to_string(&reply).unwrap_or_default();
        text.push('\n');
        write.write_all(text.as_bytes()).await?;
    }
    Ok(())
}

pub(crate) fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_FILE)
}

/// A headless command's line to the owner.
pub(crate) struct Client {
    reader: BufReader<UnixStream>,
}

impl Client {
    /// Connects to the owner of `data_dir`; None when no process serves it.
    pub(crate) fn connect(data_dir: &Path) -> Option<Client> {
        let stream = UnixStream::connect(socket_path(data_dir)).ok()?;
        stream.set_read_timeout(Some(REPLY_TIMEOUT)).ok()?;
        Some(Client { reader: BufReader::new(stream) })
    }

    pub(crate) fn call(&mut self, req: &Request) -> Result<Reply, String> {
        let mut text = serde_json::to_string(req).map_err(|e| e.to_string())?;
        text.push('\n');
        let stream = self.reader.get_mut();
        stream.write_all(text.as_bytes()).map_err(|e| format!("sending to the owner: {e}"))?;
        let mut line = String::new();
        let read = (&mut self.reader).take(MAX_LINE).read_line(&mut line);
        match read {
            Ok(0) => Err("the owner closed the connection without answering".into()),
            Ok(_) => {
                serde_json::from_str(&line).map_err(|e| format!("the owner's answer is not a reply: {e}"))
            }
            Err(e) => Err(format!("waiting for the owner's answer: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_owner_at_a_time_and_the_next_one_after_it_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let first = claim(dir.path(), "the console (pid 1)").unwrap();
        assert_eq!(claim(dir.path(), "twintop operator (pid 2)").unwrap_err(), "the console (pid 1)");
        drop(first);
        let second = claim(dir.path(), "twintop operator (pid 2)").unwrap();
        assert_eq!(second.description, "twintop operator (pid 2)");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_reaches_the_owner_and_its_reply_comes_back() {
        let dir = tempfile::tempdir().unwrap();
        let owner = claim(dir.path(), "test").unwrap();
        let mut rx = serve(dir.path(), &owner).unwrap();
        tokio::spawn(async move {
            while let Some((req, reply)) = rx.recv().await {
                let message = format!("{req:?}");
                let _ = reply.send(Reply::Done { outcome: "echo".into(), message });
            }
        });
        let path = dir.path().to_path_buf();
        let reply = tokio::task::spawn_blocking(move || {
            let mut c = Client::connect(&path).expect("the owner serves");
            let first = c.call(&Request::Cancel { ticket: "t1".into() }).unwrap();
            let second = c.call(&Request::Hello).unwrap();
            (first, second)
        })
        .await
        .unwrap();
        assert!(matches!(reply.0, Reply::Done { ref message, .. } if message.contains("t1")), "{reply:?}");
        assert!(matches!(reply.1, Reply::Done { ref message, .. } if message == "Hello"), "{reply:?}");
        let mode = std::fs::metadata(socket_path(dir.path())).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "only the user reaches the owner");
    }
}
