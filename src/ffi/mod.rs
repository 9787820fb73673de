//! The C ABI: converts between C types and the safe API, and nothing else.
//!
//! Every exported function has the same shape: a doc comment that becomes the header's (who owns
//! what, what NULL does, thread safety), `extern "C"`, and a body inside [`boundary`], which
//! turns a panic into `MULTIPOOL_ERR_INTERNAL` and a `Result` into a status code. Pointers are checked
//! with the helpers in `pointers` before any is dereferenced.
#![expect(
    unreachable_pub,
    reason = "the items are exported to C through cbindgen; Rust callers use the safe API"
)]

mod boundary;
#[allow(
    dead_code,
    reason = "the constants are for C, through the generated header; unit tests use some of them"
)]
mod codes;
mod options;
mod pointers;
mod session;
mod sized;
mod types;
mod version;
