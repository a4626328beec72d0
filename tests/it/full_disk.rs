//! Full disk (issue #14): the data dir on a small tmpfs the test mounts (as root).
//! Once a filler file takes the last free byte, exports get a retryable error
//! (`UNAVAILABLE` with RetryInfo), nothing crashes, queries keep working, and once
//! the filler is deleted ingest resumes by itself; the store then reopens with
//! everything acknowledged.
//!
//! Not root, or no mount: the test says so loudly and skips.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tonic::Code;

use crate::support::fixtures::{big_trace, now_nanos, Trace, TraceBuilder};
use crate::support::TestServer;

struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

fn mount_small_tmpfs(mib: u32) -> Option<Mount> {
    if !rustix::process::geteuid().is_root() {
        return None;
    }
    let dir = std::env::temp_dir().join(format!("tracery-full-disk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let status = Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
        .arg(&dir)
        .status()
        .ok()?;
    status.success().then(|| Mount(dir))
}

/// Writes zeros until the file system refuses; returns the bytes written.
fn fill(path: &Path) -> u64 {
    let mut file = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 64 << 10];
    let mut written = 0;
    loop {
        match file.write(&chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => written += n as u64,
        }
    }
    let _ = file.sync_all();
    written
}

fn small(label: &str) -> Trace {
    TraceBuilder::new("full-disk")
        .span(label, 0..5)
        .child(&format!("{label} child"), 1..4)
        .build()
}

#[tokio::test]
async fn a_full_disk_refuses_with_retryable_errors_and_recovers() {
    let Some(mount) = mount_small_tmpfs(48) else {
        eprintln!(
            "\n*** SKIPPED full_disk: needs root and `mount -t tmpfs` (not root, or mount failed) ***\n"
        );
        return;
    };
    let data = tempfile::tempdir_in(&mount.0).unwrap();
    let server = TestServer::start_in(data, |_| {}).await;
    let before = small("before the disk filled");
    server.export(before.to_export_request()).await;

    let filler = mount.0.join("filler");
    let filled = fill(&filler);
    assert!(filled > 0, "the filler wrote nothing");

    // Exports until one is refused: it must be a retryable UNAVAILABLE.
    let mut client = server.grpc_client().await;
    let mut refused = None;
    for index in 0..50 {
        let trace = big_trace(now_nanos(), 2000 + index);
        match client.export(trace.to_export_request()).await {
            Ok(_) => {}
            Err(status) => {
                refused = Some(status);
                break;
            }
        }
    }
    let status = refused.expect("no export was refused on a full disk");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    {
        use tonic_types::StatusExt as _;
        assert!(
            status.get_details_retry_info().is_some(),
            "no RetryInfo: {status:?}"
        );
    }
    // HTTP gets 503 with Retry-After.
    let response = server
        .http
        .post(format!("http://{}/v1/traces", server.otlp_http))
        .header("content-type", "application/x-protobuf")
        .body(prost::Message::encode_to_vec(
            &big_trace(now_nanos(), 3000).to_export_request(),
        ))
        .send()
        .await
        .unwrap();
    assert!(
        matches!(response.status().as_u16(), 503 | 429),
        "HTTP on a full disk: {}",
        response.status()
    );
    assert!(response.headers().contains_key("retry-after"));

    // Queries keep working.
    let body = server
        .get_ok(&format!("/api/traces/{}", before.id_hex()))
        .await;
    assert_eq!(body["data"][0]["spans"].as_array().unwrap().len(), 2);

    // Space comes back: ingest resumes by itself.
    std::fs::remove_file(&filler).unwrap();
    let after = small("after space was freed");
    let mut last_error = None;
    for _ in 0..100 {
        match client.export(after.to_export_request()).await {
            Ok(_) => {
                last_error = None;
                break;
            }
            Err(status) => last_error = Some(status),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        last_error.is_none(),
        "ingest did not resume once space was freed: {last_error:?}"
    );
    for trace in [&before, &after] {
        let body = server
            .get_ok(&format!("/api/traces/{}", trace.id_hex()))
            .await;
        assert_eq!(body["data"][0]["spans"].as_array().unwrap().len(), 2);
    }

    // The store reopens whole.
    let server = server.restart().await;
    for trace in [&before, &after] {
        let body = server
            .get_ok(&format!("/api/traces/{}", trace.id_hex()))
            .await;
        assert_eq!(body["data"][0]["spans"].as_array().unwrap().len(), 2);
    }
    drop(server.stop().await);
    drop(mount);
}
