"""openqq_commands: who a message addresses, and chat commands, for Python
bots built with componentize-py against `wit/0.2.0` (the Rust SDK's
`openqq_bot::command`, in Python).

`scripts/componentize-py.sh` puts this directory on the bot's path, so a bot
just imports it:

    from openqq_commands import Commands, addressed

    commands = Commands()

    @commands.command("roll", "Roll a die", args="sides:uint?", aliases=["r"], cooldown=10)
    def roll(call):
        sides = call.args.get("sides", 6)
        return f"🎲 {host.now_ms() % sides + 1}"

    # in on_message:  return commands.handle(msg)

A command starts with a prefix (`/` by default; config `prefix`, several
separated by spaces) or with an @-mention of the account. Arguments are
declared as `name:kind`, `?` after an optional one: kinds `int`, `uint`,
`word`, `rest` (the rest of the line, last), `qq` (an @-mention, from the
message's mentions in order, or digits). `permission` is `everyone`,
`admin` (the group's admins and owner), `owner` or `operator` (the QQ
numbers in config `operators`, who pass every check). `cooldown` is seconds
per sender, on the gateway's clock. A handler returns a reply text, a
`Decision`, or None (to pass the message on).

The layer answers by itself with the same words as the Rust SDK: `help`,
a wrong argument (`/add: a must be a whole number, not "x" — usage: /add
<a> <b>`), a refused permission, a cooldown (`/roll: again in 7 s`).
"""
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

from wit_world.imports import addressing, host
from wit_world.imports.openqq_bot_types import ChatKind, Decision, MemberRole, Message

_ROLES = {MemberRole.OWNER: "owner", MemberRole.ADMIN: "admin", MemberRole.MEMBER: "member"}


class Quoted:
    """The message a message replies to: its id; its sender and text when
    the backend carried them (else None)."""

    def __init__(self, q: addressing.Quoted):
        self.id: str = q.id
        self.sender: Optional[int] = q.sender
        self.text: Optional[str] = q.text


class Addressed:
    """Who a message addresses, as plain Python values: `role` is "owner",
    "admin", "member" or None (not a group message); `mentions` the QQ
    numbers mentioned; `at_me` whether the account was (@all is `at_all`);
    `reply_to` a `Quoted` or None; `body` the text without a leading
    mention of the account."""

    def __init__(self, msg: Message):
        a = addressing.of(msg.id)
        if a is None:
            self.role: Optional[str] = None
            self.mentions: List[int] = []
            self.at_me = False
            self.at_all = False
            self.reply_to: Optional[Quoted] = None
            self.body: str = msg.content.rstrip()
        else:
            self.role = _ROLES.get(a.role) if a.role is not None else None
            self.mentions = list(a.mentions)
            self.at_me = a.at_me
            self.at_all = a.at_all
            self.reply_to = Quoted(a.reply_to) if a.reply_to is not None else None
            self.body = a.body


def addressed(msg: Message) -> Addressed:
    """What `msg` addresses (asks the gateway; outside the message being
    handled: nothing, and the body is the text)."""
    return Addressed(msg)


class Arg:
    def __init__(self, spec: str):
        name, _, kind = spec.partition(":")
        self.optional = kind.endswith("?")
        self.kind = (kind.rstrip("?") or "word").strip()
        self.name = name.strip()
        if self.kind not in ("int", "uint", "word", "rest", "qq"):
            raise ValueError(f"argument {spec!r}: unknown kind {self.kind!r}")

    def __str__(self) -> str:
        shown = {"rest": f"{self.name}…", "qq": f"@{self.name}"}.get(self.kind, self.name)
        return f"[{shown}]" if self.optional else f"<{shown}>"


class ArgError(Exception):
    pass


def _parse(args: List[Arg], line: str, mentions: List[int]) -> Dict[str, Union[int, str]]:
    out: Dict[str, Union[int, str]] = {}
    rest = line.strip()
    mentions = list(mentions)
    for arg in args:
        if not rest:
            if arg.optional:
                continue
            raise ArgError(f"missing {arg}")
        if arg.kind == "rest":
            out[arg.name] = rest
            rest = ""
            continue
        parts = rest.split(None, 1)
        word, rest = parts[0], (parts[1] if len(parts) > 1 else "")
        if arg.kind in ("int", "uint"):
            try:
                n = int(word, 10)
            except ValueError:
                n = None
            if n is None or (arg.kind == "uint" and (n < 0 or word.startswith("-"))):
                what = "a whole number" if arg.kind == "int" else "a whole number ≥ 0"
                raise ArgError(f"{arg.name} must be {what}, not \"{word}\"")
            out[arg.name] = n
        elif arg.kind == "qq":
            if word.startswith("@"):
                if not mentions:
                    raise ArgError(f"{arg.name}: nobody mentioned")
                out[arg.name] = mentions.pop(0)
            elif word.isdigit():
                out[arg.name] = int(word)
            else:
                raise ArgError(f"{arg.name} must be an @-mention or a QQ number, not \"{word}\"")
        else:
            out[arg.name] = word
    if rest:
        raise ArgError(f"too many arguments: \"{rest}\"")
    return out


class Call:
    """A command being run: `msg`, `addressing` (an `Addressed`), `command`
    (its declared name), `args` (name → value; left-out optionals absent),
    `sender` (the sender's QQ number, 0 when unknown)."""

    def __init__(self, msg: Message, a: Addressed, command: str, args: Dict[str, Union[int, str]]):
        self.msg = msg
        self.addressing = a
        self.command = command
        self.args = args
        self.sender = msg.sender.qq or 0


Reply = Union[None, str, Decision]

_REFUSALS = {
    "admin": "for group admins and the owner only",
    "owner": "for the group's owner only",
    "operator": "for the bot's operators only",
}
_NOTES = {"admin": " (admins)", "owner": " (owner)", "operator": " (operators)"}


class _Command:
    def __init__(self, name, about, args, aliases, permission, cooldown, run):
        if permission not in ("everyone", "admin", "owner", "operator"):
            raise ValueError(f"command {name}: unknown permission {permission!r}")
        self.name = name
        self.about = about
        self.args = [Arg(s) for s in (args.split() if isinstance(args, str) else args)]
        self.aliases = list(aliases)
        self.permission = permission
        self.cooldown_ms = int(cooldown * 1000)
        self.run = run

    def answers_to(self, word: str) -> bool:
        w = word.lower()
        return self.name.lower() == w or any(a.lower() == w for a in self.aliases)

    def usage(self, prefix: str) -> str:
        return " ".join([prefix + self.name] + [str(a) for a in self.args])


class Commands:
    """A bot's commands, and the rules that pick them out of messages."""

    def __init__(self, prefixes: Sequence[str] = ("/",), operators: Sequence[int] = (), help: bool = True,
                 bare_in_private: bool = False):
        self.prefixes = sorted((p for p in prefixes if p), key=len, reverse=True)
        self.operators = list(operators)
        self.help = help
        self.bare_in_private = bare_in_private
        self._commands: List[_Command] = []
        self._until: Dict[Tuple[str, int], int] = {}

    def configure(self, config: List[Tuple[str, str]]) -> "Commands":
        """Reads `prefix` and `operators` (`operators.0`, … or one string of
        numbers separated by commas or spaces) from `init`'s config."""
        for key, value in config:
            if key == "prefix":
                self.prefixes = sorted(value.split(), key=len, reverse=True)
            elif key == "operators" or (key.startswith("operators.") and key[10:].isdigit()):
                for word in value.replace(",", " ").split():
                    try:
                        self.operators.append(int(word))
                    except ValueError:
                        raise ValueError(f"config `{key}`: not a QQ number (got {word!r})") from None
        return self

    def command(self, name: str, about: str, args: Union[str, Sequence[str]] = "",
                aliases: Sequence[str] = (), permission: str = "everyone",
                cooldown: float = 0) -> Callable[[Callable[[Call], Reply]], Callable[[Call], Reply]]:
        """Declares a command; decorates its handler."""
        def register(run: Callable[[Call], Reply]) -> Callable[[Call], Reply]:
            self._commands.append(_Command(name, about, args, aliases, permission, cooldown, run))
            return run
        return register

    def _prefix(self) -> str:
        return min(self.prefixes, key=len) if self.prefixes else ""

    def help_text(self) -> str:
        p = self._prefix()
        lines = ["Commands:"]
        for c in self._commands:
            line = f"{c.usage(p)} — {c.about}{_NOTES.get(c.permission, '')}"
            if c.aliases:
                line += " (also " + ", ".join(p + a for a in c.aliases) + ")"
            lines.append(line)
        if self.help:
            lines.append(f"{p}help [command] — this list, or one command")
        return "\n".join(lines)

    def _help_one(self, c: _Command) -> str:
        p = self._prefix()
        out = f"{c.usage(p)} — {c.about}"
        if c.aliases:
            out += "\nalso: " + ", ".join(p + a for a in c.aliases)
        if c.permission != "everyone":
            out += "\n" + _REFUSALS[c.permission]
        if c.cooldown_ms:
            out += f"\nonce every {max(1, c.cooldown_ms // 1000)} s per person"
        return out

    def _may(self, permission: str, sender: int, role: Optional[str]) -> bool:
        if sender in self.operators:
            return True
        return {"everyone": True, "admin": role in ("admin", "owner"), "owner": role == "owner"}.get(permission, False)

    def handle(self, msg: Message) -> Optional[Decision]:
        """Answers `msg` when it is one of the commands; None otherwise."""
        a = addressed(msg)
        text = a.body.strip()
        line = None
        for p in self.prefixes:
            if text.startswith(p):
                line = text[len(p):]
                break
        if line is None and (a.at_me or (self.bare_in_private and msg.kind == ChatKind.FRIEND)):
            line = text
        if line is None:
            return None
        parts = line.strip().split(None, 1)
        if not parts:
            return None
        word, rest = parts[0], (parts[1] if len(parts) > 1 else "")
        p = self._prefix()
        c = next((c for c in self._commands if c.answers_to(word)), None)
        if c is None:
            if self.help and word.lower() == "help":
                asked = rest.strip()[len(p):] if rest.strip().startswith(p) else rest.strip()
                one = next((c for c in self._commands if asked and c.answers_to(asked)), None)
                return _decision(self._help_one(one) if one else self.help_text())
            return None
        sender = msg.sender.qq or 0
        if not self._may(c.permission, sender, a.role):
            return _decision(f"{p}{c.name}: {_REFUSALS[c.permission]}")
        me = msg.receiver.qq
        try:
            args = _parse(c.args, rest, [q for q in a.mentions if q != me])
        except ArgError as e:
            return _decision(f"{p}{c.name}: {e} — usage: {c.usage(p)}")
        if c.cooldown_ms:
            now = host.now_ms()
            until = self._until.get((c.name, sender), 0)
            if until > now:
                return _decision(f"{p}{c.name}: again in {-(-(until - now) // 1000)} s")
            if len(self._until) >= 4096:
                self._until = {k: v for k, v in self._until.items() if v > now}
            self._until[(c.name, sender)] = now + c.cooldown_ms
        out = c.run(Call(msg, a, c.name, args))
        return _decision(out) if isinstance(out, str) else out


def _decision(text: str) -> Decision:
    return Decision(reply=text, shutup=None)
