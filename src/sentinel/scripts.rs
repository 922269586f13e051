//! Notification and client-reconfig scripts, run as Redis Sentinel runs them.
//!
//! A script is queued with its arguments (`notification-script <type> <description>` for a
//! warning-level event of a master or one of its instances; `client-reconfig-script <master>
//! <role> <state> <from-ip> <from-port> <to-ip> <to-port>` when a master changes address) and
//! started from the timer: at most `RUNNING_MAX` at once, each killed after
//! `SCRIPT-MAX-RUNTIME`. A script that exits with 1 or dies by a signal is retried up to
//! `RETRIES_MAX` times, after `SCRIPT-RETRY-DELAY` doubled at each retry; any other non-zero
//! exit is final (`-script-error`). The queue holds at most `QUEUE_MAX` scripts; past that the
//! oldest one not yet running is dropped.

use std::collections::VecDeque;
use std::process::{Child, Command, Stdio};

/// Scripts queued or running at most.
pub const QUEUE_MAX: usize = 256;
/// Scripts running at once at most.
pub const RUNNING_MAX: usize = 16;
/// Retries of a script that exits with 1 or is killed.
pub const RETRIES_MAX: u32 = 10;

pub struct Job {
    /// The path, then the arguments.
    pub argv: Vec<String>,
    pub child: Option<Child>,
    /// Retries done so far.
    pub retry: u32,
    /// When it started (running) or may start (scheduled), Unix ms.
    pub start_ms: u64,
}

/// What the timer tells the event log about finished or killed scripts.
pub enum Outcome {
    /// Started (`+script-child <pid>`, a debug event in Redis).
    Started(u32),
    /// Ended with an error that is not retried: `-script-error <path> <signal> <exit>`.
    Error {
        path: String,
        signal: i32,
        exit: i32,
    },
    /// Killed for running longer than allowed: `-script-timeout <path> <pid>`.
    Timeout { path: String, pid: u32 },
}

#[derive(Default)]
pub struct Scripts {
    pub jobs: VecDeque<Job>,
}

impl Scripts {
    /// Queues `argv` to run as soon as a slot is free. Returns false when the queue was full
    /// and its oldest waiting script was dropped to make room.
    pub fn schedule(&mut self, argv: Vec<String>, now_ms: u64) -> bool {
        let mut room = true;
        if self.jobs.len() >= QUEUE_MAX {
            if let Some(at) = self.jobs.iter().position(|j| j.child.is_none()) {
                self.jobs.remove(at);
            } else {
                return false; // all running: the new one is the one dropped
            }
            room = false;
        }
        self.jobs.push_back(Job {
            argv,
            child: None,
            retry: 0,
            start_ms: now_ms,
        });
        room
    }

    pub fn running(&self) -> usize {
        self.jobs.iter().filter(|j| j.child.is_some()).count()
    }

    /// Reaps finished scripts, kills those past `max_runtime_ms`, and starts due ones while
    /// fewer than `RUNNING_MAX` run.
    pub fn step(&mut self, now_ms: u64, max_runtime_ms: u64, retry_delay_ms: u64) -> Vec<Outcome> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.jobs.len() {
            let job = &mut self.jobs[i];
            let Some(child) = job.child.as_mut() else {
                i += 1;
                continue;
            };
            let status = match child.try_wait() {
                Ok(Some(status)) => status,
                Ok(None) => {
                    if now_ms.saturating_sub(job.start_ms) > max_runtime_ms {
                        let _ = child.kill();
                        out.push(Outcome::Timeout {
                            path: job.argv[0].clone(),
                            pid: child.id(),
                        });
                    }
                    i += 1;
                    continue;
                }
                Err(_) => {
                    // Not our child any more: forget it.
                    job.child = None;
                    self.jobs.remove(i);
                    continue;
                }
            };
            use std::os::unix::process::ExitStatusExt;
            let signal = status.signal().unwrap_or(0);
            let exit = status.code().unwrap_or(0);
            job.child = None;
            if (signal != 0 || exit == 1) && job.retry < RETRIES_MAX {
                job.retry += 1;
                let factor = 1u64 << (job.retry - 1).min(20);
                job.start_ms = now_ms + retry_delay_ms.saturating_mul(factor);
                i += 1;
                continue;
            }
            if signal != 0 || exit != 0 {
                out.push(Outcome::Error {
                    path: job.argv[0].clone(),
                    signal,
                    exit,
                });
            }
            self.jobs.remove(i);
        }
        let mut running = self.running();
        for job in self.jobs.iter_mut() {
            if running >= RUNNING_MAX {
                break;
            }
            if job.child.is_some() || job.start_ms > now_ms {
                continue;
            }
            let spawned = Command::new(&job.argv[0])
                .args(&job.argv[1..])
                .stdin(Stdio::null())
                .spawn();
            match spawned {
                Ok(child) => {
                    out.push(Outcome::Started(child.id()));
                    job.child = Some(child);
                    job.start_ms = now_ms;
                    running += 1;
                }
                Err(_) => {
                    // Cannot start (removed, not executable): a final error, as a failed exec
                    // is in Redis (its child exits with 2).
                    job.start_ms = u64::MAX;
                    out.push(Outcome::Error {
                        path: job.argv[0].clone(),
                        signal: 0,
                        exit: 2,
                    });
                }
            }
        }
        self.jobs.retain(|j| j.start_ms != u64::MAX);
        out
    }
}

/// Whether `path` names an executable regular file (Redis refuses other script paths).
pub fn executable(path: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
