//! RESP: the request parser (zero-copy), the reply encoder (RESP2 and RESP3), and a client-side
//! reply parser (for the sentinel's links).
//!
//! Owns the wire format only. It never touches sockets or the keyspace.

pub mod parse;
pub mod reply;
pub mod value;

pub use parse::{
    parse_command, parse_command_resume, peek_second_arg, Args, Limits, ParseOutcome, Resume,
};
pub use reply::Reply;
