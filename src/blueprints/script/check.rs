//! `aviary validate` for a script: compiles it and looks for its handler without running it.
//!
//! The check runs `python3 -I` (the system interpreter, isolated mode) on the script's syntax
//! tree, in a short-lived process of its own with a deadline: validation never embeds Python in
//! aviary's own process and never runs the script's top level.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long the syntax check may take.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads the script from stdin, prints one problem per line (`LINE:COL: message`).
const CHECK: &str = r#"
import ast, sys
name, handler = sys.argv[1], sys.argv[2]
source = sys.stdin.buffer.read()
try:
    tree = ast.parse(source, filename=name)
except SyntaxError as e:
    print(f"{e.lineno or 1}:{e.offset or 1}: {e.msg}")
    sys.exit(0)
found = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == handler]
assigned = any(isinstance(n, (ast.Assign, ast.ImportFrom, ast.Import)) and handler in ast.dump(n) for n in tree.body)
if not found and not assigned:
    names = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    hint = f"; it defines {', '.join(names)}" if names else ""
    print(f"1:1: no top-level function `{handler}` (the handler){hint}")
elif found and not found[-1].args.args and not found[-1].args.vararg:
    n = found[-1]
    print(f"{n.lineno}:{n.col_offset + 1}: `{handler}` must take the canary as its argument")
"#;

/// Problems of the script at `path` (`file` as the canary file wrote it), each as
/// `file:line:col: message`.
pub fn check_script(path: &Path, file: &str, handler: &str) -> Vec<String> {
    let source = match std::fs::read(path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return vec![format!("cannot read {file}: no such file; write the script there")];
        }
        Err(e) => return vec![format!("cannot read {file}: {e}")],
    };
    match run_check(&source, file, handler) {
        Ok(lines) => lines.into_iter().map(|l| format!("{file}:{l}")).collect(),
        Err(why) => vec![format!("cannot check {file}: {why}")],
    }
}

fn run_check(source: &[u8], file: &str, handler: &str) -> Result<Vec<String>, String> {
    let mut child = Command::new("python3")
        .args(["-I", "-c", CHECK, file, handler])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("python3 did not start ({e})"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A script larger than the pipe is written while python3 reads it.
        let source = source.to_vec();
        std::thread::spawn(move || {
            let _ = stdin.write_all(&source);
        });
    }
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() > CHECK_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("python3 did not answer within {}s", CHECK_TIMEOUT.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(e.to_string()),
        }
    }
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).trim().to_string());
    }
    Ok(String::from_utf8_lossy(&output.stdout).lines().map(str::to_string).collect())
}
