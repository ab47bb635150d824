//! Images built locally through the Engine API: there is no registry here and users may be
//! offline, so nothing is ever pulled.
//!
//! - `runner`: `FROM scratch` + the static C runner. The container holds one static process,
//!   so its cold start is the cost of the container layer alone.
//! - `node`: `FROM scratch` + a root file system made of the host's `node` binary, every library
//!   `ldd` lists for it and the dynamic loader, + `js/runner.js` (the catalogue in JavaScript).
//!   Its cold start adds booting a language runtime.
//! - a user directory holding a `Dockerfile` (`FunctionSource::File`), built as it is.
//!
//! Every image is tagged with a hash of what went into it (`unitlab/runner:<hash>`), so
//! `prepare` finds an existing image and skips the build. Every image carries the label
//! `unitlab=1` (and `unitlab.kind=image`), so `unitlab clean --images` can find them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bollard::query_parameters::BuildImageOptionsBuilder;
use futures_util::StreamExt;

use crate::engine::{describe, Engine};

/// The label every container and image the lab creates carries.
pub const LABEL: &str = "unitlab";
/// The label telling units from images.
pub const KIND_LABEL: &str = "unitlab.kind";

/// The shared JavaScript catalogue (`guests/js/catalogue.js`, also run by `v8` and `deno`).
pub const JS_CATALOGUE: &str = include_str!("../../../guests/js/catalogue.js");
/// The runner protocol around it (`js/runner.js`).
pub const JS_PROTOCOL: &str = include_str!("../js/runner.js");

/// The script the `node` image runs: the shared catalogue, then the protocol loop.
pub fn js_runner() -> String {
    format!("{JS_CATALOGUE}\n{JS_PROTOCOL}")
}

/// How many lines of a failed build's log an error carries.
pub const LOG_TAIL_LINES: usize = 20;

/// An image ready to start containers from.
#[derive(Debug, Clone)]
pub(crate) struct Image {
    /// Tag or name, as the user would type it.
    pub reference: String,
    /// The engine's image id (`sha256:...`).
    pub id: String,
    /// Whether `prepare` built it now (false: it existed already).
    pub built: bool,
}

/// 64-bit FNV-1a, for content tags. Stable across runs and Rust versions.
pub(crate) fn fnv64(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in *part {
            h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
        // Separate parts so that ("ab","c") and ("a","bc") differ.
        h = (h ^ 0xff).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

pub(crate) fn image_labels() -> HashMap<String, String> {
    HashMap::from([
        (LABEL.to_string(), "1".to_string()),
        (KIND_LABEL.to_string(), "image".to_string()),
    ])
}

/// The id of a local image, if it exists.
pub(crate) fn local_image_id(engine: &Engine, reference: &str) -> Option<String> {
    engine
        .block_on(engine.docker.inspect_image(reference))
        .ok()
        .and_then(|i| i.id)
}

/// A tar archive in memory.
pub(crate) struct Context {
    builder: tar::Builder<Vec<u8>>,
}

impl Context {
    pub fn new() -> Self {
        let mut builder = tar::Builder::new(Vec::new());
        builder.mode(tar::HeaderMode::Deterministic);
        Context { builder }
    }

    pub fn add(&mut self, path: &str, data: &[u8], mode: u32) -> std::io::Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(mode);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        self.builder.append_data(&mut header, path, data)
    }

    pub fn add_file(&mut self, path_in_tar: &str, from: &Path) -> std::io::Result<()> {
        // Follow symlinks: a library listed as libc.so.6 is stored as a regular file there.
        let mut file = std::fs::File::open(from)?;
        let meta = file.metadata()?;
        let mut header = tar::Header::new_gnu();
        header.set_size(meta.len());
        header.set_mode(0o755);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        self.builder
            .append_data(&mut header, path_in_tar, &mut file)
    }

    pub fn add_dir_all(&mut self, from: &Path) -> std::io::Result<()> {
        self.builder.follow_symlinks(false);
        self.builder.append_dir_all(".", from)
    }

    pub fn finish(self) -> std::io::Result<Vec<u8>> {
        self.builder.into_inner()
    }
}

/// Builds `context` (a tar holding a `Dockerfile`) as `tag`. On failure the message carries the
/// engine's error and the last [`LOG_TAIL_LINES`] lines of the build log.
pub(crate) fn build(engine: &Engine, tag: &str, context: Vec<u8>) -> Result<Image, String> {
    let labels = image_labels();
    let options = BuildImageOptionsBuilder::default()
        .dockerfile("Dockerfile")
        .t(tag)
        .rm(true)
        .forcerm(true)
        .labels(&labels)
        .build();
    let mut log: Vec<String> = Vec::new();
    let failure = engine.block_on(async {
        let mut stream = engine.docker.build_image(
            options,
            None,
            Some(bollard::body_full(bytes::Bytes::from(context))),
        );
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    if let Some(s) = info.stream {
                        log.extend(s.lines().map(str::to_string));
                    }
                    if let Some(s) = info.status {
                        log.push(s);
                    }
                }
                Err(e) => return Some(describe(&e)),
            }
        }
        None
    });
    let tail = || {
        let start = log.len().saturating_sub(LOG_TAIL_LINES);
        log[start..].join("\n")
    };
    if let Some(error) = failure {
        return Err(format!(
            "building image `{tag}` failed: {error}\n--- last lines of the build log ---\n{}",
            tail()
        ));
    }
    let id = local_image_id(engine, tag).ok_or_else(|| {
        format!(
            "the build of `{tag}` ended without an image\n--- last lines of the build log ---\n{}",
            tail()
        )
    })?;
    Ok(Image {
        reference: tag.to_string(),
        id,
        built: true,
    })
}

/// Finds `tag` locally or builds it from `make_context`.
pub(crate) fn ensure(
    engine: &Engine,
    tag: &str,
    make_context: impl FnOnce() -> Result<Vec<u8>, String>,
) -> Result<Image, String> {
    if let Some(id) = local_image_id(engine, tag) {
        return Ok(Image {
            reference: tag.to_string(),
            id,
            built: false,
        });
    }
    build(engine, tag, make_context()?)
}

const RUNNER_DOCKERFILE: &str =
    "FROM scratch\nCOPY unitlab-runner /unitlab-runner\nENTRYPOINT [\"/unitlab-runner\"]\n";

/// The tag of the FROM-scratch runner image: a hash of the runner and the Dockerfile.
pub fn runner_tag() -> String {
    format!(
        "unitlab/runner:{:016x}",
        fnv64(&[unitlab_runner::RUNNER, RUNNER_DOCKERFILE.as_bytes()])
    )
}

/// The FROM-scratch image holding only the static runner.
pub(crate) fn runner_image(engine: &Engine) -> Result<Image, String> {
    ensure(engine, &runner_tag(), || {
        let mut ctx = Context::new();
        ctx.add("Dockerfile", RUNNER_DOCKERFILE.as_bytes(), 0o644)
            .and_then(|_| ctx.add("unitlab-runner", unitlab_runner::RUNNER, 0o755))
            .map_err(|e| format!("writing the build context: {e}"))?;
        ctx.finish()
            .map_err(|e| format!("writing the build context: {e}"))
    })
}

/// The host's `node`, from `PATH`.
pub fn find_node() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("node"))
        .find(|p| p.is_file())
        .and_then(|p| p.canonicalize().ok())
}

/// The absolute paths `ldd` lists for `exe` (libraries and the dynamic loader).
fn ldd(exe: &Path) -> Result<Vec<PathBuf>, String> {
    let out = std::process::Command::new("ldd")
        .arg(exe)
        .output()
        .map_err(|e| format!("cannot run ldd on {}: {e}", exe.display()))?;
    if !out.status.success() {
        return Err(format!(
            "ldd {} failed: {}",
            exe.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(parse_ldd(&String::from_utf8_lossy(&out.stdout)))
}

/// Parses `ldd` output: `libc.so.6 => /lib/.../libc.so.6 (0x...)` and `/lib64/ld-... (0x...)`.
pub(crate) fn parse_ldd(text: &str) -> Vec<PathBuf> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            let target = match line.split_once("=>") {
                Some((_, rhs)) => rhs.split_whitespace().next()?,
                None => line.split_whitespace().next()?,
            };
            target.starts_with('/').then(|| PathBuf::from(target))
        })
        .collect()
}

const NODE_DOCKERFILE: &str =
    "FROM scratch\nCOPY rootfs/ /\nENTRYPOINT [\"/usr/bin/node\", \"/unitlab/runner.js\"]\n";

/// What the node image is made of: its tag (a hash of the inputs), the node binary and the
/// libraries it links.
pub(crate) fn node_plan() -> Result<(String, PathBuf, Vec<PathBuf>), String> {
    let node = find_node().ok_or_else(|| {
        "the `node` image needs a `node` binary on the host's PATH to copy into it (fix: \
         `apt-get install -y nodejs`, or use `--opt image=runner`)"
            .to_string()
    })?;
    let libs = ldd(&node)?;
    // The tag hashes what goes in: paths, sizes and mtimes of the binaries (not their 100 MB of
    // bytes, so that a prepare that finds the image stays fast), the script and the Dockerfile.
    let mut ident = String::new();
    for p in std::iter::once(&node).chain(libs.iter()) {
        let meta = std::fs::metadata(p).map_err(|e| format!("{}: {e}", p.display()))?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs())
            .unwrap_or(0);
        ident.push_str(&format!("{}:{}:{}\n", p.display(), meta.len(), mtime));
    }
    let tag = format!(
        "unitlab/node:{:016x}",
        fnv64(&[
            ident.as_bytes(),
            js_runner().as_bytes(),
            NODE_DOCKERFILE.as_bytes()
        ])
    );
    Ok((tag, node, libs))
}

/// The language-runtime image: the host's node and its libraries, plus the JS catalogue.
pub(crate) fn node_image(engine: &Engine) -> Result<Image, String> {
    let (tag, node, libs) = node_plan()?;
    ensure(engine, &tag, || {
        let err = |e: std::io::Error| format!("writing the node build context: {e}");
        let mut ctx = Context::new();
        ctx.add("Dockerfile", NODE_DOCKERFILE.as_bytes(), 0o644)
            .map_err(err)?;
        ctx.add_file("rootfs/usr/bin/node", &node).map_err(err)?;
        for lib in &libs {
            let inside = format!("rootfs{}", lib.display());
            ctx.add_file(&inside, lib).map_err(err)?;
        }
        ctx.add("rootfs/unitlab/runner.js", js_runner().as_bytes(), 0o644)
            .map_err(err)?;
        ctx.finish().map_err(err)
    })
}

/// A user's build context: a directory holding a `Dockerfile`.
pub(crate) fn directory_image(engine: &Engine, name: &str, dir: &Path) -> Result<Image, String> {
    if !dir.join("Dockerfile").is_file() {
        return Err(format!(
            "{} is not a build context: the container backend expects a directory holding a \
             Dockerfile whose entrypoint speaks the runner protocol (see the crate docs)",
            dir.display()
        ));
    }
    let mut ctx = Context::new();
    ctx.add_dir_all(dir)
        .map_err(|e| format!("reading the build context {}: {e}", dir.display()))?;
    let tar = ctx
        .finish()
        .map_err(|e| format!("writing the build context: {e}"))?;
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let tag = format!("unitlab/user-{safe}:{:016x}", fnv64(&[&tar]));
    ensure(engine, &tag, || Ok(tar))
}

/// An image the user already has. Not labelled by us: `clean` never removes it.
pub(crate) fn user_image(engine: &Engine, reference: &str) -> Result<Image, String> {
    let id = local_image_id(engine, reference).ok_or_else(|| {
        format!(
            "image `{reference}` is not present in the engine at {} and nothing is pulled here \
             (fix: `docker build -t {reference} ...` or `docker load`; its entrypoint must speak \
             the runner protocol)",
            engine.host
        )
    })?;
    Ok(Image {
        reference: reference.to_string(),
        id,
        built: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_output_is_parsed() {
        let text = "\tlinux-vdso.so.1 (0x00007ffd)\n\tlibm.so.6 => /lib/x86_64-linux-gnu/libm.so.6 (0x1)\n\t/lib64/ld-linux-x86-64.so.2 (0x2)\n\tlibmissing.so => not found\n";
        assert_eq!(
            parse_ldd(text),
            [
                PathBuf::from("/lib/x86_64-linux-gnu/libm.so.6"),
                PathBuf::from("/lib64/ld-linux-x86-64.so.2")
            ]
        );
    }

    /// The JS catalogue against the reference, on the host's node (the same script the `node`
    /// image runs). Needs only `node`, not the engine.
    #[test]
    fn js_catalogue_matches_the_reference() {
        use std::io::Write;
        use unitlab_backend::{Function, Request};
        let Some(node) = find_node() else {
            eprintln!("no node on PATH: the node image is unavailable here; skipping the JS check");
            return;
        };
        let dir = std::env::temp_dir().join(format!("unitlab-js-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("runner.js");
        std::fs::write(&script, js_runner()).unwrap();
        let mut child = std::process::Command::new(node)
            .arg(&script)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let cases: Vec<(Function, u32, u32)> = vec![
            (Function::Noop, 0, 0),
            (Function::Cpu, 0, 7),
            (Function::Cpu, 3, 7),
            (Function::Cpu, 1, u32::MAX),
            (Function::Cpu, 2, 0x9E37_79B9),
            (Function::Alloc, 0, 1),
            (Function::Alloc, 3, 11),
            (Function::Alloc, 1, u32::MAX),
        ];
        let mut input = String::new();
        for (f, size, seed) in &cases {
            input.push_str(&unitlab_runner::request_line(
                f.name(),
                &Request {
                    size: *size,
                    seed: *seed,
                },
            ));
        }
        input.push_str("bogus 1 1\nquit\n");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let mut lines = text.lines();
        unitlab_runner::parse_ready(lines.next().unwrap()).unwrap();
        for (f, size, seed) in &cases {
            let resp = unitlab_runner::parse_response(lines.next().unwrap()).unwrap();
            assert_eq!(resp.value, f.expected(*size, *seed), "{f} {size} {seed}");
        }
        assert!(unitlab_runner::parse_response(lines.next().unwrap()).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn tags_follow_content() {
        assert_ne!(fnv64(&[b"ab", b"c"]), fnv64(&[b"a", b"bc"]));
        assert!(runner_tag().starts_with("unitlab/runner:"));
        assert_eq!(runner_tag(), runner_tag());
    }
}
