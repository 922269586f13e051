//! ringkv: a Redis-compatible server. See DESIGN.md for the layers:
//! runtime → resp → server → store / commands.

pub mod commands;
pub mod config;
pub mod persist;
pub mod repl;
pub mod resp;
pub mod runtime;
pub mod sentinel;
pub mod server;
pub mod store;
