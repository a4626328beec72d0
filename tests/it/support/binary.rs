//! `Tracery`: the real `tracery` binary as a child process on ephemeral ports, for
//! the tests that kill it (crash trials) or measure it from outside (RSS under
//! overload). Its log is read line by line so a test can wait for a phase to begin.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

pub(crate) struct Tracery {
    pub(crate) child: Child,
    pub(crate) pid: u32,
    pub(crate) otlp_grpc: String,
    pub(crate) otlp_http: String,
    pub(crate) query: String,
    pub(crate) admin: String,
    /// From spawn to the "tracery listening" line (process start, store open, binds).
    pub(crate) started_in: Duration,
    /// `Store::open`'s own time, from its "store opened" line (`None` on ClickHouse).
    pub(crate) open_ms: Option<u64>,
    lines: mpsc::UnboundedReceiver<String>,
}

/// The value of `name=` in a log line.
pub(crate) fn log_field(line: &str, name: &str) -> Option<String> {
    let start = line.find(&format!(" {name}="))? + name.len() + 2;
    Some(line[start..].split_whitespace().next()?.to_owned())
}

/// Number of spans the query API at `query` returns for a trace; `None` when it
/// doesn't know it. Used to check acknowledged traces after a kill or a failover.
pub(crate) async fn stored_spans(
    http: &reqwest::Client,
    query: &str,
    trace_id: &str,
) -> Option<usize> {
    let response = http
        .get(format!("http://{query}/api/traces/{trace_id}"))
        .send()
        .await
        .unwrap();
    match response.status().as_u16() {
        404 => None,
        200 => {
            let body: serde_json::Value = response.json().await.unwrap();
            Some(body["data"][0]["spans"].as_array().unwrap().len())
        }
        other => panic!("GET trace {trace_id} from {query}: {other}"),
    }
}

impl Tracery {
    /// Starts the binary on `data_dir` with the OTLP, query and admin listeners on
    /// ephemeral ports, every other listener off, durable acks, and `args` / `envs`
    /// on top. `TRACERY_TEST_BINARY` names another build to run instead (same-run
    /// comparisons of two builds in the soaks).
    pub(crate) async fn start(
        data_dir: &Path,
        args: &[String],
        envs: &[(&str, String)],
    ) -> Tracery {
        let started = Instant::now();
        let binary = std::env::var_os("TRACERY_TEST_BINARY")
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_tracery").into());
        let mut child = Command::new(binary)
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--otlp-grpc-addr", "127.0.0.1:0"])
            .args(["--otlp-http-addr", "127.0.0.1:0"])
            .args(["--query-addr", "127.0.0.1:0"])
            .args(["--admin-addr", "127.0.0.1:0"])
            .args(["--jaeger-grpc-addr", "", "--jaeger-thrift-http-addr", ""])
            .args([
                "--jaeger-udp-compact-addr",
                "",
                "--jaeger-udp-binary-addr",
                "",
            ])
            .args(["--zipkin-addr", "", "--query-grpc-addr", ""])
            .args(["--sampling-http-addr", "", "--sampling-grpc-addr", ""])
            .args(["--ack", "durable"])
            .args(args)
            .env("RUST_LOG", "info")
            .envs(envs.iter().map(|(key, value)| (*key, value.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn tracery");
        let pid = child.id().expect("a running child has a pid");
        let (tx, mut lines) = mpsc::unbounded_channel();
        // The log (stdout) and the exit error (stderr) arrive as one stream of lines.
        forward_lines(child.stdout.take().unwrap(), tx.clone());
        forward_lines(child.stderr.take().unwrap(), tx);
        let (mut admin, mut open_ms, mut seen) = (None, None, Vec::new());
        loop {
            let line = tokio::time::timeout(Duration::from_secs(60), lines.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!("tracery didn't start within 60 s:\n{}", seen.join("\n"))
                })
                .unwrap_or_else(|| panic!("tracery exited before listening:\n{}", seen.join("\n")));
            seen.push(line.clone());
            if line.contains("admin listening") {
                admin = log_field(&line, "admin");
            }
            if line.contains("store opened") {
                open_ms = log_field(&line, "open_ms").and_then(|ms| ms.parse().ok());
            }
            if line.contains("tracery listening") {
                let field = |name| log_field(&line, name).unwrap();
                return Tracery {
                    pid,
                    otlp_grpc: field("otlp_grpc"),
                    otlp_http: field("otlp_http"),
                    query: field("query"),
                    admin: admin.expect("the admin port is logged before the rest"),
                    started_in: started.elapsed(),
                    open_ms,
                    lines,
                    child,
                };
            }
        }
    }
}

/// Forwards `pipe` line by line to `tx`, and keeps draining it when nobody listens
/// any more, so the child never blocks on a full pipe.
fn forward_lines(
    pipe: impl tokio::io::AsyncRead + Unpin + Send + 'static,
    tx: mpsc::UnboundedSender<String>,
) {
    let mut pipe = BufReader::new(pipe).lines();
    tokio::spawn(async move {
        while let Ok(Some(line)) = pipe.next_line().await {
            if tx.send(line).is_err() {
                while let Ok(Some(_)) = pipe.next_line().await {}
                return;
            }
        }
    });
}

impl Tracery {
    /// Waits for a log line containing `needle`; `None` on timeout or exit.
    pub(crate) async fn wait_for_line(
        &mut self,
        needle: &str,
        timeout: Duration,
    ) -> Option<String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some(line)) if line.contains(needle) => return Some(line),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => return None,
            }
        }
    }

    /// Log lines received so far that nobody waited for, without blocking.
    pub(crate) fn drain_lines(&mut self) -> Vec<String> {
        let mut drained = Vec::new();
        while let Ok(line) = self.lines.try_recv() {
            drained.push(line);
        }
        drained
    }

    /// SIGKILL, and waits for the process to be gone.
    pub(crate) async fn kill(&mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }

    /// SIGHUP: read the certificate and token files again.
    pub(crate) fn hangup(&self) {
        send_signal(self.pid, "HUP");
    }

    /// SIGTERM (a clean shutdown), and waits for the exit status.
    pub(crate) async fn terminate(&mut self) -> std::process::ExitStatus {
        send_signal(self.pid, "TERM");
        tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("tracery stops within 60 s of SIGTERM")
            .unwrap()
    }
}

fn send_signal(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid} failed");
}
