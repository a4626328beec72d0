//! The `tracery` binary under test, run as a child process.
//!
//! Each server gets free loopback ports (bind port 0, read it, release it, pass it)
//! and its own data directory; its log goes to a file beside the data, so the
//! benchmark's output stays readable. Resource figures come from `/proc/<pid>`,
//! which is what an operator would see: utime+stime for CPU, VmRSS/VmHWM for memory.

use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _};

/// How long a server may take to answer `/api/services` after spawning.
const START_TIMEOUT: Duration = Duration::from_secs(300);
/// How long a graceful shutdown may take before the benchmark gives up.
const STOP_TIMEOUT: Duration = Duration::from_secs(300);

/// The store a server runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Storage {
    Sled,
    Discard,
    /// Not Tracery: rotel, a Rust OTLP collector, with its null sink
    /// (`--exporter blackhole`), as the reference for what OTLP intake can cost.
    Rotel,
}

impl Storage {
    pub(crate) fn flag(self) -> &'static str {
        match self {
            Storage::Sled => "sled",
            Storage::Discard => "discard",
            Storage::Rotel => "rotel",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct ServerSpec {
    pub(crate) binary: PathBuf,
    pub(crate) data_dir: PathBuf,
    pub(crate) storage: Storage,
    /// Passed through verbatim, after the benchmark's own flags.
    pub(crate) extra_args: Vec<String>,
    pub(crate) log_path: PathBuf,
}

/// A running server; killed (not drained) if dropped without `stop`.
#[derive(Debug)]
pub(crate) struct Server {
    child: Child,
    pub(crate) pid: u32,
    pub(crate) otlp_grpc: SocketAddr,
    pub(crate) otlp_http: SocketAddr,
    pub(crate) query: SocketAddr,
    /// Zipkin's HTTP port (Tracery only).
    pub(crate) zipkin: Option<SocketAddr>,
    /// Jaeger's collector HTTP port for Thrift (Tracery only).
    pub(crate) jaeger_http: Option<SocketAddr>,
    clock_ticks: f64,
}

/// Memory of a process, in bytes.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Memory {
    pub(crate) rss: u64,
    pub(crate) peak_rss: u64,
}

impl Server {
    /// Spawns the server and returns once its query API answers, with the time that took.
    pub(crate) async fn start(
        spec: &ServerSpec,
        http: &reqwest::Client,
    ) -> anyhow::Result<(Server, Duration)> {
        std::fs::create_dir_all(&spec.data_dir)
            .with_context(|| format!("failed to create {}", spec.data_dir.display()))?;
        let (otlp_grpc, otlp_http, query) = (free_port()?, free_port()?, free_port()?);
        let (zipkin, jaeger_http) = if spec.storage == Storage::Rotel {
            (None, None)
        } else {
            (Some(free_port()?), Some(free_port()?))
        };
        let log = File::options()
            .create(true)
            .append(true)
            .open(&spec.log_path)
            .with_context(|| format!("failed to open {}", spec.log_path.display()))?;
        let started = Instant::now();
        let mut command = Command::new(&spec.binary);
        if spec.storage == Storage::Rotel {
            command
                .args(["start", "--exporter", "blackhole"])
                .args(["--otlp-grpc-endpoint", &otlp_grpc.to_string()])
                .args(["--otlp-http-endpoint", &otlp_http.to_string()]);
        } else {
            command
                .arg("--data-dir")
                .arg(&spec.data_dir)
                .args(["--otlp-grpc-addr", &otlp_grpc.to_string()])
                .args(["--otlp-http-addr", &otlp_http.to_string()])
                .args(["--query-addr", &query.to_string()])
                // Zipkin and Jaeger Thrift/HTTP on free ports; the other Jaeger
                // listeners are off, as their default ports may be taken.
                .args(["--jaeger-grpc-addr", ""])
                .args([
                    "--jaeger-udp-compact-addr",
                    "",
                    "--jaeger-udp-binary-addr",
                    "",
                ])
                // Off (the admin listener can't be: on a loopback port of its own)
                // the listeners with fixed default ports, which two servers running at
                // once would both want.
                .args(["--admin-addr", "127.0.0.1:0", "--query-grpc-addr", ""])
                .args(["--sampling-http-addr", "", "--sampling-grpc-addr", ""])
                .args(["--zipkin-addr", &addr_text(zipkin)])
                .args(["--jaeger-thrift-http-addr", &addr_text(jaeger_http)])
                .args(["--storage", spec.storage.flag()])
                .args(&spec.extra_args);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("failed to start {}", spec.binary.display()))?;
        let mut server = Server {
            pid: child.id(),
            child,
            otlp_grpc,
            otlp_http,
            query,
            zipkin,
            jaeger_http,
            clock_ticks: rustix::param::clock_ticks_per_second() as f64,
        };
        let url = format!("http://{query}/api/services");
        if spec.storage == Storage::Rotel {
            // No query API: ready once both OTLP ports accept connections.
            loop {
                if let Some(status) = server.child.try_wait()? {
                    bail!(
                        "rotel exited during startup with {status}; see {}",
                        spec.log_path.display()
                    );
                }
                let grpc = tokio::net::TcpStream::connect(otlp_grpc).await;
                let http = tokio::net::TcpStream::connect(otlp_http).await;
                if grpc.is_ok() && http.is_ok() {
                    return Ok((server, started.elapsed()));
                }
                if started.elapsed() > START_TIMEOUT {
                    bail!("rotel did not listen on {otlp_grpc} within {START_TIMEOUT:?}");
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        loop {
            if let Some(status) = server.child.try_wait()? {
                bail!(
                    "tracery exited during startup with {status}; see {}",
                    spec.log_path.display()
                );
            }
            if let Ok(response) = http.get(&url).send().await {
                if response.status().is_success() {
                    break;
                }
            }
            if started.elapsed() > START_TIMEOUT {
                bail!("tracery did not answer {url} within {START_TIMEOUT:?}");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok((server, started.elapsed()))
    }

    /// Server CPU time so far (user + system), in seconds.
    pub(crate) fn cpu_seconds(&self) -> anyhow::Result<f64> {
        cpu_seconds_of(&format!("/proc/{}/stat", self.pid), self.clock_ticks)
    }

    pub(crate) fn memory(&self) -> anyhow::Result<Memory> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))?;
        let kib = |name: &str| -> anyhow::Result<u64> {
            let line = status
                .lines()
                .find(|line| line.starts_with(name))
                .with_context(|| format!("no {name} in /proc/<pid>/status"))?;
            let number = line
                .split_whitespace()
                .nth(1)
                .context("malformed status line")?;
            Ok(number.parse::<u64>()? * 1024)
        };
        Ok(Memory {
            rss: kib("VmRSS:")?,
            peak_rss: kib("VmHWM:")?,
        })
    }

    /// SIGTERM, then waits for a clean exit; returns how long the drain took.
    pub(crate) async fn stop(mut self) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let pid = rustix::process::Pid::from_raw(self.pid as i32).context("pid 0")?;
        rustix::process::kill_process(pid, rustix::process::Signal::TERM)
            .context("failed to send SIGTERM")?;
        loop {
            if let Some(status) = self.child.try_wait()? {
                ensure!(
                    status.success(),
                    "tracery exited with {status} after SIGTERM"
                );
                return Ok(started.elapsed());
            }
            if started.elapsed() > STOP_TIMEOUT {
                bail!("tracery did not exit within {STOP_TIMEOUT:?} of SIGTERM");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Only reached on an error path; a server left running would hold ports and CPU.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// This process's CPU time so far, in seconds: the load generator's share of the machine.
pub(crate) fn own_cpu_seconds() -> anyhow::Result<f64> {
    cpu_seconds_of(
        "/proc/self/stat",
        rustix::param::clock_ticks_per_second() as f64,
    )
}

/// CPU-seconds the whole machine has spent busy (all cores, every process), from the
/// first line of `/proc/stat`. Subtracting server and client shows what other tenants
/// of a shared machine took during a phase.
pub(crate) fn machine_busy_seconds() -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let line = stat.lines().next().context("empty /proc/stat")?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    // user nice system idle iowait irq softirq steal [guest guest_nice, already in user]
    let busy: u64 = [0, 1, 2, 5, 6, 7]
        .iter()
        .filter_map(|index| ticks.get(*index))
        .sum();
    Ok(busy as f64 / rustix::param::clock_ticks_per_second() as f64)
}

fn cpu_seconds_of(path: &str, clock_ticks: f64) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(path)?;
    // The command name may contain spaces; fields are counted after its closing paren.
    let after_name = &stat[stat.rfind(')').context("malformed stat")? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Field 3 (state) is fields[0], so utime (14) and stime (15) are fields[11] and [12].
    let ticks = |index: usize| -> anyhow::Result<f64> {
        Ok(fields
            .get(index)
            .context("short stat line")?
            .parse::<u64>()? as f64)
    };
    Ok((ticks(11)? + ticks(12)?) / clock_ticks)
}

fn addr_text(addr: Option<SocketAddr>) -> String {
    addr.map_or_else(String::new, |addr| addr.to_string())
}

/// A port the OS considers free right now. Another process could take it before the
/// server binds it, but on loopback with ephemeral ports that is rare, and the server
/// would then fail loudly at startup.
fn free_port() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").context("failed to bind 127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}

/// A number the server logged when it last opened its store (`store opened …
/// FIELD=N`, e.g. `num_blocks`), for the report's diagnostics; `None` if the log
/// doesn't say. Nothing is judged on it.
pub(crate) fn logged_store_figure(log_path: &Path, field: &str) -> Option<u64> {
    let log = std::fs::read_to_string(log_path).ok()?;
    let line = log
        .lines()
        .rev()
        .find(|line| line.contains("store opened"))?;
    // Strip ANSI colour sequences (ESC [ … m) that tracing writes to terminals and files alike.
    let mut plain = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    let digits: String = plain
        .split(&format!(" {field}="))
        .nth(1)?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Bytes under `path`: (apparent size, allocated size), like `du -sb` and `du -sB1`.
pub(crate) fn dir_size(path: &Path) -> anyhow::Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt as _;
    let (mut apparent, mut allocated) = (0, 0);
    for entry in
        std::fs::read_dir(path).with_context(|| format!("failed to list {}", path.display()))?
    {
        let entry = entry?;
        let metadata = entry.metadata()?;
        if metadata.is_dir() {
            let (a, b) = dir_size(&entry.path())?;
            apparent += a;
            allocated += b;
        } else {
            apparent += metadata.len();
            allocated += metadata.blocks() * 512;
        }
    }
    Ok((apparent, allocated))
}
