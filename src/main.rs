//! `ringkv [/path/to/redis.conf] [--directive value ...] [-]`: arguments → config → server or sentinel.

use mimalloc::MiMalloc;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

use ringkv::config::{Config, Mode};
use ringkv::server::start::{REDIS_VERSION, VERSION};

fn usage() -> String {
    format!(
        "Usage: ringkv [/path/to/redis.conf] [options] [-]\n\
         \x20      ringkv - (read config from stdin)\n\
         \x20      ringkv -v or --version\n\
         \x20      ringkv -h or --help\n\
         \n\
         Examples:\n\
         \x20      ringkv (run the server with default conf)\n\
         \x20      echo 'maxmemory 128mb' | ringkv -\n\
         \x20      ringkv /etc/redis/6379.conf\n\
         \x20      ringkv --port 7777\n\
         \x20      ringkv --port 7777 --replicaof 127.0.0.1 8888\n\
         \x20      ringkv /etc/myredis.conf --loglevel verbose -\n\
         \x20      ringkv /etc/myredis.conf --loglevel verbose\n\
         \x20      ringkv --threads 2 --save ''\n\
         \n\
         Sentinel mode:\n\
         \x20      ringkv /etc/sentinel.conf --sentinel\n\
         \n\
         ringkv {VERSION} speaks the protocol of Redis {REDIS_VERSION}.\n"
    )
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(first) = args.first() {
        match first.as_str() {
            "-v" | "--version" => {
                println!("ringkv server v={VERSION} redis_compat={REDIS_VERSION} sha=00000000:0 malloc=mimalloc bits=64 build=0");
                return;
            }
            "-h" | "--help" => {
                print!("{}", usage());
                return;
            }
            _ => {}
        }
    }
    let config = match Config::load(&args, &mut std::io::stdin()) {
        Ok(c) => c,
        Err(e) => {
            eprint!("{}", e.message);
            std::process::exit(1);
        }
    };
    if matches!(config.mode, Mode::Sentinel) {
        std::process::exit(ringkv::sentinel::run(config));
    }
    std::process::exit(ringkv::server::start::run(config));
}
