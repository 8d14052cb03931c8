//! The child process side (`aviary __script-child`): Python embedded through pyo3, the `aviary`
//! module ([`aviary.py`](./aviary.py)) on top of one native call that writes a request line to
//! the run and reads its reply.
//!
//! The protocol keeps the process's original stdin and stdout (cloned before Python starts);
//! file descriptors 0 and 1 are then pointed at `/dev/null` and stderr, so whatever the script
//! (or a C extension) prints lands in the run's log, never in the protocol.

// pyo3's `#[pyfunction]` and `#[pymodule]` expand to FFI glue with `unsafe` blocks, and moving
// file descriptors 0 and 1 needs `dup2`: both only here, in the child process.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::PyModule;

use super::protocol::{ErrorKind, MAX_LINE_BYTES, Request, ScriptError};

/// The API module's source, loaded as `aviary`.
const API: &str = include_str!("aviary.py");

struct Pipe {
    from_run: BufReader<File>,
    to_run: File,
}

static PIPE: Mutex<Option<Pipe>> = Mutex::new(None);

/// Sends one request line and returns the reply line; `None` when the run closed the pipe
/// (it stopped the script).
#[pyfunction]
fn call(py: Python<'_>, request: &str) -> Option<String> {
    py.detach(|| {
        let mut guard = PIPE.lock().ok()?;
        let pipe = guard.as_mut()?;
        pipe.to_run.write_all(request.as_bytes()).ok()?;
        pipe.to_run.write_all(b"\n").ok()?;
        pipe.to_run.flush().ok()?;
        read_line(&mut pipe.from_run)
    })
}

fn read_line(reader: &mut BufReader<File>) -> Option<String> {
    let mut line = Vec::new();
    let read = reader.by_ref().take(MAX_LINE_BYTES as u64).read_until(b'\n', &mut line).ok()?;
    (read > 0 && line.ends_with(b"\n")).then(|| String::from_utf8_lossy(&line).trim_end().to_string())
}

fn send(to_run: &mut File, request: &Request) {
    if let Ok(text) = serde_json::to_string(request) {
        let _ = writeln!(to_run, "{text}");
        let _ = to_run.flush();
    }
}

/// Points fd 0 at `/dev/null` and fd 1 at stderr, after cloning both for the protocol.
fn take_protocol_fds() -> std::io::Result<Pipe> {
    let from_run = File::from(std::io::stdin().as_fd().try_clone_to_owned()?);
    let to_run = File::from(std::io::stdout().as_fd().try_clone_to_owned()?);
    let null = File::open("/dev/null")?;
    // SAFETY: dup2 on descriptors this process owns; 0 and 1 are replaced atomically and the
    // protocol keeps its own clones.
    let moved =
        unsafe { libc::dup2(null.as_raw_fd(), 0) >= 0 && libc::dup2(std::io::stderr().as_raw_fd(), 1) >= 0 };
    if !moved {
        return Err(std::io::Error::last_os_error());
    }
    Ok(Pipe { from_run: BufReader::new(from_run), to_run })
}

/// The child's `main`: reads the [`super::protocol::Start`] line, runs the handler, sends
/// `done`. Returns the process exit code.
pub fn main() -> i32 {
    let mut pipe = match take_protocol_fds() {
        Ok(pipe) => pipe,
        Err(e) => {
            eprintln!("aviary script child: cannot set up its pipes: {e}");
            return 2;
        }
    };
    let Some(start) = read_line(&mut pipe.from_run) else { return 2 };
    let Ok(mut to_run) = pipe.to_run.try_clone() else { return 2 };
    if let Ok(mut guard) = PIPE.lock() {
        *guard = Some(pipe);
    }
    Python::initialize();
    let error = Python::attach(|py| run(py, &start)).unwrap_or_else(|e| {
        Some(ScriptError { kind: ErrorKind::Error, message: format!("could not start Python: {e}") })
    });
    send(&mut to_run, &Request::Done { error });
    0
}

fn run(py: Python<'_>, start: &str) -> PyResult<Option<ScriptError>> {
    let native = PyModule::new(py, "_aviary")?;
    native.add_function(wrap_pyfunction!(call, &native)?)?;
    let modules = py.import("sys")?.getattr("modules")?;
    modules.set_item("_aviary", &native)?;
    let code = CString::new(API).map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
    let api = PyModule::from_code(py, &code, c"<aviary>", c"aviary")?;
    modules.set_item("aviary", &api)?;
    let result = api.getattr("_run")?.call1((start,))?;
    if result.is_none() {
        return Ok(None);
    }
    let text: String = py.import("json")?.getattr("dumps")?.call1((result,))?.extract()?;
    Ok(serde_json::from_str(&text).ok())
}
