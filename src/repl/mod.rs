//! Replication: the stream of writes every consumer reads, in one global order.
//!
//! `propagate` turns a command that changed data into the commands a replica or the AOF must
//! run to make the same change (deterministic forms: PEXPIREAT instead of EXPIRE, SREM instead
//! of SPOP ...). `feed` appends them, with SELECT when the database changes, to the backlog and
//! to the AOF buffer while the command still holds its shards, so the append order is the order
//! in which conflicting writes ran. `backlog` is the ring of the last `repl-backlog-size` bytes.
//!
//! This layer knows RESP and offsets; it never touches sockets, files or the keyspace.

pub mod backlog;
pub mod feed;
pub mod master;
pub mod propagate;
pub mod replica;
