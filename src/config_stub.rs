//! TEMPORARY stub until src/config lands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mode {
    Server,
    Sentinel,
}
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LogLevel {
    Debug,
    Verbose,
    Notice,
    Warning,
    Nothing,
}
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum DebugCmd {
    No,
    Yes,
    Local,
}
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct OutputLimit {
    pub hard_bytes: u64,
    pub soft_bytes: u64,
    pub soft_seconds: u64,
}
pub struct ConfigError {
    pub message: String,
}
#[derive(Clone, Debug)]
pub struct Config {
    pub port: u16,
    pub bind: Vec<String>,
    pub protected_mode: bool,
    pub tcp_backlog: i32,
    pub timeout_s: u64,
    pub tcp_keepalive_s: u64,
    pub daemonize: bool,
    pub pidfile: String,
    pub loglevel: LogLevel,
    pub logfile: String,
    pub databases: usize,
    pub always_show_logo: bool,
    pub dir: String,
    pub dbfilename: String,
    pub save_points: Vec<(u64, u64)>,
    pub requirepass: Option<Vec<u8>>,
    pub maxclients: u64,
    pub hz: u32,
    pub threads: usize,
    pub proto_max_bulk_len: u64,
    pub client_query_buffer_limit: u64,
    pub client_output_buffer_limit_normal: OutputLimit,
    pub client_output_buffer_limit_replica: OutputLimit,
    pub client_output_buffer_limit_pubsub: OutputLimit,
    pub enable_debug_command: DebugCmd,
    pub slowlog_log_slower_than_us: i64,
    pub slowlog_max_len: u64,
    pub latency_monitor_threshold_ms: u64,
    pub maxmemory_bytes: u64,
    pub mode: Mode,
    pub config_file: Option<std::path::PathBuf>,
}
impl Config {
    pub fn new() -> Config {
        Config {
            port: 6379,
            bind: vec!["127.0.0.1".into(), "-::1".into()],
            protected_mode: true,
            tcp_backlog: 511,
            timeout_s: 0,
            tcp_keepalive_s: 300,
            daemonize: false,
            pidfile: String::new(),
            loglevel: LogLevel::Notice,
            logfile: String::new(),
            databases: 16,
            always_show_logo: false,
            dir: String::new(),
            dbfilename: "dump.rdb".into(),
            save_points: vec![],
            requirepass: None,
            maxclients: 10000,
            hz: 10,
            threads: 0,
            proto_max_bulk_len: 512 << 20,
            client_query_buffer_limit: 1 << 30,
            client_output_buffer_limit_normal: OutputLimit::default(),
            client_output_buffer_limit_replica: OutputLimit::default(),
            client_output_buffer_limit_pubsub: OutputLimit::default(),
            enable_debug_command: DebugCmd::Yes,
            slowlog_log_slower_than_us: 10000,
            slowlog_max_len: 128,
            latency_monitor_threshold_ms: 0,
            maxmemory_bytes: 0,
            mode: Mode::Server,
            config_file: None,
        }
    }
    pub fn load(args: &[String], _stdin: &mut dyn std::io::Read) -> Result<Config, ConfigError> {
        let mut c = Config::new();
        let mut i = 0;
        while i + 1 < args.len() {
            match args[i].as_str() {
                "--port" => c.port = args[i + 1].parse().unwrap_or(6379),
                "--threads" => c.threads = args[i + 1].parse().unwrap_or(0),
                _ => {}
            }
            i += 2;
        }
        Ok(c)
    }
    pub fn pidfile_path(&self) -> Option<String> {
        None
    }
    pub fn get_matching(&self, _pattern: &[u8]) -> Vec<(String, String)> {
        vec![]
    }
    pub fn set(&mut self, name: &str, _value: &str) -> Result<(), String> {
        Err(format!(
            "Unknown option or number of arguments for CONFIG SET - '{name}'"
        ))
    }
    pub fn rewrite(&self) -> Result<(), String> {
        Err("The server is running without a config file".into())
    }
}
pub fn glob_match(pattern: &[u8], s: &[u8], _nocase: bool) -> bool {
    pattern == b"*" || pattern == s
}
