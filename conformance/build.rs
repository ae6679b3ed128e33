//! Embeds the real-daemon recordings of `captures/workflow/` and `captures/escapes/` in the
//! suite, so the `conformance` binary runs them wherever it is copied to.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

fn recordings(dir: &Path) -> Vec<(String, PathBuf)> {
    println!("cargo:rerun-if-changed={}", dir.display());
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .filter_map(|p| {
            let name = p.file_stem()?.to_str()?.to_owned();
            Some((name, p.canonicalize().ok()?))
        })
        .collect();
    found.sort();
    found
}

fn table(name: &str, dir: &Path) -> String {
    let mut out = format!("pub const {name}: &[(&str, &str)] = &[\n");
    for (stem, path) in recordings(dir) {
        println!("cargo:rerun-if-changed={}", path.display());
        let _ = writeln!(
            out,
            "    ({stem:?}, include_str!({:?})),",
            path.display().to_string()
        );
    }
    out.push_str("];\n");
    out
}

fn main() {
    let captures =
        Path::new(&env::var("CARGO_MANIFEST_DIR").expect("set by cargo")).join("../captures");
    let mut out = String::new();
    out.push_str(&table("WORKFLOWS", &captures.join("workflow")));
    out.push_str(&table("ESCAPES", &captures.join("escapes")));
    let dest = Path::new(&env::var("OUT_DIR").expect("set by cargo")).join("captures.rs");
    fs::write(dest, out).expect("write the embedded captures table");
}
