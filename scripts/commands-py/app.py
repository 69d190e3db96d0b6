"""commands-py: chat commands in Python, through the helper
`guest-py/openqq_commands.py` (who a message addresses, and commands with
typed arguments, permissions, cooldowns and a generated help).

  /add <a> <b>               whole numbers
  /roll [sides]  (/r)        a die, once every 10 s per person
  /warn <@member> [reason…]  group admins and the owner only
  /who                       what the gateway says this message addresses
  /help [command]

Config: `prefix` (default `/`), `operators` (QQ numbers passing every check).
"""
from typing import List, Optional, Tuple

from openqq_commands import Call, Commands
from wit_world import WitWorld
from wit_world.imports import host
from wit_world.imports.openqq_bot_types import Decision, Event, Message

commands = Commands()


@commands.command("add", "Add two whole numbers", args="a:int b:int")
def add(call: Call) -> str:
    a, b = call.args["a"], call.args["b"]
    return f"{a} + {b} = {a + b}"


@commands.command("roll", "Roll a die", args="sides:uint?", aliases=["r"], cooldown=10)
def roll(call: Call) -> str:
    sides = max(1, call.args.get("sides", 6))
    return f"🎲 d{sides}: {host.now_ms() % sides + 1}"


@commands.command("warn", "Warn a member", args="member:qq reason:rest?", permission="admin")
def warn(call: Call) -> str:
    return f"⚠️ {call.args['member']} warned: {call.args.get('reason', 'no reason given')}"


@commands.command("who", "What this message addresses", args="anything:rest?")
def who(call: Call) -> str:
    a = call.addressing
    q = a.reply_to
    quoted = "none" if q is None else f"{q.id}/{q.sender if q.sender is not None else '?'}/{q.text if q.text is not None else '?'}"
    mentions = ",".join(str(m) for m in a.mentions)
    return (f"role={a.role or 'none'} mentions=[{mentions}] at_me={str(a.at_me).lower()} "
            f"at_all={str(a.at_all).lower()} reply={quoted}")


class WitWorld(WitWorld):
    def init(self, config: List[Tuple[str, str]]) -> None:
        commands.configure(config)

    def on_message(self, msg: Message) -> Optional[Decision]:
        return commands.handle(msg)

    def on_event(self, event: Event) -> None:
        pass

    def on_timer(self, name: str, payload: str) -> None:
        pass
