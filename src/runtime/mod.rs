//! The runtime: one io_uring per thread, bounded mailboxes between threads, and a clock.
//!
//! This layer knows nothing about Redis. It moves bytes between sockets and buffers, wakes threads,
//! and tells the time. The server layer above decides what the bytes mean.

pub mod clock;
pub mod mailbox;
pub mod ring;

pub use mailbox::Mailbox;
pub use ring::{Completion, Ring};
