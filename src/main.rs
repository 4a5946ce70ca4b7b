//! The `haven` command line: serve (the default), migrate, import, export, generate, openapi,
//! healthcheck.

use std::io::{BufReader, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use haven::catalog::import;
use haven::config::Config;
use haven::progress::Progress;
use haven::server;

#[derive(Parser)]
#[command(
    name = "haven",
    version,
    about = "Haven: a harm-reduction service directory speaking HSDS 3.0"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API (the default).
    Serve,
    /// Apply database migrations and write Haven's vocabularies.
    Migrate,
    /// Load HSDS 3.0 services (a JSON array or ndjson of fully nested services), upserting by id.
    Import {
        /// The file to read; `-` reads standard input.
        file: PathBuf,
    },
    /// Write every service as ndjson to standard output.
    Export,
    /// Write a fictional HSDS 3.0 directory as ndjson to standard output (benchmarks, tests).
    ///
    /// Fully nested services clustered around 22 US towns, organisations with shared
    /// locations, Haven's vocabularies. The same --services and --seed always give the same
    /// bytes.
    Generate {
        /// Services to write.
        #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
        services: u64,
        /// Random seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Write this many benchmark search paths (a 10 km search with a cost and an
        /// accessibility filter around the towns) instead of services.
        #[arg(long, value_name = "Q")]
        queries: Option<u64>,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Exit 0 when the server at HAVEN_ADDR answers /readyz (for container health checks).
    Healthcheck,
    /// Account administration.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a user; the password is read from the first line of standard input.
    CreateUser {
        #[arg(long)]
        email: String,
        /// admin, org_admin or staff.
        #[arg(long)]
        role: String,
        /// The organisation (required for org_admin and staff).
        #[arg(long)]
        organization: Option<String>,
    },
}

/// Logging as `HAVEN_LOG` and `HAVEN_LOG_FORMAT` say; a value that cannot be read stops the
/// program, as any other malformed setting does, rather than log otherwise than asked.
fn init_tracing() -> anyhow::Result<()> {
    let set = |name| {
        std::env::var(name)
            .ok()
            .filter(|v: &String| !v.trim().is_empty())
    };
    let filter = match set("HAVEN_LOG") {
        Some(directives) => tracing_subscriber::EnvFilter::builder()
            .parse(&directives)
            .map_err(|e| anyhow::anyhow!("HAVEN_LOG: {e} (e.g. `info` or `warn,haven=debug`)"))?,
        None => tracing_subscriber::EnvFilter::new("info"),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match set("HAVEN_LOG_FORMAT").as_deref() {
        Some("json") => builder.json().init(),
        Some("text") | None => builder.init(),
        Some(other) => anyhow::bail!("HAVEN_LOG_FORMAT: must be text or json, not `{other}`"),
    }
    Ok(())
}

fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    match init_tracing().and_then(|()| run(cli.command.unwrap_or(Command::Serve))) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("haven: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> anyhow::Result<ExitCode> {
    if let Command::Openapi = command {
        print!("{}", haven::openapi::pretty());
        return Ok(ExitCode::SUCCESS);
    }
    if let Command::Generate {
        services,
        seed,
        queries,
    } = command
    {
        let out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
        let written = match queries {
            Some(n) => haven::generate::queries(n, seed, out),
            None => haven::generate::services(services, seed, out),
        };
        return match written {
            // A reader that stops early (`| head`) is not an error.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
            other => other.map(|()| ExitCode::SUCCESS).map_err(Into::into),
        };
    }
    let config = Config::from_env()?;
    match command {
        Command::Serve => {
            actix_web::rt::System::new().block_on(server::serve(config))?;
        }
        Command::Migrate => {
            server::prepare(&config)?;
            eprintln!("migrations applied");
        }
        Command::Import { file } => {
            let pool = server::prepare(&config)?;
            let mut conn = pool.get()?;
            haven::db::tune_for_bulk(&mut conn)?;
            let (input, size): (Box<dyn std::io::BufRead + Send>, _) = if file.as_os_str() == "-" {
                (Box::new(BufReader::new(std::io::stdin())), None)
            } else {
                let f = std::fs::File::open(&file)
                    .with_context(|| format!("cannot open {}", file.display()))?;
                let size = f.metadata().ok().map(|m| m.len());
                (Box::new(BufReader::with_capacity(1 << 16, f)), size)
            };
            let progress = Progress::new(size, std::io::stderr().is_terminal());
            let report = import::import(&mut conn, progress.reader(input), |r| {
                progress.update(r.seen())
            })?;
            progress.finish();
            for rejection in &report.rejected {
                eprintln!("rejected {rejection}");
            }
            eprintln!(
                "imported: {} created, {} updated, {} unchanged, {} rejected",
                report.created,
                report.updated,
                report.unchanged,
                report.rejected.len()
            );
            if !report.rejected.is_empty() {
                return Ok(ExitCode::from(2));
            }
        }
        Command::Export => {
            let pool = server::prepare(&config)?;
            let mut conn = pool.get()?;
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let n = import::export(&mut conn, &mut out)?;
            out.flush()?;
            eprintln!("exported {n} services");
        }
        Command::Healthcheck => {
            let port = config.addr.port();
            let host = if config.addr.ip().is_unspecified() {
                "127.0.0.1".to_string()
            } else {
                config.addr.ip().to_string()
            };
            return Ok(if healthcheck(&host, port) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            });
        }
        Command::Admin {
            command:
                AdminCommand::CreateUser {
                    email,
                    role,
                    organization,
                },
        } => {
            let mut password = String::new();
            std::io::stdin().read_line(&mut password)?;
            let password = password.trim_end_matches(['\r', '\n']);
            let pool = server::prepare(&config)?;
            let mut conn = pool.get()?;
            let user = haven::accounts::users::create_from_cli(
                &mut conn,
                &email,
                password,
                &role,
                organization.as_deref(),
            )?;
            eprintln!("created {} user {} ({})", user.role, user.email, user.id);
        }
        Command::Openapi | Command::Generate { .. } => unreachable!("handled above"),
    }
    Ok(ExitCode::SUCCESS)
}

/// A plain HTTP/1.1 GET of /readyz: no client library needed in the runtime image.
fn healthcheck(host: &str, port: u16) -> bool {
    use std::io::Read;
    use std::net::TcpStream;
    use std::time::Duration;
    let addr = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let Ok(mut stream) = TcpStream::connect(&addr) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = format!("GET /readyz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.starts_with("HTTP/1.1 200")
}
