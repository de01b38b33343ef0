//! Command dispatch: one module per command group.

mod audit;
mod compare;
mod data;
mod export;
mod init;
mod keys;
mod models;
mod monitor;
mod promote;
mod quickstart;
mod retention;
mod review;
mod score;
mod serve;
mod subject;
mod switch;
mod train;
mod usecase;
mod webhooks;

use crate::cli::{Cli, Command};
use anyhow::Result;

pub fn run(cli: Cli) -> Result<()> {
    let project = cli.project.as_deref();
    match cli.command {
        Command::Init { dir } => init::run(dir.as_deref()),
        Command::Quickstart {
            dir,
            rows,
            seed,
            no_serve,
            addr,
        } => quickstart::run(&dir, rows, seed, (!no_serve).then_some(addr.as_str())),
        Command::Usecase(c) => usecase::run(project, c),
        Command::Data(c) => data::run(project, c),
        Command::Audit(c) => audit::run(project, c),
        Command::Train {
            usecase,
            dataset,
            seed,
            json,
        } => train::run(
            &crate::project::Project::find(project)?,
            &usecase,
            dataset.as_deref(),
            seed,
            json,
        )
        .map(drop),
        Command::Models(c) => models::run(project, c),
        Command::Score {
            usecase,
            input,
            output,
            model,
            no_reasons,
            json,
        } => score::run(
            &crate::project::Project::find(project)?,
            &usecase,
            &input,
            &output,
            model.as_deref(),
            !no_reasons,
            json,
        ),
        Command::Card { target, output } => models::card(project, &target, output.as_deref()),
        Command::Serve(args) => serve::run(project, &args.addr, args.config(), None),
        Command::Keys(c) => keys::run(project, c),
        Command::Webhooks(c) => webhooks::run(project, c),
        Command::Promote {
            target,
            to,
            canary,
            override_gates,
            reason,
            json,
        } => promote::promote(
            project,
            &target,
            &to,
            canary.as_deref(),
            override_gates,
            reason.as_deref(),
            json,
        ),
        Command::Rollback {
            usecase,
            reason,
            json,
        } => promote::rollback(project, &usecase, reason.as_deref(), json),
        Command::Switch {
            state,
            usecase,
            reason,
            json,
        } => switch::run(project, &state, &usecase, reason.as_deref(), json),
        Command::Compare { usecase, json } => compare::run(project, &usecase, json),
        Command::Monitor {
            usecase,
            model,
            html,
            no_alerts,
            json,
        } => monitor::monitor(
            project,
            &usecase,
            model.as_deref(),
            html.as_deref(),
            no_alerts,
            json,
        ),
        Command::Drift {
            usecase,
            data,
            model,
            html,
            json,
        } => monitor::drift_file(
            project,
            &usecase,
            &data,
            model.as_deref(),
            html.as_deref(),
            json,
        ),
        Command::Export(c) => export::run(project, c),
        Command::Subject(c) => subject::run(project, c),
        Command::Review(c) => review::run(project, c),
        Command::Retention(c) => retention::run(project, c),
    }
}

/// Print one JSON document on stdout.
pub fn print_json(value: &serde_json::Value) {
    emit(&format!(
        "{}\n",
        serde_json::to_string_pretty(value).expect("JSON values serialise")
    ));
}

/// Write to stdout; a reader that went away (`| head`) is not an error worth a panic.
pub fn emit(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}
