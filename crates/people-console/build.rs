//! Embeds `assets/` in the crate: one `include_bytes!` per file, the bundle's content hash (the first 16 hex
//! digits of a SHA-256 over every path and content, so any change to any file changes every URL), and the
//! page shell with that hash written into its links.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

fn main() {
    let root =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let assets = root.join("assets");
    println!("cargo:rerun-if-changed=assets");
    println!("cargo:rerun-if-changed=shell.html");

    let mut files = Vec::new();
    walk(&assets, &mut files);
    files.sort();

    let mut hasher = Sha256::new();
    let mut table = String::from("/// Every asset: its path under the bundle, and its bytes.\npub static ASSETS: &[(&str, &[u8])] = &[\n");
    for file in &files {
        let rel = file
            .strip_prefix(&assets)
            .expect("walked under assets")
            .to_str()
            .expect("asset paths are UTF-8")
            .replace('\\', "/");
        let bytes = std::fs::read(file).expect("asset readable");
        hasher.update(rel.as_bytes());
        hasher.update([0]);
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(&bytes);
        writeln!(
            table,
            "    ({rel:?}, include_bytes!({:?})),",
            file.display().to_string()
        )
        .expect("write to a String");
    }
    table.push_str("];\n");
    let bundle = hex::encode(hasher.finalize())[..16].to_string();

    let shell = std::fs::read_to_string(root.join("shell.html"))
        .expect("shell.html readable")
        .replace("{{BUNDLE}}", &format!("/console/{bundle}"));
    let mut out = table;
    writeln!(
        out,
        "/// The content hash of the whole bundle: the version segment of every asset URL."
    )
    .expect("write to a String");
    writeln!(out, "pub const BUNDLE: &str = {bundle:?};").expect("write to a String");
    writeln!(
        out,
        "/// The HTML every page route answers with; the scripts take over from there."
    )
    .expect("write to a String");
    writeln!(out, "pub const SHELL: &str = {shell:?};").expect("write to a String");

    let dest =
        PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("assets.rs");
    std::fs::write(dest, out).expect("OUT_DIR writable");
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("assets directory readable")
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, out);
        } else if path
            .file_name()
            .is_some_and(|n| !n.to_string_lossy().starts_with('.'))
        {
            out.push(path);
        }
    }
}
