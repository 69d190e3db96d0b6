//! Commands: `/roll 20`, `@bot help`, with typed arguments, aliases, help
//! generated from the declarations, permissions and per-user cooldowns.
//!
//! A message is a command when its text starts with a prefix (`/` by
//! default; `!`, `#` or several, as the bot likes) or when it mentions the
//! account first (`@小灰 roll 20`: the prefix is then optional). The text
//! read is the message's [`body`](crate::Addressed::body): the gateway has
//! already cut the leading mention at its segment. Anything else — and a
//! command nobody declared — passes on (`None`), to the next bot and the
//! webhook.
//!
//! ```
//! use std::time::Duration;
//! use openqq_bot::command::{Arg, Command, Commands, Permission};
//! use openqq_bot::{Bot, Config, Decision, Message};
//!
//! #[derive(Default)]
//! struct Stats {
//!     rolls: u64,
//! }
//!
//! struct Dice {
//!     commands: Commands<Stats>,
//!     stats: Stats,
//! }
//!
//! impl Bot for Dice {
//!     fn init(config: &Config) -> Result<Self, String> {
//!         let commands = Commands::new()
//!             .configure(config)? // `prefix`, `operators`
//!             .command(
//!                 Command::new("roll", "Roll a die")
//!                     .alias("r")
//!                     .arg(Arg::uint("sides").optional())
//!                     .cooldown(Duration::from_secs(5))
//!                     .run(|stats: &mut Stats, call| {
//!                         stats.rolls += 1;
//!                         let sides = call.uint("sides").unwrap_or(6).max(1);
//!                         let n = openqq_bot::host::now_ms() % sides + 1;
//!                         Some(Decision::reply(format!("🎲 {n}")))
//!                     }),
//!             )
//!             .command(
//!                 Command::new("stats", "How many rolls so far")
//!                     .permission(Permission::Admin)
//!                     .run(|stats: &mut Stats, _| {
//!                         Some(Decision::reply(format!("{} rolls", stats.rolls)))
//!                     }),
//!             );
//!         Ok(Dice { commands, stats: Stats::default() })
//!     }
//!
//!     fn on_message(&mut self, msg: &Message) -> Option<Decision> {
//!         // Two fields: the commands borrow the state, not the whole bot.
//!         self.commands.handle(&mut self.stats, msg)
//!     }
//! }
//! ```
//!
//! What the layer answers by itself (the sender sees why):
//! - `help` (unless [`Commands::without_help`]): every command's usage and
//!   what it does; `help roll`: one command;
//! - a wrong argument: `/roll: <sides> must be a whole number ≥ 0, not "x"
//!   — usage: /roll [sides]`;
//! - a refused permission: `/stats: for group admins and the owner only`;
//! - a cooldown: `/roll: again in 4 s`.
//!
//! **Permissions** come from the message: [`Permission::Admin`] and
//! [`Permission::Owner`] from the sender's role in the group (so they never
//! pass in private chats, unless the sender is an operator), and
//! [`Permission::Operator`] from the bot's list of operators — the QQ
//! numbers given to [`Commands::operators`] or in the bot's config
//! (`operators = [10001, 10002]` in its `[[scripts]]` entry's `config`,
//! read by [`Commands::configure`]). Operators pass every check. The list
//! is the bot's own: a gateway operator is whoever the operator of the
//! gateway writes into the bot's config.
//!
//! **Cooldowns** are per command and per sender, on the gateway's clock
//! ([`host::now_ms`](crate::host::now_ms), which the simulator's clock
//! moves). They live in the instance: a rebuilt instance (after a trap or a
//! swap) starts with none.

mod args;
#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests;

use std::collections::HashMap;
use std::time::Duration;

pub use args::{Arg, ArgError, Kind, Value};

use crate::{Addressed, Config, Decision, MemberRole, Message};

/// Who may use a command.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Permission {
    /// Anyone.
    #[default]
    Everyone,
    /// A group's admins and its owner (and the bot's operators).
    Admin,
    /// A group's owner (and the bot's operators).
    Owner,
    /// The bot's operators only.
    Operator,
}

impl Permission {
    fn refusal(self) -> &'static str {
        match self {
            Permission::Everyone => "",
            Permission::Admin => "for group admins and the owner only",
            Permission::Owner => "for the group's owner only",
            Permission::Operator => "for the bot's operators only",
        }
    }

    fn note(self) -> &'static str {
        match self {
            Permission::Everyone => "",
            Permission::Admin => " (admins)",
            Permission::Owner => " (owner)",
            Permission::Operator => " (operators)",
        }
    }
}

type Handler<S> = Box<dyn FnMut(&mut S, &Call<'_>) -> Option<Decision>>;

/// One command: its name, what it does, its arguments and rules, and what
/// it runs.
pub struct Command<S> {
    name: String,
    about: String,
    aliases: Vec<String>,
    args: Vec<Arg>,
    permission: Permission,
    cooldown: Option<Duration>,
    run: Option<Handler<S>>,
}

impl<S> Command<S> {
    /// A command called `name` (one word; matched without regard to ASCII
    /// case), described by `about` in the help.
    pub fn new(name: &str, about: &str) -> Self {
        Command {
            name: name.to_owned(),
            about: about.to_owned(),
            aliases: Vec::new(),
            args: Vec::new(),
            permission: Permission::Everyone,
            cooldown: None,
            run: None,
        }
    }

    /// Another name it answers to.
    #[must_use]
    pub fn alias(mut self, alias: &str) -> Self {
        self.aliases.push(alias.to_owned());
        self
    }

    /// The next argument, in order.
    #[must_use]
    pub fn arg(mut self, arg: Arg) -> Self {
        self.args.push(arg);
        self
    }

    /// Who may use it (everyone by default).
    #[must_use]
    pub fn permission(mut self, permission: Permission) -> Self {
        self.permission = permission;
        self
    }

    /// How long a sender waits between two uses.
    #[must_use]
    pub fn cooldown(mut self, every: Duration) -> Self {
        self.cooldown = Some(every);
        self
    }

    /// What it does: `handler(state, call)` answers like
    /// [`Bot::on_message`](crate::Bot::on_message) (`None` passes the
    /// message on).
    #[must_use]
    pub fn run(
        mut self,
        handler: impl FnMut(&mut S, &Call<'_>) -> Option<Decision> + 'static,
    ) -> Self {
        self.run = Some(Box::new(handler));
        self
    }

    fn answers_to(&self, word: &str) -> bool {
        self.name.eq_ignore_ascii_case(word)
            || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(word))
    }

    /// `/roll [sides]`.
    fn usage(&self, prefix: &str) -> String {
        let mut u = format!("{prefix}{}", self.name);
        for a in &self.args {
            u.push(' ');
            u.push_str(&a.to_string());
        }
        u
    }
}

/// A command being run: the message, what it addresses, and the arguments.
pub struct Call<'a> {
    /// The message.
    pub msg: &'a Message,
    /// What it addresses (role, mentions, quote).
    pub addressing: &'a Addressed,
    /// The command's name as declared (not the alias used).
    pub command: &'a str,
    values: Vec<(String, Value)>,
}

impl Call<'_> {
    fn value(&self, name: &str) -> Option<&Value> {
        self.values.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// An [`Arg::int`] argument; `None` when left out (or not an int).
    pub fn int(&self, name: &str) -> Option<i64> {
        match self.value(name)? {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// An [`Arg::uint`] argument.
    pub fn uint(&self, name: &str) -> Option<u64> {
        match self.value(name)? {
            Value::Uint(n) => Some(*n),
            _ => None,
        }
    }

    /// An [`Arg::word`] or [`Arg::rest`] argument.
    pub fn text(&self, name: &str) -> Option<&str> {
        match self.value(name)? {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }

    /// An [`Arg::qq`] argument.
    pub fn qq(&self, name: &str) -> Option<u64> {
        match self.value(name)? {
            Value::Qq(n) => Some(*n),
            _ => None,
        }
    }

    /// The sender's QQ number (0 when the gateway does not know it).
    pub fn sender(&self) -> u64 {
        self.msg.sender_qq().unwrap_or(0)
    }
}

/// A bot's commands, and the rules that pick them out of messages.
pub struct Commands<S> {
    prefixes: Vec<String>,
    operators: Vec<u64>,
    commands: Vec<Command<S>>,
    help: bool,
    bare_in_private: bool,
    /// (command index, sender) → when the cooldown ends, in ms.
    until: HashMap<(usize, u64), u64>,
}

/// Past this many cooldowns held, the ended ones are dropped.
const COOLDOWNS_KEPT: usize = 4096;

impl<S> Default for Commands<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> Commands<S> {
    /// No commands yet; the prefix `/`, no operators, a `help` command.
    pub fn new() -> Self {
        Commands {
            prefixes: vec!["/".to_owned()],
            operators: Vec::new(),
            commands: Vec::new(),
            help: true,
            bare_in_private: false,
            until: HashMap::new(),
        }
    }

    /// The prefixes a command starts with, replacing `/` (`["!", "！"]`).
    /// None at all: only an @-mention of the account starts a command.
    #[must_use]
    pub fn prefixes<I: IntoIterator<Item = P>, P: Into<String>>(mut self, prefixes: I) -> Self {
        self.prefixes = prefixes
            .into_iter()
            .map(Into::into)
            .filter(|p: &String| !p.is_empty())
            .collect();
        // The longest first: `!!` before `!`.
        self.prefixes.sort_by_key(|p| std::cmp::Reverse(p.len()));
        self
    }

    /// The bot's operators (QQ numbers): they pass every permission.
    #[must_use]
    pub fn operators(mut self, qq: impl IntoIterator<Item = u64>) -> Self {
        self.operators.extend(qq);
        self
    }

    /// Reads the bot's config: `prefix` (one, or several separated by
    /// spaces: `"/ !"`) and `operators` (a list of QQ numbers, or one
    /// string of them separated by commas or spaces).
    ///
    /// # Errors
    ///
    /// An operator that is not a number, naming the key.
    pub fn configure(mut self, config: &Config) -> Result<Self, String> {
        if let Some(p) = config.get("prefix") {
            self = self.prefixes(p.split_whitespace().map(str::to_owned));
        }
        let mut ops: Vec<u64> = config.list("operators")?;
        if let Some(one) = config.get("operators") {
            for word in one
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|w| !w.is_empty())
            {
                ops.push(
                    word.parse()
                        .map_err(|e| format!("config `operators`: {e} (got {word:?})"))?,
                );
            }
        }
        Ok(self.operators(ops))
    }

    /// Commands without a prefix in private chats too (`roll 6` from a
    /// friend); off by default.
    #[must_use]
    pub fn bare_in_private(mut self, yes: bool) -> Self {
        self.bare_in_private = yes;
        self
    }

    /// No built-in `help` command.
    #[must_use]
    pub fn without_help(mut self) -> Self {
        self.help = false;
        self
    }

    /// Adds a command.
    #[must_use]
    pub fn command(mut self, command: Command<S>) -> Self {
        self.commands.push(command);
        self
    }

    /// The prefix the help shows.
    fn shown_prefix(&self) -> &str {
        self.prefixes
            .iter()
            .min_by_key(|p| p.len())
            .map_or("", String::as_str)
    }

    /// Every command's usage and what it does, one a line, then `help`.
    pub fn help_text(&self) -> String {
        let p = self.shown_prefix();
        let mut out = String::from("Commands:");
        for c in &self.commands {
            out.push_str(&format!(
                "\n{} — {}{}",
                c.usage(p),
                c.about,
                c.permission.note()
            ));
            if !c.aliases.is_empty() {
                let also: Vec<String> = c.aliases.iter().map(|a| format!("{p}{a}")).collect();
                out.push_str(&format!(" (also {})", also.join(", ")));
            }
        }
        if self.help {
            out.push_str(&format!("\n{p}help [command] — this list, or one command"));
        }
        out
    }

    /// One command's help: usage, what it does, aliases, rules.
    fn help_one(&self, c: &Command<S>) -> String {
        let p = self.shown_prefix();
        let mut out = format!("{} — {}", c.usage(p), c.about);
        if !c.aliases.is_empty() {
            let also: Vec<String> = c.aliases.iter().map(|a| format!("{p}{a}")).collect();
            out.push_str(&format!("\nalso: {}", also.join(", ")));
        }
        if c.permission != Permission::Everyone {
            out.push_str(&format!("\n{}", c.permission.refusal()));
        }
        if let Some(cd) = c.cooldown {
            out.push_str(&format!(
                "\nonce every {} s per person",
                cd.as_secs().max(1)
            ));
        }
        out
    }

    /// The command line in `msg`, if it is one: the text after a prefix,
    /// or the body of a message that mentions the account.
    fn line<'m>(&self, msg: &Message, a: &'m Addressed) -> Option<&'m str> {
        let text = a.body.trim();
        if let Some(p) = self.prefixes.iter().find(|p| text.starts_with(p.as_str())) {
            return Some(&text[p.len()..]);
        }
        (a.at_me || (self.bare_in_private && msg.is_friend())).then_some(text)
    }

    fn may(&self, permission: Permission, sender: u64, role: Option<MemberRole>) -> bool {
        if self.operators.contains(&sender) {
            return true;
        }
        match permission {
            Permission::Everyone => true,
            Permission::Admin => matches!(role, Some(MemberRole::Admin | MemberRole::Owner)),
            Permission::Owner => role == Some(MemberRole::Owner),
            Permission::Operator => false,
        }
    }

    /// Answers `msg` when it is one of the commands: runs it with `state`,
    /// or says why not (arguments, permission, cooldown). `None` when it is
    /// no command of these.
    pub fn handle(&mut self, state: &mut S, msg: &Message) -> Option<Decision> {
        let a = msg.addressing();
        let line = self.line(msg, &a)?;
        let (word, rest) = line
            .trim_start()
            .split_once(char::is_whitespace)
            .unwrap_or((line.trim_start(), ""));
        if word.is_empty() {
            return None;
        }
        let p = self.shown_prefix().to_owned();
        let Some(index) = self.commands.iter().position(|c| c.answers_to(word)) else {
            if self.help && word.eq_ignore_ascii_case("help") {
                let asked = rest.trim().trim_start_matches(p.as_str());
                let text = match self
                    .commands
                    .iter()
                    .find(|c| !asked.is_empty() && c.answers_to(asked))
                {
                    Some(c) => self.help_one(c),
                    None => self.help_text(),
                };
                return Some(Decision::reply(text));
            }
            return None;
        };
        let sender = msg.sender_qq().unwrap_or(0);
        let c = &self.commands[index];
        let say = |why: &str| Some(Decision::reply(format!("{p}{}: {why}", c.name)));
        if !self.may(c.permission, sender, a.role) {
            return say(c.permission.refusal());
        }
        // `@name` words are the mentions after the account's own.
        let me = msg.receiver.qq;
        let mut mentions = a.mentions.iter().copied().filter(|&q| Some(q) != me);
        let values = match args::parse(&c.args, rest, &mut mentions) {
            Ok(v) => v,
            Err(e) => return say(&format!("{} — usage: {}", e.0, c.usage(&p))),
        };
        if let Some(cd) = c.cooldown {
            let now = crate::host::now_ms();
            if let Some(&until) = self.until.get(&(index, sender))
                && until > now
            {
                let secs = (until - now).div_ceil(1000);
                return say(&format!("again in {secs} s"));
            }
            if self.until.len() >= COOLDOWNS_KEPT {
                self.until.retain(|_, &mut until| until > now);
            }
            let ms = u64::try_from(cd.as_millis()).unwrap_or(u64::MAX);
            self.until.insert((index, sender), now.saturating_add(ms));
        }
        let c = &mut self.commands[index];
        let call = Call {
            msg,
            addressing: &a,
            command: &c.name,
            values,
        };
        c.run.as_mut().and_then(|run| run(state, &call))
    }
}
