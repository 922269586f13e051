//! ringkv: a Redis-compatible server. See DESIGN.md for the layers:
//! runtime → resp → server → store / commands.

pub mod commands;
#[path = "config_stub.rs"]
pub mod config;
pub mod resp;
pub mod runtime;
pub mod server;
pub mod store;
