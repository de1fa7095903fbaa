//! `capabilities list | show`.

use std::io::{self, Write};

use anyhow::Result;
use serde::Serialize;

use super::Outcome;
use crate::capabilities::{ChannelType, Source};
use crate::cli::CapabilitiesCommand;
use crate::context::Context;
use crate::error::Failure;
use crate::output::{Report, or_dash, table, write_table};
use crate::period::Job;

#[derive(Serialize)]
struct TypeRow {
    name: String,
    source: Source,
    #[serde(flatten)]
    channel_type: ChannelType,
}

fn offered(channel_type: &ChannelType, job: Job) -> String {
    match channel_type.jobs.get(job) {
        None => "not offered".to_string(),
        Some(_) => channel_type.offered_list(job),
    }
}

#[derive(Serialize)]
struct TypeList {
    types: Vec<TypeRow>,
}

impl Report for TypeList {
    fn write_human(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut t = table(["TYPE", "SOURCE", "JOBS", "DESCRIPTION"]);
        for row in &self.types {
            let jobs: Vec<&str> = Job::ALL
                .into_iter()
                .filter(|job| row.channel_type.jobs.get(*job).is_some())
                .map(Job::as_str)
                .collect();
            t.add_row([
                row.name.clone(),
                match row.source {
                    Source::BuiltIn => "built-in".to_string(),
                    Source::User => "capabilities.toml".to_string(),
                },
                jobs.join(", "),
                or_dash(row.channel_type.description.as_ref()),
            ]);
        }
        write_table(out, &t)
    }
}

impl Report for TypeRow {
    fn write_human(&self, out: &mut dyn Write) -> io::Result<()> {
        let c = &self.channel_type;
        writeln!(out, "type:            {}", self.name)?;
        writeln!(out, "protocol:        {}", c.protocol)?;
        writeln!(out, "description:     {}", or_dash(c.description.as_ref()))?;
        writeln!(
            out,
            "token lifetime:  {}",
            or_dash(c.token_lifetime.as_ref())
        )?;
        writeln!(
            out,
            "auth:            {}",
            or_dash(Some(c.auth_list()).filter(|a| !a.is_empty()))
        )?;
        let limits = c.limits();
        writeln!(out, "page-size:       {}", limits.page_size)?;
        writeln!(out, "batch-size:      {}", limits.batch_size)?;
        writeln!(out, "concurrency:     {}", limits.concurrency)?;
        writeln!(
            out,
            "rate-limit:      {}",
            c.rate_limit
                .map_or_else(|| "none (unlimited)".to_string(), |r| r.to_string())
        )?;
        writeln!(
            out,
            "deadline:        {}{}",
            humantime::format_duration(c.deadline()),
            if c.deadline.is_none() {
                " (the default)"
            } else {
                ""
            }
        )?;
        for job in Job::ALL {
            writeln!(out, "{:<17}{}", format!("{job}:"), offered(c, job))?;
        }
        Ok(())
    }
}

pub fn run(ctx: &Context, command: CapabilitiesCommand) -> Result<Outcome> {
    let capabilities = ctx.capabilities()?;
    match command {
        CapabilitiesCommand::List => Ok(Outcome::ok(TypeList {
            types: capabilities
                .iter()
                .map(|(name, channel_type, source)| TypeRow {
                    name: name.to_string(),
                    source,
                    channel_type: channel_type.clone(),
                })
                .collect(),
        })),
        CapabilitiesCommand::Show { channel_type } => {
            let (name, found, source) = capabilities
                .iter()
                .find(|(name, _, _)| *name == channel_type)
                .ok_or_else(|| {
                    Failure::refused(format!(
                        "unknown channel type `{channel_type}` (known: {})",
                        capabilities.names()
                    ))
                })?;
            Ok(Outcome::ok(TypeRow {
                name: name.to_string(),
                source,
                channel_type: found.clone(),
            }))
        }
    }
}
