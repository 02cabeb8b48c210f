//! `max-bench`: Max's benchmark suite (run it with `cargo xtask bench`). Every scenario runs in the same
//! invocation so that ratios compare numbers measured on the same machine at the same time.

#![allow(clippy::print_stdout, reason = "a benchmark prints its table")]

mod fake;
mod measure;
mod report;
mod scenarios;

use std::path::PathBuf;

use scenarios::Env;

struct Args {
    quick: bool,
    json: bool,
    only: Option<String>,
    against: Option<String>,
    api_key: String,
    out: PathBuf,
}

fn parse_args(target: &std::path::Path) -> anyhow::Result<Args> {
    let mut args = Args {
        quick: false,
        json: false,
        only: None,
        against: None,
        api_key: max_fake_saas::acme::DEFAULT_API_KEY.to_string(),
        out: target.join("bench").join("results.json"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--quick" => args.quick = true,
            "--only" => args.only = it.next(),
            "-o" | "--output" => args.json = it.next().as_deref() == Some("json"),
            "--against" => args.against = it.next(),
            "--api-key" => args.api_key = it.next().unwrap_or_default(),
            "--out" => args.out = it.next().map(PathBuf::from).unwrap_or(args.out),
            other => anyhow::bail!(
                "unknown argument `{other}`: max-bench [--quick] [--only limit|latency|rate|startup|languages|github|postgres|boundary] [-o json] [--against URL [--api-key KEY]] [--out FILE]"
            ),
        }
    }
    Ok(args)
}

/// Every scenario, in an order where later ones reuse what earlier ones built.
async fn run_all(env: &Env, against: Option<&fake::Api>, rows: &mut Vec<report::Row>) -> anyhow::Result<()> {
    let e2e = scenarios::end_to_end::run(env, against)?;
    rows.extend(e2e.rows);
    if against.is_some() {
        return Ok(());
    }
    rows.extend(scenarios::latency::run(env, &[50, 100, 200])?);
    rows.extend(scenarios::rate::run(env)?);
    rows.extend(scenarios::startup::run(env)?);
    rows.extend(scenarios::languages::run(env)?);
    rows.extend(scenarios::github::run(env)?);
    rows.extend(scenarios::postgres::run(env)?);
    if let Some(project) = &e2e.largest {
        rows.extend(scenarios::query::run(env, project, fake::Size::MILLION.entities())?);
    }
    // In-process scenarios last: a child forked from a process grown large reports that size as its
    // peak RSS, so every measured `max` runs before the bench itself holds 1M rows.
    rows.extend(scenarios::boundary::run(env).await?);
    for (label, size, rate) in [("50k", fake::Size::DEMO, e2e.demo_rate), ("1M", fake::Size::MILLION, e2e.largest_rate)]
    {
        let projects = (size.workspaces * size.projects) as usize;
        rows.extend(scenarios::limit::run(env, label, projects, size.tasks as usize, rate).await?);
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let target = std::env::var_os("MAX_BENCH_TARGET").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("target"));
    // Commands run inside project folders, so every path must be absolute.
    let target = std::path::absolute(target)?;
    let args = parse_args(&target)?;
    let env = Env {
        bin: target.join("release"),
        acme: target.join("connectors").join("acme.wasm"),
        linear: target.join("connectors").join("linear.wasm"),
        work: target.join("bench").join("work"),
        quick: args.quick,
    };
    std::fs::create_dir_all(&env.work)?;
    let against = args.against.as_deref().map(|url| fake::Api::external(url, &args.api_key));
    let mut rows = Vec::new();
    match args.only.as_deref() {
        Some("limit") => {
            for (label, size) in [("50k", fake::Size::DEMO), ("1M", fake::Size::MILLION)] {
                let projects = (size.workspaces * size.projects) as usize;
                rows.extend(scenarios::limit::run(&env, label, projects, size.tasks as usize, None).await?);
            }
        }
        Some("startup") => rows.extend(scenarios::startup::run(&env)?),
        Some("languages") => rows.extend(scenarios::languages::run(&env)?),
        Some("github") => rows.extend(scenarios::github::run(&env)?),
        Some("postgres") => rows.extend(scenarios::postgres::run(&env)?),
        Some("latency") => rows.extend(scenarios::latency::run(&env, &[50, 100, 200])?),
        Some("rate") => rows.extend(scenarios::rate::run(&env)?),
        Some("boundary") => rows.extend(scenarios::boundary::run(&env).await?),
        Some(other) => {
            anyhow::bail!(
                "--only takes limit, latency, rate, startup, languages, github, postgres or boundary, not `{other}`"
            )
        }
        None => run_all(&env, against.as_ref(), &mut rows).await?,
    }
    let machine =
        format!("{} cores, {}", std::thread::available_parallelism().map_or(0, |n| n.get()), std::env::consts::ARCH);
    let document = serde_json::json!({ "machine": machine, "quick": args.quick, "results": rows });
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.out, serde_json::to_vec_pretty(&document)?)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&document)?);
    } else {
        println!("{}", report::table(&rows));
        println!("\n{machine}; results written to {}", args.out.display());
    }
    Ok(())
}
