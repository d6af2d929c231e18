//! Error codes that cross into JavaScript. Every native failure carries a stable `MESH_ERR_*` code
//! (the same registry as agent/src/errors.ts, listed in docs/errors.md) and a message that says
//! what to do. Panics are caught at the boundary and reported as MESH_ERR_NATIVE_PANIC.

use std::fmt;

/// A stable error code; `as_ref()` is the string JavaScript sees as `err.code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    InvalidArg,
    BpfLoad,
    BpfAttach,
    BpfMap,
    BpfPin,
    Netns,
    Listen,
    Closed,
    Panic,
}

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        match self {
            Code::InvalidArg => "MESH_ERR_INVALID_ARG",
            Code::BpfLoad => "MESH_ERR_BPF_LOAD",
            Code::BpfAttach => "MESH_ERR_BPF_ATTACH",
            Code::BpfMap => "MESH_ERR_BPF_MAP",
            Code::BpfPin => "MESH_ERR_BPF_PIN",
            Code::Netns => "MESH_ERR_NETNS",
            Code::Listen => "MESH_ERR_LISTEN",
            Code::Closed => "MESH_ERR_CLOSED",
            Code::Panic => "MESH_ERR_NATIVE_PANIC",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_ref())
    }
}

/// The error type of every `#[napi]` function: `napi::Error` with our code as its status.
pub type JsError = napi::Error<Code>;
pub type Result<T> = std::result::Result<T, JsError>;

/// Builds an error with a code and an actionable message.
pub fn err(code: Code, msg: impl Into<String>) -> JsError {
    napi::Error::new(code, msg.into())
}

/// Runs `f`, turning a panic into MESH_ERR_NATIVE_PANIC so that no panic unwinds into Node.
pub fn guard<T>(what: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => {
            let detail = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(err(
                Code::Panic,
                format!(
                    "native panic in {what}: {detail}; this is a nodemesh bug, please report it"
                ),
            ))
        }
    }
}
