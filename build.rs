//! Generates the table of web UI assets that `src/ui.rs` embeds, and the Rust code
//! and the encoded descriptor set (served by gRPC reflection) of the vendored
//! protobuf definitions under `proto/`.
//!
//! Every file under `ui/` becomes one `(path, include_bytes!(..))` entry in
//! `$OUT_DIR/ui_assets.rs`. A generated table instead of a derive crate such as
//! rust-embed: no dependency, and `rerun-if-changed=ui` makes Cargo rebuild when a
//! file is added or removed, not only when an already embedded file changes.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs, io};

/// The vendored `.proto` files compiled into `$OUT_DIR`, relative to `proto/`: one
/// Rust file per package (`jaeger.api_v2.rs`, `zipkin.proto3.rs`). Add a file of an
/// existing package here and its types and services join that package's module.
const PROTOS: &[&str] = &[
    "jaeger/api_v2/model.proto",
    "jaeger/api_v2/collector.proto",
    "jaeger/api_v2/query.proto",
    "jaeger/api_v2/sampling.proto",
    "jaeger/api_v3/query_service.proto",
    "zipkin/zipkin.proto",
];

fn main() -> io::Result<()> {
    compile_protos()?;
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, "CARGO_MANIFEST_DIR is not set")
        })?);
    let ui_dir = manifest_dir.join("ui");
    println!("cargo:rerun-if-changed=ui");

    let mut files = Vec::new();
    collect(&ui_dir, &ui_dir, &mut files)?;
    files.sort();

    let mut table = String::from("&[\n");
    for (relative, absolute) in &files {
        // Debug formatting writes a valid, escaped Rust string literal.
        let _ = writeln!(table, "    ({relative:?}, include_bytes!({absolute:?})),");
    }
    table.push(']');

    let out_dir = PathBuf::from(
        env::var_os("OUT_DIR")
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "OUT_DIR is not set"))?,
    );
    fs::write(out_dir.join("ui_assets.rs"), table)
}

/// Collects `(path relative to ui/ with '/' separators, absolute path)` for every
/// file, skipping dotfiles (editor swap files, .DS_Store).
fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, String)>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            collect(root, &path, files)?;
        } else {
            let relative = path
                .strip_prefix(root)
                .map_err(|error| io::Error::other(error.to_string()))?
                .components()
                .map(|component| component.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            files.push((relative, path.to_string_lossy().into_owned()));
        }
    }
    Ok(())
}

/// Compiles `PROTOS` with protox, a protobuf compiler written in Rust, so building
/// needs no `protoc` binary; tonic-prost-build then generates the messages, clients
/// and servers. Jaeger's files import their siblings by bare name (`"model.proto"`),
/// so `proto/jaeger/api_v2` comes first among the include paths.
///
/// api_v3 returns OTLP `TracesData`, which maps onto `opentelemetry-proto`'s types
/// through `extern_path`; the OTLP `.proto` files under `proto/opentelemetry` are
/// there only so the descriptor set is complete. Services without a method body
/// answer `UNIMPLEMENTED` (`generate_default_stubs`), as api_v2 `ArchiveTrace` must.
fn compile_protos() -> io::Result<()> {
    println!("cargo:rerun-if-changed=proto");
    let includes = ["proto/jaeger/api_v2", "proto"];
    let files: Vec<String> = PROTOS.iter().map(|file| format!("proto/{file}")).collect();
    let descriptors = protox::compile(&files, includes)
        .map_err(|error| io::Error::other(format!("compiling {files:?}: {error}")))?;
    let out_dir = PathBuf::from(
        env::var_os("OUT_DIR")
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "OUT_DIR is not set"))?,
    );
    fs::write(
        out_dir.join("descriptors.bin"),
        prost::Message::encode_to_vec(&descriptors),
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .generate_default_stubs(true)
        .extern_path(".opentelemetry.proto", "::opentelemetry_proto::tonic")
        .compile_fds(descriptors)
}
