//! Registering deskbot's application commands: `/helpdesk new|status|portal|help` and the message
//! context-menu command "Create ticket", in the configured guilds (instant) or globally. The
//! bulk overwrite is idempotent, so every start may do it.

use super::interactions::{COMMAND, MESSAGE_COMMAND};
use serenity::all::{Command, CommandOptionType, CommandType, CreateCommand, CreateCommandOption, GuildId};
use serenity::http::Http;

pub fn definitions() -> Vec<CreateCommand> {
    let sub = |name: &str, what: &str| CreateCommandOption::new(CommandOptionType::SubCommand, name, what);
    vec![
        CreateCommand::new(COMMAND)
            .description("Get IT help")
            .add_option(sub("new", "File a ticket with the IT team"))
            .add_option(sub("status", "See your open tickets"))
            .add_option(sub("portal", "A sign-in link to the help desk portal (only you see it)"))
            .add_option(sub("help", "What deskbot can do")),
        CreateCommand::new(MESSAGE_COMMAND).kind(CommandType::Message),
    ]
}

/// Register the commands; errors are returned for the caller to log (the bot still works
/// through mentions, DMs and reactions without them).
pub async fn register(http: &Http, guilds: &[u64]) -> Result<(), serenity::Error> {
    if guilds.is_empty() {
        Command::set_global_commands(http, definitions()).await?;
        tracing::info!("discord commands registered globally");
        return Ok(());
    }
    for g in guilds {
        GuildId::new(*g).set_commands(http, definitions()).await?;
        tracing::info!(guild = g, "discord commands registered");
    }
    Ok(())
}
