//! A real headless Chromium for the UI tests: Debian's `chromium`, driven through
//! Debian's `chromedriver` over WebDriver with fantoccini.
//!
//! A missing browser fails the test with the command that installs it; it never
//! skips. Only one browser runs at a time (the machine has two cores, and the
//! timing assertions would measure contention otherwise).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::sync::{Mutex, MutexGuard};

pub(crate) const CHROMIUM: &str = "/usr/bin/chromium";
pub(crate) const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long a page may take to reach a state; generous, because the server under
/// test is a debug build on a shared two-core machine.
pub(crate) const PAGE_TIMEOUT: Duration = Duration::from_secs(60);

static ONE_BROWSER_AT_A_TIME: Mutex<()> = Mutex::const_new(());

pub(crate) struct Browser {
    pub(crate) client: Client,
    driver: Child,
    _profile: TempDir,
    _turn: MutexGuard<'static, ()>,
}

impl Browser {
    pub(crate) async fn start() -> Browser {
        let turn = ONE_BROWSER_AT_A_TIME.lock().await;
        for program in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(program).exists(),
                "{program} is missing: the web UI tests drive Debian's chromium through \
                 chromedriver. Install both with `.ci/setup-browser` (needs root), then rerun."
            );
        }
        let (mut driver, mut port) = spawn_chromedriver();
        let profile = tempfile::tempdir().expect("temp profile dir");
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--window-size=1400,900", "--hide-scrollbars",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object literal")
        };
        let started = Instant::now();
        // chromedriver needs a moment before it listens; retry until it answers. The
        // port was free when chosen, but another test's server binding port 0 can
        // take it first: then chromedriver exits (and whatever holds the port answers
        // something else), so start it again on a new port.
        let mut spawned = Instant::now();
        let client = loop {
            // Exited, or up for 15 s without a session: chromedriver may have kept
            // only its IPv6 socket (IPv4 port taken), so 127.0.0.1 reaches someone else.
            let exited = matches!(driver.try_wait(), Ok(Some(_)));
            if exited || spawned.elapsed() > Duration::from_secs(15) {
                stop_chromedriver(&mut driver);
                (driver, port) = spawn_chromedriver();
                spawned = Instant::now();
            }
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await
            {
                Ok(client) => break client,
                Err(error) if started.elapsed() < Duration::from_secs(90) => {
                    let _ = error;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => panic!("cannot start a WebDriver session: {error}"),
            }
        };
        Browser {
            client,
            driver,
            _profile: profile,
            _turn: turn,
        }
    }

    pub(crate) async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigation");
    }

    pub(crate) async fn find(&self, css: &str) -> Element {
        self.find_within(css, PAGE_TIMEOUT).await
    }

    /// `find` with a longer wait, for views of huge traces in a debug build on a
    /// loaded machine.
    pub(crate) async fn find_within(&self, css: &str, timeout: Duration) -> Element {
        self.client
            .wait()
            .at_most(timeout)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|error| panic!("no element {css} within {timeout:?}: {error}"))
    }

    pub(crate) async fn find_all(&self, css: &str) -> Vec<Element> {
        self.client
            .find_all(Locator::Css(css))
            .await
            .expect("find_all")
    }

    pub(crate) async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("element text")
    }

    pub(crate) async fn script(&self, source: &str) -> Value {
        self.client
            .execute(source, Vec::new())
            .await
            .unwrap_or_else(|error| panic!("script failed: {error}\n{source}"))
    }

    /// Runs an async function body (`await` allowed); its `return` value comes back.
    pub(crate) async fn script_async(&self, body: &str) -> Value {
        let wrapped = format!(
            "const done = arguments[arguments.length - 1];\
             (async () => {{ {body} }})().then(done, (error) => done({{ scriptError: String(error) }}));"
        );
        let value = self
            .client
            .execute_async(&wrapped, Vec::new())
            .await
            .unwrap_or_else(|error| panic!("async script failed: {error}\n{body}"));
        assert!(value.get("scriptError").is_none(), "script threw: {value}");
        value
    }

    /// Polls a JavaScript expression until it is truthy; panics with `what` on timeout.
    pub(crate) async fn wait_until(&self, expression: &str, what: &str) {
        let started = Instant::now();
        loop {
            let value = self.script(&format!("return Boolean({expression});")).await;
            if value == Value::Bool(true) {
                return;
            }
            assert!(
                started.elapsed() < PAGE_TIMEOUT,
                "timed out waiting for {what} ({expression})"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(crate) async fn path_and_query(&self) -> String {
        let url = self.client.current_url().await.expect("current url");
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// Number of CSP violations the page recorded (see ui/app.js).
    pub(crate) async fn csp_violations(&self) -> u64 {
        let value = self
            .script("return Number(document.documentElement.dataset.cspViolations || 0);")
            .await;
        value.as_u64().unwrap_or(u64::MAX)
    }

    pub(crate) async fn close(self) {
        // Ends the session, which makes chromedriver close Chromium; Drop then
        // stops chromedriver.
        let client = self.client.clone();
        client.close().await.expect("close the WebDriver session");
    }
}

/// chromedriver on a port that was free a moment ago (it takes the port as a flag:
/// one is found by binding port 0), in its own process group, so Drop can end
/// chromedriver and the browser it started.
fn spawn_chromedriver() -> (Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free local port")
        .port();
    let mut command = Command::new(CHROMEDRIVER);
    command
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    (command.spawn().expect("chromedriver starts"), port)
}

/// Ends chromedriver's whole process group: chromedriver and any Chromium it left
/// running (after a failed test the session was never closed).
fn stop_chromedriver(driver: &mut Child) {
    let group = format!("-{}", driver.id());
    let _ = Command::new("kill")
        .args(["-TERM", "--", &group])
        .stderr(Stdio::null())
        .status();
    let _ = driver.kill();
    let _ = driver.wait();
}

impl Drop for Browser {
    fn drop(&mut self) {
        stop_chromedriver(&mut self.driver);
    }
}
