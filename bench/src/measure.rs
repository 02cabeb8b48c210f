//! Timing commands: wall time and the peak resident memory of a child process (from `wait4`), and
//! medians over repeated runs.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// What one run of a command cost.
#[derive(Debug, Clone)]
pub struct Run {
    /// Wall-clock time.
    pub wall: Duration,
    /// Peak resident set size in bytes.
    pub peak_rss: u64,
    /// What it printed on stdout.
    pub stdout: Vec<u8>,
}

/// Runs `command` to its end, measuring it; fails on a non-zero exit.
pub fn run(command: &mut Command) -> anyhow::Result<Run> {
    run_into(command, None)
}

/// Runs `command` with its stdout written to `file` (not held in this process: a child forked from a
/// process holding a large buffer would report that buffer in its peak RSS); `Run::stdout` is empty.
pub fn run_to_file(command: &mut Command, file: &Path) -> anyhow::Result<Run> {
    run_into(command, Some(std::fs::File::create(file).with_context(|| format!("creating {}", file.display()))?))
}

fn run_into(command: &mut Command, file: Option<std::fs::File>) -> anyhow::Result<Run> {
    let started = Instant::now();
    let to_file = file.is_some();
    let stdout_to = file.map_or_else(Stdio::piped, Stdio::from);
    let mut child =
        command.stdout(stdout_to).stderr(Stdio::piped()).spawn().with_context(|| format!("starting {command:?}"))?;
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    {
        use std::io::Read;
        let mut err = child.stderr.take().context("stderr")?;
        let reader = std::thread::spawn(move || {
            let mut buffer = Vec::new();
            let _ = err.read_to_end(&mut buffer);
            buffer
        });
        if !to_file {
            child.stdout.take().context("stdout")?.read_to_end(&mut stdout)?;
        }
        stderr.extend(reader.join().unwrap_or_default());
    }
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pid is our own child, which has not been waited for; both pointers are valid.
    let waited = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let wall = started.elapsed();
    if waited < 0 {
        bail!("waiting for {command:?}: {}", std::io::Error::last_os_error());
    }
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        bail!("{command:?} failed: {}", String::from_utf8_lossy(&stderr));
    }
    Ok(Run { wall, peak_rss: usage.ru_maxrss as u64 * 1024, stdout })
}

/// The median wall time of `runs` runs of the command `make` builds.
pub fn median(runs: usize, mut make: impl FnMut() -> Command) -> anyhow::Result<Duration> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        times.push(run(&mut make())?.wall);
    }
    times.sort();
    Ok(times[times.len() / 2])
}

/// The median of `runs` timings of `f`.
pub fn median_of<T>(runs: usize, mut f: impl FnMut() -> anyhow::Result<(Duration, T)>) -> anyhow::Result<Duration> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        times.push(f()?.0);
    }
    times.sort();
    Ok(times[times.len() / 2])
}

/// A `max` command run in `project` with its own `MAX_HOME`.
pub fn max(bin: &Path, project: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(bin.join("max"));
    command.current_dir(project).env("MAX_HOME", project.join("home")).env("NO_COLOR", "1").args(args);
    command
}
